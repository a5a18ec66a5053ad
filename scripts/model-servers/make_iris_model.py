"""Builds the sklearn Iris model that rxml's remote-model tests and examples serve.

The model is scikit-learn's MLPClassifier (4 → 16 relu → 3 softmax) carrying the weights of the
Iris model embedded in @rxml/core (packages/core/models/iris, trained by `pnpm --filter @rxml/core
train:iris`), so a pipeline gives the same predictions embedded and remote. sklearn's estimator is
first fitted briefly on the Iris data (seed/iris.txt, or sklearn's bundled copy) so it has its
classes and layer layout; then its weights are replaced by the tfjs ones.

Writes into OUT:
  iris/model.joblib, iris/model-settings.json   MLServer model (mlserver-sklearn runtime)
  settings.json                                 MLServer server settings (parallel_workers 0)
  expected.json                                 inputs and sklearn's own predict / predict_proba

Usage: python make_iris_model.py OUT REPO_ROOT
"""

import hashlib
import json
import os
import sys
import warnings

import joblib
import numpy as np
from sklearn.neural_network import MLPClassifier

out, repo = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "iris"), exist_ok=True)

# --- the Iris data: the seed's file when present, else sklearn's bundled copy (same 150 rows)
seed_path = os.path.join(repo, "..", "shared", "seed", "iris.txt")
if os.path.exists(seed_path):
    rows = [line.strip().split(",") for line in open(seed_path) if line.strip()]
    X = np.array([[float(v) for v in r[:4]] for r in rows], dtype=np.float64)
    y = np.array([int(r[4]) for r in rows])
    source = "seed/iris.txt"
else:
    from sklearn.datasets import load_iris

    data = load_iris()
    X, y = data.data, data.target
    source = "sklearn.datasets.load_iris"

# --- the embedded model's weights (tfjs layers format: model.json + little-endian float32 weights.bin)
model_dir = os.path.join(repo, "packages", "core", "models", "iris")
manifest = json.load(open(os.path.join(model_dir, "model.json")))["weightsManifest"][0]
raw = open(os.path.join(model_dir, manifest["paths"][0]), "rb").read()
weights, offset = {}, 0
for w in manifest["weights"]:
    n = int(np.prod(w["shape"]))
    weights[w["name"]] = np.frombuffer(raw, dtype="<f4", count=n, offset=offset).reshape(w["shape"]).astype(np.float64)
    offset += 4 * n

clf = MLPClassifier(hidden_layer_sizes=(16,), activation="relu", max_iter=1, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # ConvergenceWarning: one iteration, the weights are replaced below
    clf.fit(X, y)
clf.coefs_ = [weights["hidden/kernel"], weights["species/kernel"]]
clf.intercepts_ = [weights["hidden/bias"], weights["species/bias"]]
assert clf.out_activation_ == "softmax" and list(clf.classes_) == [0, 1, 2]

model_path = os.path.join(out, "iris", "model.joblib")
joblib.dump(clf, model_path)
version = "sha256-" + hashlib.sha256(open(model_path, "rb").read()).hexdigest()[:12]

json.dump(
    {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": version},
        # MLServer lists inputs/outputs in its metadata only when they are declared here.
        "inputs": [{"name": "measurements", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [{"name": "predict_proba", "datatype": "FP64", "shape": [-1, 3]}],
    },
    open(os.path.join(out, "iris", "model-settings.json"), "w"),
    indent=2,
)
# parallel_workers 0: MLServer 1.7.1 with uvloop >= 0.22 kills its inference worker processes
# ("RuntimeError: There is no current event loop"); in-process inference avoids them.
json.dump({"parallel_workers": 0, "debug": False, "metrics_endpoint": None}, open(os.path.join(out, "settings.json"), "w"), indent=2)

seed_inputs = [[5.4, 3.9, 1.7, 0.4], [7.0, 3.2, 4.7, 1.4], [4.6, 3.4, 1.4, 0.3]]
inputs = np.array(seed_inputs + X.tolist(), dtype=np.float32)  # what rxml sends: float32
json.dump(
    {
        "source": source,
        "version": version,
        "inputs": inputs.astype(np.float64).tolist(),
        "predict": clf.predict(inputs).tolist(),
        "predict_proba": clf.predict_proba(inputs).tolist(),
    },
    open(os.path.join(out, "expected.json"), "w"),
)
print(f"iris model {version} from {source}: {len(X)} flowers, train accuracy {clf.score(X, y):.3f}")
