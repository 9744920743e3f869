#!/usr/bin/env python3
"""Writes the small Keras models of tests/test_import_keras.c into tests/data/keras/.

Each model NAME gets NAME.h5 (saved by Keras), NAME.in<i>.bin with a fixed input for each model
input and NAME.out<i>.bin with the output TensorFlow computes for it: float32 little-endian,
batch 2, in clnet's NCHW layout (TensorFlow's NHWC tensors are transposed). Every weight,
batch-normalization statistics included, is set to random values so that no layer is the
identity. The script also writes malformed and hostile files the importer must reject.

Usage: python3 tools/make_test_keras_models.py   (needs tensorflow, keras, h5py, numpy; the
committed files were made with tensorflow 2.21 and keras 3.15)
"""
import json
import os
import shutil

import h5py
import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
from keras import layers  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "keras")
BATCH = 2
rng = np.random.default_rng(20240607)


def randomize(model, gamma=(0.5, 1.5)):
    """Sets every weight to seeded random values; BN variances stay positive."""
    for layer in model.layers:
        values = []
        for w in layer.weights:
            name = w.path.split("/")[-1].split(":")[0]
            shape = tuple(w.shape)
            if name == "gamma":
                v = rng.uniform(*gamma, shape)
            elif name == "moving_variance":
                v = rng.uniform(0.5, 2.0, shape)
            elif name in ("beta", "moving_mean", "bias"):
                v = rng.uniform(-0.5, 0.5, shape)
            else:
                fan_in = int(np.prod(shape[:-1]))
                v = rng.uniform(-1, 1, shape) * np.sqrt(3.0 / fan_in)
            values.append(v.astype(np.float32))
        if values:
            layer.set_weights(values)


def to_nchw(a):
    a = np.asarray(a, dtype=np.float32)
    return np.transpose(a, (0, 3, 1, 2)) if a.ndim == 4 else a


def write_bin(path, a):
    np.ascontiguousarray(a, dtype="<f4").tofile(path)


def save(model, name, inputs, channels_first=False, reference=None):
    """Saves model as NAME.h5 with its inputs and (reference's, if given) outputs."""
    path = os.path.join(OUT, name + ".h5")
    model.save(path, include_optimizer=False)
    ref = reference or model
    feed = inputs
    if reference is not None and channels_first:
        feed = [np.transpose(x, (0, 2, 3, 1)) for x in inputs]
    outputs = ref.predict(feed if len(feed) > 1 else feed[0], verbose=0)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    for i, x in enumerate(inputs):
        write_bin(os.path.join(OUT, f"{name}.in{i}.bin"), x if channels_first else to_nchw(x))
    for i, y in enumerate(outputs):
        write_bin(os.path.join(OUT, f"{name}.out{i}.bin"), to_nchw(y))
    return path


def functional_shared():
    """Two inputs, two outputs, a shared convolution and a shared BN; stride-2 'same'
    padding (TensorFlow's asymmetric pad) and a Flatten -> Dense over a 2x2x8 map."""
    a = keras.Input((8, 8, 3), name="image_a")
    b = keras.Input((8, 8, 3), name="image_b")
    conv = layers.Conv2D(6, 3, padding="same", activation="relu", name="shared_conv")
    bn = layers.BatchNormalization(name="shared_bn")
    xa, xb = bn(conv(a)), bn(conv(b))
    s = layers.Add(name="sum")([xa, xb])
    c = layers.Concatenate(name="join")([xa, s])
    c = layers.Conv2D(8, 3, strides=2, padding="same", name="conv_s2")(c)
    c = layers.MaxPooling2D(name="pool")(c)
    g = layers.GlobalAveragePooling2D(name="gap")(c)
    out_a = layers.Dense(5, activation="softmax", name="head_a")(g)
    f = layers.Flatten(name="flat")(c)
    out_b = layers.Dense(4, name="head_b")(f)
    model = keras.Model([a, b], [out_a, out_b])
    randomize(model)
    inputs = [rng.uniform(-1, 1, (BATCH, 8, 8, 3)).astype(np.float32) for _ in range(2)]
    return save(model, "functional_shared", inputs)


