"""Builds an ONNX graph from a clnet model (clnet_model.Model) with the same
weights, through the onnx helper API. Tensors are NCHW with a free batch
dimension; padding follows clnet's rules, written as explicit ONNX pads."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from clnet_model import window_pads

OPSET = 17
# ONNX Runtime and OpenVINO both read IR version 8 (opset 17).
IR_VERSION = 8


def _tensor_name(i):
    return f"t{i}"


def _activation(nodes, op, src, dst):
    """Appends the node of a fused activation from src to dst."""
    if op == "linear":
        nodes.append(helper.make_node("Identity", [src], [dst]))
    elif op == "relu":
        nodes.append(helper.make_node("Relu", [src], [dst]))
    elif op == "softmax":
        nodes.append(helper.make_node("Softmax", [src], [dst], axis=1))
    elif op == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", [src], [dst]))
    else:
        raise NotImplementedError(f"activation {op}")


def to_onnx(model, name="clnet"):
    """Returns an onnx.ModelProto computing the same outputs as the clnet graph."""
    nodes, inits, inputs = [], [], []
    shapes = {i: n.shape for i, n in enumerate(model.nodes)}

    def weight(layer_index, wname, array):
        key = f"l{layer_index}_{wname}"
        if key not in {t.name for t in inits}:
            inits.append(numpy_helper.from_array(np.ascontiguousarray(array, np.float32), key))
        return key

    for i, node in enumerate(model.nodes):
        out = _tensor_name(i)
        if node.layer is None:
            _, c, h, w = node.shape
            inputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                                        ["N", c, h, w]))
            continue
        layer = model.layers[node.layer]
        cfg, op = layer.config, layer.op
        ins = [_tensor_name(t) for t in node.inputs]
        _, in_c, in_h, in_w = shapes[node.inputs[0]]
        _, out_c, out_h, out_w = node.shape

        if op == "conv2d":
            top, bottom = window_pads(cfg["padding"], in_h, out_h, cfg["kernel_h"],
                                      cfg["stride_h"], cfg["dilation_h"],
                                      (cfg["pad_top"], cfg["pad_bottom"]))
            left, right = window_pads(cfg["padding"], in_w, out_w, cfg["kernel_w"],
                                      cfg["stride_w"], cfg["dilation_w"],
                                      (cfg["pad_left"], cfg["pad_right"]))
            args = [ins[0], weight(node.layer, "kernel", layer.weights["kernel"])]
            if cfg["use_bias"]:
                args.append(weight(node.layer, "bias", layer.weights["bias"]))
            conv_out = out if cfg["activation"] == "linear" else out + "_conv"
            nodes.append(helper.make_node(
                "Conv", args, [conv_out], kernel_shape=[cfg["kernel_h"], cfg["kernel_w"]],
                strides=[cfg["stride_h"], cfg["stride_w"]],
                dilations=[cfg["dilation_h"], cfg["dilation_w"]],
                pads=[top, left, bottom, right]))
            if cfg["activation"] != "linear":
                _activation(nodes, cfg["activation"], conv_out, out)
        elif op == "batchnorm":
            w = layer.weights
            nodes.append(helper.make_node(
                "BatchNormalization",
                [ins[0], weight(node.layer, "gamma", w["gamma"]),
                 weight(node.layer, "beta", w["beta"]),
                 weight(node.layer, "moving_mean", w["moving_mean"]),
                 weight(node.layer, "moving_variance", w["moving_variance"])],
                [out], epsilon=float(cfg["epsilon"])))
        elif op == "activation":
            _activation(nodes, cfg["activation"], ins[0], out)
        elif op == "add":
            nodes.append(helper.make_node("Add" if len(ins) == 2 else "Sum", ins, [out]))
        elif op == "multiply":
            nodes.append(helper.make_node("Mul", ins, [out]))
        elif op == "subtract":
            nodes.append(helper.make_node("Sub", ins, [out]))
        elif op == "concat":
            nodes.append(helper.make_node("Concat", ins, [out], axis=1))
        elif op in ("avgpool", "maxpool"):
            top, bottom = window_pads(cfg["padding"], in_h, out_h, cfg["pool_h"],
                                      cfg["stride_h"], 1, (cfg["pad_top"], cfg["pad_bottom"]))
            left, right = window_pads(cfg["padding"], in_w, out_w, cfg["pool_w"],
                                      cfg["stride_w"], 1, (cfg["pad_left"], cfg["pad_right"]))
            extra = {"count_include_pad": 0} if op == "avgpool" else {}
            nodes.append(helper.make_node(
                "AveragePool" if op == "avgpool" else "MaxPool", ins, [out],
                kernel_shape=[cfg["pool_h"], cfg["pool_w"]],
                strides=[cfg["stride_h"], cfg["stride_w"]],
                pads=[top, left, bottom, right], **extra))
        elif op == "global_avgpool":
            nodes.append(helper.make_node("GlobalAveragePool", ins, [out + "_gap"]))
            nodes.append(helper.make_node("Flatten", [out + "_gap"], [out], axis=1))
        elif op == "flatten":
            nodes.append(helper.make_node("Flatten", ins, [out], axis=1))
        elif op == "dense":
            args = [ins[0], weight(node.layer, "kernel", layer.weights["kernel"])]
            if cfg["use_bias"]:
                args.append(weight(node.layer, "bias", layer.weights["bias"]))
            gemm_out = out if cfg["activation"] == "linear" else out + "_gemm"
            nodes.append(helper.make_node("Gemm", args, [gemm_out], transB=1))
            if cfg["activation"] != "linear":
                _activation(nodes, cfg["activation"], gemm_out, out)
        elif op == "softmax":
            nodes.append(helper.make_node("Softmax", ins, [out], axis=1))
        elif op == "dropout":
            nodes.append(helper.make_node("Identity", ins, [out]))
        elif op == "clip":
            lo = weight(node.layer, "lo", np.array(cfg["lo"], np.float32))
            hi = weight(node.layer, "hi", np.array(cfg["hi"], np.float32))
            nodes.append(helper.make_node("Clip", [ins[0], lo, hi], [out]))
        else:
            raise NotImplementedError(f"layer '{layer.name}': op {op} has no ONNX export here")

    outputs = []
    for k, t in enumerate(model.outputs):
        rank, c, h, w = shapes[t]
        dims = ["N", c] if rank == 1 else ["N", c, h, w]
        name = f"output{k}"
        nodes.append(helper.make_node("Identity", [_tensor_name(t)], [name]))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))

    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="clnet-bench peers")
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    return proto
