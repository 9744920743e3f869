"""Reads clnet model files (docs/model-format.md) into plain Python objects.

Only what the peer comparison needs: layers with their configuration and
weights (as NumPy arrays), nodes with their inputs and output shapes, and the
graph outputs. The envelope (magic, version, length, CRC-32) is checked before
anything else is read.
"""

import struct
import zlib
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

MAGIC = b"CLNETMDL"
VERSION = 1
INPUT_NODE = 0xFFFFFFFF

# Op codes of the file and the layout of each op's configuration.
OPS = {
    1: ("conv2d", "<15i"),
    2: ("batchnorm", "<f"),
    3: ("activation", "<I"),
    4: ("add", ""),
    5: ("concat", ""),
    6: ("avgpool", "<9i"),
    7: ("maxpool", "<9i"),
    8: ("global_avgpool", ""),
    9: ("flatten", ""),
    10: ("dense", "<4i"),
    11: ("softmax", ""),
    12: ("dropout", "<f"),
    13: ("pad", "<6if"),
    14: ("slice", "<9i"),
    15: ("multiply", ""),
    16: ("subtract", ""),
    17: ("channel_affine", ""),
    18: ("clip", "<2f"),
}
ACTIVATIONS = ["linear", "relu", "softmax", "sigmoid"]
PADDINGS = ["same", "valid", "explicit"]


@dataclass
class Layer:
    op: str
    name: str
    config: dict
    weights: dict = field(default_factory=dict)  # name -> float32 array


@dataclass
class Node:
    layer: Optional[int]  # None for a graph input
    name: str
    inputs: list
    shape: tuple  # (rank, c, h, w) as the writer inferred it


@dataclass
class Model:
    layers: list
    nodes: list
    outputs: list

    @property
    def inputs(self):
        """Tensor ids of the graph inputs, in order."""
        return [i for i, n in enumerate(self.nodes) if n.layer is None]


def _config(op, values):
    if op == "conv2d":
        keys = ("filters", "kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h",
                "dilation_w", "padding", "pad_top", "pad_bottom", "pad_left", "pad_right",
                "use_bias", "activation", "initializer")
        c = dict(zip(keys, values))
        c["padding"] = PADDINGS[c["padding"]]
        c["activation"] = ACTIVATIONS[c["activation"]]
        return c
    if op in ("avgpool", "maxpool"):
        keys = ("pool_h", "pool_w", "stride_h", "stride_w", "padding", "pad_top", "pad_bottom",
                "pad_left", "pad_right")
        c = dict(zip(keys, values))
        c["padding"] = PADDINGS[c["padding"]]
        return c
    if op == "dense":
        c = dict(zip(("units", "use_bias", "activation", "initializer"), values))
        c["activation"] = ACTIVATIONS[c["activation"]]
        return c
    if op == "batchnorm":
        return {"epsilon": values[0]}
    if op == "activation":
        return {"activation": ACTIVATIONS[values[0]]}
    if op == "dropout":
        return {"rate": values[0]}
    if op == "clip":
        return {"lo": values[0], "hi": values[1]}
    if op == "pad":
        keys = ("top", "bottom", "left", "right", "channels_before", "channels_after", "value")
        return dict(zip(keys, values))
    if op == "slice":
        return {"begin": values[0:3], "end": values[3:6], "step": values[6:9]}
    return {}


def read_model(path):
    """Reads a clnet model file; raises ValueError if it is not a valid one."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 28 or data[:8] != MAGIC:
        raise ValueError(f"{path}: not a clnet model file")
    version, flags, length = struct.unpack_from("<IIQ", data, 8)
    if version != VERSION or flags != 0:
        raise ValueError(f"{path}: version {version} with flags {flags:#x}; this reader knows "
                         f"version {VERSION} without flags")
    if length != len(data):
        raise ValueError(f"{path}: header says {length} bytes, the file has {len(data)}")
    (crc,) = struct.unpack_from("<I", data, length - 4)
    if crc != zlib.crc32(data[:-4]):
        raise ValueError(f"{path}: checksum mismatch")

    pos = 24

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("<I")
        pos += n
        return data[pos - n:pos].decode("utf-8")

    layers = []
    for _ in range(take("<I")[0]):
        (code,) = take("<I")
        if code not in OPS:
            raise ValueError(f"{path}: unknown op code {code}")
        op, fmt = OPS[code]
        name = string()
        (config_bytes,) = take("<I")
        if config_bytes != (struct.calcsize(fmt) if fmt else 0):
            raise ValueError(f"{path}: layer '{name}' ({op}) has {config_bytes} bytes of "
                             f"configuration")
        config = _config(op, take(fmt) if fmt else ())
        weights = {}
        for _ in range(take("<I")[0]):
            wname = string()
            (rank,) = take("<I")
            dims = take(f"<{rank}I")
            count = int(np.prod(dims))
            weights[wname] = np.frombuffer(data, "<f4", count, pos).reshape(dims).copy()
            pos += 4 * count
        layers.append(Layer(op, name, config, weights))

    nodes = []
    for _ in range(take("<I")[0]):
        (layer,) = take("<I")
        name = string()
        (n_inputs,) = take("<I")
        inputs = list(take(f"<{n_inputs}I"))
        shape = take("<4I")
        nodes.append(Node(None if layer == INPUT_NODE else layer, name, inputs, shape))

    (n_outputs,) = take("<I")
    outputs = list(take(f"<{n_outputs}I"))
    if pos != length - 4:
        raise ValueError(f"{path}: {length - 4 - pos} unexpected bytes after the output list")
    return Model(layers, nodes, outputs)


def window_pads(padding, size_in, size_out, kernel, stride, dilation, explicit):
    """Leading and trailing padding along one axis, by clnet's rules: 'same' is
    TensorFlow's (the extra pixel after), 'valid' none, 'explicit' as given."""
    if padding == "valid":
        return 0, 0
    if padding == "explicit":
        return explicit
    k_eff = (kernel - 1) * dilation + 1
    total = max((size_out - 1) * stride + k_eff - size_in, 0)
    return total // 2, total - total // 2
