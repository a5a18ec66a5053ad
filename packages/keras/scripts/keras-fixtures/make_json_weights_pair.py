"""Builds the "architecture JSON + weights-only legacy .h5" pair whose layer names differ.

This is how models travel between sessions (and what DL4J's KerasModelImport takes): one session
calls `model.save_weights('x.h5')`, another rebuilds the model and writes `model.to_json()`. Keras
numbers auto-generated layer names per session/process (`time_distributed`, then
`time_distributed_1`, ...), so the JSON's layer names need not match the names in the weights
file, and Keras's `load_weights` of a legacy HDF5 file matches layers by order, not by name.

Here both instances are built in one process, which gives the second one the `_1` names: the
weights come from instance A (`conv1d`, `gru`, `time_distributed`), the JSON from instance B
(`conv1d_1`, `gru_1`, `time_distributed_1`). B then loads A's weights the way Keras does and its
predictions are recorded (and checked to equal A's).

Run with tf.keras 2.x (see README.md, requirements-tf2.txt):
    /work/venvs/tf2/bin/python scripts/keras-fixtures/make_json_weights_pair.py --out test/fixtures/keras
Writes tf2/seq_gru.config.json, tf2/seq_gru.legacy-weights.h5 and tf2/seq_gru.json, and
tf2/plain_gru.h5 (+ plain_gru.json, Keras's predictions): a full model whose first layer with weights is Keras's default GRU
(reset_after=True), which rxml runs through its own layer class; errors about it (e.g. the ONNX
converter refusing recurrent layers) must name `GRU`, the user's class.
"""

import argparse
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402

from make_keras_fixtures import make_samples, reseed_weights, tensor_layer_name  # noqa: E402

SEED = 1600
NAME = "seq_gru"


def build():
    # No explicit layer names: Keras numbers them per process, as in real sessions.
    return keras.Sequential(
        [
            keras.Input(shape=(6, 3)),
            keras.layers.Conv1D(4, 2, padding="same", activation="relu"),
            keras.layers.GRU(5, return_sequences=True),  # reset_after=True, Keras's default
            keras.layers.TimeDistributed(keras.layers.Dense(4, activation="softmax")),
        ],
        name=NAME,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="fixtures/keras directory")
    args = parser.parse_args()
    if int(keras.__version__.split(".")[0]) >= 3:
        raise SystemExit("run with tf.keras 2.x: the legacy weights-only layout is Keras 2's")
    out = os.path.join(args.out, "tf2")
    os.makedirs(out, exist_ok=True)

    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    saved = build()  # session A: its weights are saved
    reseed_weights(saved, rng)
    loader = build()  # session B: its architecture is shared as JSON; the names differ
    names_a = [layer.name for layer in saved.layers]
    names_b = [layer.name for layer in loader.layers]
    assert names_a != names_b, (names_a, names_b)

    weights_path = os.path.join(out, f"{NAME}.legacy-weights.h5")
    saved.save_weights(weights_path, save_format="h5")
    with open(os.path.join(out, f"{NAME}.config.json"), "w") as f:
        f.write(loader.to_json())

    # What Keras does with the pair: a fresh model from the JSON, then load_weights (by order).
    rebuilt = keras.models.model_from_json(loader.to_json())
    rebuilt.load_weights(weights_path)
    samples = make_samples(rebuilt, rng)
    preds = rebuilt.predict(samples[0], verbose=0)
    np.testing.assert_allclose(preds, saved.predict(samples[0], verbose=0), rtol=0, atol=1e-6)

    record = {
        "model": NAME,
        "keras_version": keras.__version__,
        "backend": keras.backend.backend(),
        "weights_file_layers": names_a,
        "config_layers": [layer.name for layer in rebuilt.layers],
        "inputs": [{"name": tensor_layer_name(rebuilt.inputs[0]), "dtype": str(samples[0].dtype), "shape": list(samples[0].shape), "data": samples[0].tolist()}],
        "outputs": [{"name": tensor_layer_name(rebuilt.outputs[0]), "shape": list(preds.shape), "data": np.asarray(preds, np.float32).tolist()}],
    }
    with open(os.path.join(out, f"{NAME}.json"), "w") as f:
        json.dump(record, f)
    keras.utils.set_random_seed(SEED + 1)
    plain = keras.Sequential([keras.Input(shape=(5, 3)), keras.layers.GRU(4), keras.layers.Dense(2)], name="plain_gru")
    reseed_weights(plain, np.random.default_rng(SEED + 1))
    plain.save(os.path.join(out, "plain_gru.h5"), include_optimizer=False)
    plain_samples = make_samples(plain, np.random.default_rng(SEED + 2))
    plain_preds = plain.predict(plain_samples[0], verbose=0)
    with open(os.path.join(out, "plain_gru.json"), "w") as f:
        json.dump(
            {
                "model": "plain_gru",
                "keras_version": keras.__version__,
                "backend": keras.backend.backend(),
                "inputs": [{"name": tensor_layer_name(plain.inputs[0]), "dtype": str(plain_samples[0].dtype), "shape": list(plain_samples[0].shape), "data": plain_samples[0].tolist()}],
                "outputs": [{"name": tensor_layer_name(plain.outputs[0]), "shape": list(plain_preds.shape), "data": np.asarray(plain_preds, np.float32).tolist()}],
            },
            f,
        )

    print(f"tf2/{NAME}: weights from {names_a}, config {record['config_layers']}, outputs {preds.shape}")


if __name__ == "__main__":
    main()