def sequential():
    """ZeroPadding2D, a non-square strided 'valid' conv, BN, ReLU(max_value=6), a dilated
    sigmoid conv, 'same' average pooling, Dropout, Flatten and two Dense layers."""
    model = keras.Sequential(
        [
            keras.Input((9, 9, 3)),
            layers.ZeroPadding2D(((1, 2), (0, 1))),
            layers.Conv2D(8, (3, 2), strides=(2, 1), padding="valid"),
            layers.BatchNormalization(),
            layers.ReLU(max_value=6.0),
            layers.Conv2D(8, 3, dilation_rate=2, padding="same", activation="sigmoid"),
            layers.AveragePooling2D(pool_size=3, strides=2, padding="same"),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(6, activation="relu"),
            layers.Dense(3, use_bias=False),
        ],
        name="sequential",
    )
    # Large gammas push the BN output past ReLU6's clip on both sides.
    randomize(model, gamma=(3.0, 6.0))
    inputs = [rng.uniform(-1, 1, (BATCH, 9, 9, 3)).astype(np.float32)]
    return save(model, "sequential", inputs)


def every_layer():
    """Multiply, Subtract, BN without center or scale, Activation layers, a Softmax layer on a
    map (one of the outputs), 'valid' and 'same' pooling, Dropout and sigmoid between a
    Flatten and its Dense, a Dense without bias, and an Add of two Dense outputs."""
    x = keras.Input((6, 6, 4), name="x")
    a = layers.Conv2D(4, 1, use_bias=False, name="pointwise")(x)
    b = layers.Conv2D(4, 3, padding="same", activation="sigmoid", name="gate")(x)
    m = layers.Multiply(name="product")([a, b])
    d = layers.Subtract(name="difference")([m, x])
    d = layers.BatchNormalization(center=False, scale=False, epsilon=1e-2, name="bn_plain")(d)
    d = layers.BatchNormalization(scale=False, name="bn_shift")(d)
    d = layers.Activation("relu", name="act_relu")(d)
    d = layers.Activation("linear", name="act_linear")(d)
    v = layers.Conv2D(5, 3, strides=(1, 2), padding="valid", activation="relu", name="cv")(d)
    avg = layers.AveragePooling2D(pool_size=2, name="avg")(v)
    mx = layers.MaxPooling2D(pool_size=2, strides=1, padding="same", name="maxp")(v)
    soft = layers.Softmax(name="channel_softmax")(mx)
    g = layers.GlobalAveragePooling2D(name="gap")(soft)
    f = layers.Flatten(name="flat")(avg)
    f = layers.Dropout(0.5, name="drop")(f)
    f = layers.Activation("sigmoid", name="act_sigmoid")(f)
    d1 = layers.Dense(3, activation="softmax", name="dense_soft")(f)
    d2 = layers.Dense(3, use_bias=False, name="dense_plain")(g)
    out = layers.Add(name="sum")([d1, d2])
    model = keras.Model(x, [out, soft])
    randomize(model)
    inputs = [rng.uniform(-1, 1, (BATCH, 6, 6, 4)).astype(np.float32)]
    return save(model, "every_layer", inputs)


def channels_first():
    """A channels_first model. TensorFlow runs NCHW convolutions only on GPUs, so the expected
    output comes from a channels_last twin with the same weights (a Permute before its
    Flatten gives the channels_first feature order)."""

    def build(cf):
        fmt = "channels_first" if cf else "channels_last"
        x = keras.Input((3, 8, 8) if cf else (8, 8, 3), name="x")
        y = layers.Conv2D(4, 3, padding="same", data_format=fmt, name="c1")(x)
        y = layers.BatchNormalization(axis=1 if cf else -1, name="bn")(y)
        z = layers.Conv2D(2, 1, data_format=fmt, activation="relu", name="c2")(y)
        y = layers.Concatenate(axis=1 if cf else -1, name="join")([y, z])
        y = layers.MaxPooling2D(data_format=fmt, name="pool")(y)
        if not cf:
            y = layers.Permute((3, 1, 2), name="to_nchw")(y)
        y = layers.Flatten(data_format=fmt if cf else "channels_last", name="flat")(y)
        y = layers.Dense(3, name="head")(y)
        return keras.Model(x, y)

    model, twin = build(True), build(False)
    randomize(model)
    for layer in model.layers:
        if layer.weights:
            twin.get_layer(layer.name).set_weights(layer.get_weights())
    inputs = [rng.uniform(-1, 1, (BATCH, 3, 8, 8)).astype(np.float32)]
    return save(model, "channels_first", inputs, channels_first=True, reference=twin)


