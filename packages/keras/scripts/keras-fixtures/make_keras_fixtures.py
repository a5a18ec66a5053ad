"""Builds the small Keras models rxml's Keras loader is tested against.

Run once per Keras generation (see README.md beside this file): with tf.keras 2.x it writes
legacy HDF5 files into <out>/tf2/, with Keras 3 it writes `.keras` archives (and Keras 3's own
legacy `.h5`) into <out>/keras3/. Each model also gets `<name>.json`: a few input samples and
Keras's own predictions for them, which the TypeScript tests compare against.

Everything is seeded; weights are re-drawn after building so that every parameter (including
BatchNormalization's moving statistics) is non-trivial without training.
"""

import argparse
import json
import os
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402  (after the log-level env var)

KERAS3 = int(keras.__version__.split(".")[0]) >= 3
SEED = 42
N_SAMPLES = 3


@keras.saving.register_keras_serializable(package="rxml_fixtures")
class ScaleLayer(keras.layers.Layer):
    """A user-defined layer: rxml cannot know its maths, so loading must fail, naming it."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def simple_mlp():
    # The seed's DL4J scenario: Dense(64, relu, input 100) -> Dense(10, softmax).
    return keras.Sequential(
        [
            keras.Input(shape=(100,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="simple_mlp",
    )


def small_cnn():
    inp = keras.Input(shape=(12, 12, 3), name="image")
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="valid", activation="relu")(x)
    x = keras.layers.SeparableConv2D(8, 3, padding="same", activation="tanh")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(4, activation="softmax")(x)
    return keras.Model(inp, out, name="small_cnn")


def lstm_text():
    # Token ids in, class probabilities out; 0 is padding.
    return keras.Sequential(
        [
            keras.Input(shape=(10,), dtype="int32"),
            keras.layers.Embedding(50, 8),
            keras.layers.LSTM(12),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="lstm_text",
    )


def two_inputs():
    # Functional, two inputs merged, two named outputs.
    a = keras.Input(shape=(8,), name="numeric")
    b = keras.Input(shape=(4,), name="extra")
    ha = keras.layers.Dense(6, activation="relu")(a)
    hb = keras.layers.Dense(6, activation="elu")(b)
    merged = keras.layers.Concatenate()([ha, hb])
    summed = keras.layers.Add()([ha, hb])
    multiplied = keras.layers.Multiply()([summed, hb])
    x = keras.layers.Concatenate()([merged, multiplied])
    x = keras.layers.Dense(8, activation="sigmoid")(x)
    cls = keras.layers.Dense(3, activation="softmax", name="label")(x)
    reg = keras.layers.Dense(1, name="score")(x)
    return keras.Model([a, b], [cls, reg], name="two_inputs")


def rnn_stack():
    # Bidirectional LSTM, a GRU in the form tfjs runs (reset_after=False), SimpleRNN.
    return keras.Sequential(
        [
            keras.Input(shape=(7, 4)),
            keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True)),
            keras.layers.GRU(6, reset_after=False, return_sequences=True),
            keras.layers.SimpleRNN(4),
            keras.layers.Dense(2, activation="softmax"),
        ],
        name="rnn_stack",
    )


def lstm_masked():
    # mask_zero: padded time steps must be skipped, not fed through the LSTM.
    return keras.Sequential(
        [
            keras.Input(shape=(8,), dtype="int32"),
            keras.layers.Embedding(30, 6, mask_zero=True),
            keras.layers.LSTM(5),
            keras.layers.Dense(3, activation="softmax"),
        ],
        name="lstm_masked",
    )


def gru_reset_after():
    # Keras's default GRU (reset_after=True), which tfjs-layers lacks and rxml adds; also wrapped.
    return keras.Sequential(
        [
            keras.Input(shape=(5, 3)),
            keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True), merge_mode="sum"),
            keras.layers.GRU(4),
            keras.layers.Dense(2),
        ],
        name="gru_reset_after",
    )


def seq_tagger():
    # One label distribution per time step: Conv1D, LSTM sequences, TimeDistributed Dense.
    return keras.Sequential(
        [
            keras.Input(shape=(6, 3)),
            keras.layers.Conv1D(4, 2, padding="same", activation="relu"),
            keras.layers.LSTM(5, return_sequences=True),
            keras.layers.TimeDistributed(keras.layers.Dense(4, activation="softmax")),
        ],
        name="seq_tagger",
    )


def bn_dropout():
    return keras.Sequential(
        [
            keras.Input(shape=(20,)),
            keras.layers.Dense(16),
            keras.layers.BatchNormalization(),
            keras.layers.Activation("relu"),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(8),
            keras.layers.LayerNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(4, activation="softmax"),
        ],
        name="bn_dropout",
    )


def custom_named():
    # Standard layers with user-chosen names, including characters TensorFlow.js rejects in names.
    inp = keras.Input(shape=(6, 5), name="sensor_window")
    x = keras.layers.Conv1D(4, 3, activation="relu", name="feature-extractor")(inp)
    x = keras.layers.GlobalMaxPooling1D(name="pool.max")(x)
    x = keras.layers.Reshape((2, 2), name="Reshape_1")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(2, activation="softmax", name="scores>final")(x)
    return keras.Model(inp, out, name="custom_named")


def custom_layer():
    inp = keras.Input(shape=(3,), name="x")
    x = keras.layers.Dense(3)(inp)
    out = ScaleLayer(3.0, name="times_three")(x)
    return keras.Model(inp, out, name="custom_layer")


MODELS = [
    simple_mlp,
    small_cnn,
    lstm_text,
    two_inputs,
    bn_dropout,
    custom_named,
    custom_layer,
    rnn_stack,
    lstm_masked,
    gru_reset_after,
    seq_tagger,
]


def reseed_weights(model, rng):
    for layer in model.layers:
        new = []
        for w in layer.weights:
            name = w.name.split("/")[-1].split(":")[0]
            shape = tuple(w.shape)
            if "moving_variance" in name:
                v = rng.uniform(0.5, 1.5, shape)
            elif "gamma" in name:
                v = rng.uniform(0.7, 1.3, shape)
            else:
                v = rng.normal(0.0, 0.3, shape)
            new.append(v.astype(np.float32))
        if new:
            layer.set_weights(new)


def make_samples(model, rng):
    samples = []
    for t in model.inputs:
        shape = (N_SAMPLES,) + tuple(int(d) for d in t.shape[1:])
        if "int" in str(t.dtype):
            v = rng.integers(1, 30, shape).astype(np.int32)
            v[:, :3] = 0  # leading padding, as a tokenizer would produce
        else:
            v = rng.normal(0.0, 1.0, shape).astype(np.float32)
        samples.append(v)
    return samples


def tensor_layer_name(t):
    return t._keras_history[0].name


def write_keras21_style(model, path, functional):
    """Writes `model` (simple_mlp) in the layout Keras 2.0-2.2 used, with h5py.

    Keras 2.1 cannot be installed next to Python 3.11, so this assembles its file format by hand:
    bytes attributes, `keras_version` 2.1.6, a Sequential config that is a bare layer list (or a
    functional `Model` with 4-element inbound nodes), `dense_1`-style names and `:0` weight names.
    """
    import h5py

    dense = [l for l in model.layers if l.__class__.__name__ == "Dense"]
    names = [f"dense_{i + 1}" for i in range(len(dense))]

    def dense_config(layer, name, first):
        config = {
            "name": name,
            "trainable": True,
            "units": layer.units,
            "activation": layer.activation.__name__,
            "use_bias": True,
            "kernel_initializer": {
                "class_name": "VarianceScaling",
                "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
            },
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None,
            "bias_regularizer": None,
            "activity_regularizer": None,
            "kernel_constraint": None,
            "bias_constraint": None,
        }
        if first and not functional:
            config["batch_input_shape"] = [None, int(layer.kernel.shape[0])]
            config["dtype"] = "float32"
        return config

    if functional:
        layers = [
            {
                "name": "input_1",
                "class_name": "InputLayer",
                "config": {"batch_input_shape": [None, int(dense[0].kernel.shape[0])], "dtype": "float32", "sparse": False, "name": "input_1"},
                "inbound_nodes": [],
            }
        ]
        previous = "input_1"
        for layer, name in zip(dense, names):
            layers.append(
                {
                    "name": name,
                    "class_name": "Dense",
                    "config": dense_config(layer, name, False),
                    "inbound_nodes": [[[previous, 0, 0, {}]]],
                }
            )
            previous = name
        config = {
            "class_name": "Model",
            "config": {"name": "simple_mlp", "layers": layers, "input_layers": [["input_1", 0, 0]], "output_layers": [[previous, 0, 0]]},
        }
    else:
        config = {
            "class_name": "Sequential",
            "config": [{"class_name": "Dense", "config": dense_config(l, n, i == 0)} for i, (l, n) in enumerate(zip(dense, names))],
        }
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.1.6"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        weights = f.create_group("model_weights")
        weights.attrs["layer_names"] = [n.encode("utf8") for n in names]
        weights.attrs["backend"] = b"tensorflow"
        weights.attrs["keras_version"] = b"2.1.6"
        for layer, name in zip(dense, names):
            group = weights.create_group(name)
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"]
            group.attrs["weight_names"] = [w.encode("utf8") for w in weight_names]
            for w_name, value in zip(weight_names, layer.get_weights()):
                group.create_dataset(w_name, data=value.astype(np.float32))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True, help="fixtures/keras directory")
    args = parser.parse_args()
    flavor = "keras3" if KERAS3 else "tf2"
    out = os.path.join(args.out, flavor)
    os.makedirs(out, exist_ok=True)

    for i, build in enumerate(MODELS):
        keras.utils.set_random_seed(SEED + i)
        rng = np.random.default_rng(SEED + i)
        model = build()
        reseed_weights(model, rng)
        name = model.name
        samples = make_samples(model, rng)
        preds = model.predict(samples if len(samples) > 1 else samples[0], verbose=0)
        if not isinstance(preds, (list, tuple)):
            preds = [preds]

        if KERAS3:
            model.save(os.path.join(out, f"{name}.keras"))
            model.save(os.path.join(out, f"{name}.h5"))  # Keras 3's legacy HDF5 writer
        else:
            model.save(os.path.join(out, f"{name}.h5"), include_optimizer=False)
        if name == "simple_mlp":
            # Weights-only HDF5 plus the architecture as JSON, the other way models are shared.
            model.save_weights(os.path.join(out, f"{name}.weights.h5"))
            if not KERAS3:
                # Keras 2's own weights-only layout (`layer_names` / `weight_names` attributes).
                model.save_weights(os.path.join(out, f"{name}.legacy-weights.h5"), save_format="h5")
                # The oldest layout, Keras 2.0-2.2, same weights (predictions as in simple_mlp.json).
                write_keras21_style(model, os.path.join(out, f"{name}.keras21-sequential.h5"), functional=False)
                write_keras21_style(model, os.path.join(out, f"{name}.keras21-model.h5"), functional=True)
            with open(os.path.join(out, f"{name}.config.json"), "w") as f:
                f.write(model.to_json())

        record = {
            "model": name,
            "keras_version": keras.__version__,
            "backend": keras.backend.backend(),
            "inputs": [
                {"name": tensor_layer_name(t), "dtype": str(s.dtype), "shape": list(s.shape), "data": s.tolist()}
                for t, s in zip(model.inputs, samples)
            ],
            "outputs": [
                {"name": tensor_layer_name(t), "shape": list(p.shape), "data": np.asarray(p, np.float32).tolist()}
                for t, p in zip(model.outputs, preds)
            ],
        }
        with open(os.path.join(out, f"{name}.json"), "w") as f:
            json.dump(record, f)
        print(f"{flavor}/{name}: inputs {[s.shape for s in samples]} outputs {[p.shape for p in preds]}")
    print(f"keras {keras.__version__} python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