def keras2_variant(src, dst):
    """Rewrites a Keras 3 file the way Keras 2 (2.2 to 2.12) saved it: inbound nodes as
    [[name, node, tensor, kwargs]] lists, batch_input_shape, class Model, weights named
    '<layer>/<weight>:0' in fixed-length string attributes."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        config["class_name"] = "Model"
        c = config["config"]

        def refs(v, out):
            if isinstance(v, dict):
                if v.get("class_name") == "__keras_tensor__":
                    out.append(list(v["config"]["keras_history"]) + [{}])
                else:
                    refs(v.get("args", []), out)
            elif isinstance(v, list):
                for item in v:
                    refs(item, out)
            return out

        for layer in c["layers"]:
            cfg = layer["config"]
            cfg["dtype"] = "float32"
            if "batch_shape" in cfg:
                cfg["batch_input_shape"] = cfg.pop("batch_shape")
            layer["inbound_nodes"] = [refs(node, []) for node in layer["inbound_nodes"]]
        for key in ("input_layers", "output_layers"):
            if isinstance(c[key][0], str):
                c[key] = [c[key]]
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.2.4"
        weights = f["model_weights"]
        weights.attrs["keras_version"] = "2.2.4"
        names = [n.decode() if isinstance(n, bytes) else n for n in weights.attrs["layer_names"]]
        weights.attrs["layer_names"] = np.array([n.encode() for n in names])
        for layer in names:
            g = weights[layer]
            old = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            for n in old:
                g.move(n, n + ":0")
            if old:
                g.attrs["weight_names"] = np.array([(n + ":0").encode() for n in old])
    return dst


def tiny():
    """The base of the hostile files: conv -> conv -> flatten -> dense."""
    x = keras.Input((4, 4, 2), name="x")
    y = layers.Conv2D(3, 3, padding="same", name="conv")(x)
    y = layers.Conv2D(2, 1, name="conv2")(y)
    y = layers.Flatten(name="flat")(y)
    y = layers.Dense(2, name="dense")(y)
    model = keras.Model(x, y)
    randomize(model)
    inputs = [rng.uniform(-1, 1, (BATCH, 4, 4, 2)).astype(np.float32)]
    return save(model, "tiny", inputs)


def without_weight_names(src, name):
    """A copy of src without the weight_names attributes, its datasets named
    '<layer>/<weight>:0': the importer then finds the weights by their conventional names."""
    dst = os.path.join(OUT, name + ".h5")
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        weights = f["model_weights"]
        for layer in weights:
            g = weights[layer]
            old = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            for n in old:
                g.move(n, n + ":0")
            del g.attrs["weight_names"]
    base = os.path.splitext(src)[0]
    for suffix in ("in0", "out0"):
        shutil.copy(f"{base}.{suffix}.bin", os.path.join(OUT, f"{name}.{suffix}.bin"))


def edit_config(src, name, edit):
    """A file with src's model_config changed by edit and no weights: the importer must
    reject it while reading the configuration, before it looks for weights."""
    dst = os.path.join(OUT, name + ".h5")
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as out:
        for key in ("keras_version", "backend"):
            out.attrs[key] = f.attrs[key]
        out.attrs["model_config"] = edit(json.loads(f.attrs["model_config"]))
    return dst


def layer_of(config, name):
    return next(l for l in config["config"]["layers"] if l["name"] == name)


def hostile_files(base):
    # A file cut in the middle.
    data = open(base, "rb").read()
    with open(os.path.join(OUT, "hostile_truncated.h5"), "wb") as f:
        f.write(data[: len(data) * 6 // 10])

    def unknown_class(c):
        layer_of(c, "conv2")["class_name"] = "LocallyConnected2D"
        return json.dumps(c)

    def cycle(c):
        # conv reads conv2's output, and conv2 reads conv's.
        node = layer_of(c, "conv")["inbound_nodes"][0]
        node["args"][0]["config"]["keras_history"] = ["conv2", 0, 0]
        return json.dumps(c)

    def huge_input(c):
        layer_of(c, "x")["config"]["batch_shape"] = [None, 100000, 100000, 100000]
        return json.dumps(c)

    def unknown_ref(c):
        node = layer_of(c, "conv2")["inbound_nodes"][0]
        node["args"][0]["config"]["keras_history"] = ["nowhere", 0, 0]
        return json.dumps(c)

    def flatten_into_bn(c):
        # Keras flattens (h, w, c); a BN on those features would need its channels reordered.
        layer_of(c, "dense")["class_name"] = "BatchNormalization"
        layer_of(c, "dense")["config"] = {"name": "dense", "axis": -1}
        return json.dumps(c)

    def unknown_activation(c):
        layer_of(c, "conv")["config"]["activation"] = "tanh"
        return json.dumps(c)

    def huge_conv(c):
        layer_of(c, "conv")["config"].update(filters=1000000, kernel_size=[4096, 4096])
        return json.dumps(c)

    edit_config(base, "hostile_flatten_into_bn", flatten_into_bn)
    edit_config(base, "hostile_unknown_activation", unknown_activation)
    edit_config(base, "hostile_huge_conv", huge_conv)
    edit_config(base, "hostile_unknown_class", unknown_class)
    edit_config(base, "hostile_cycle", cycle)
    edit_config(base, "hostile_huge_input", huge_input)
    edit_config(base, "hostile_unknown_ref", unknown_ref)
    edit_config(base, "hostile_bad_json", lambda c: json.dumps(c)[:200])

    dst = os.path.join(OUT, "hostile_missing_weight.h5")
    shutil.copy(base, dst)
    with h5py.File(dst, "r+") as f:
        del f["model_weights/conv/conv/kernel"]

    dst = os.path.join(OUT, "hostile_wrong_shape.h5")
    shutil.copy(base, dst)
    with h5py.File(dst, "r+") as f:
        del f["model_weights/conv/conv/kernel"]
        f["model_weights/conv/conv"].create_dataset("kernel", data=np.zeros((3, 3, 2, 4), "f4"))

    # A Keras 2 weights-only file whose first conv is too narrow for resnet20v1.
    with h5py.File(os.path.join(OUT, "weights_only_mismatch.h5"), "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["layer_names"] = np.array([b"input_1", b"conv2d_1"])
        f.create_group("input_1").attrs["weight_names"] = np.array([], dtype=np.float64)
        g = f.create_group("conv2d_1")
        g.attrs["weight_names"] = np.array([b"conv2d_1/kernel:0", b"conv2d_1/bias:0"])
        g.create_dataset("conv2d_1/kernel:0", data=np.zeros((3, 3, 3, 8), "f4"))
        g.create_dataset("conv2d_1/bias:0", data=np.zeros((8,), "f4"))


def main():
    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(1)
    functional = functional_shared()
    keras2_variant(functional, os.path.join(OUT, "functional_shared_keras2.h5"))
    for suffix in ("in0", "in1", "out0", "out1"):
        shutil.copy(os.path.join(OUT, f"functional_shared.{suffix}.bin"),
                    os.path.join(OUT, f"functional_shared_keras2.{suffix}.bin"))
    sequential()
    every_layer()
    channels_first()
    base = tiny()
    without_weight_names(base, "tiny_no_weight_names")
    hostile_files(base)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, into {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
