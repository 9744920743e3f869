#!/usr/bin/env python3
"""Writes the small ONNX models that tests/test_import_onnx.c loads, with the outputs
onnxruntime computes for them on a fixed input.

Each model covers one group of features, built node by node with the onnx helper API:
  conv.onnx           Conv: bias or not, symmetric and asymmetric pads, strides, dilations,
                      auto_pad SAME_UPPER / SAME_LOWER / VALID, non-square kernels (opset 11)
  batchnorm.onnx      Conv without bias -> BatchNormalization (epsilon 1e-3) -> Relu, and a
                      BatchNormalization straight on the input (opset 9)
  arith.onnx          Add / Sub / Mul / Div of tensors with per-channel and scalar constants on
                      either side, and of two tensors (opset 13, nodes stored out of order)
  pool.onnx           MaxPool and AveragePool with pads, strides, ceil_mode, auto_pad,
                      GlobalAveragePool -> Flatten, Concat (opset 11)
  gemm_shape.onnx     GlobalAveragePool -> Shape/Gather/Unsqueeze/Concat -> Reshape -> Gemm
                      (transB 1) -> Softmax, symbolic batch (opset 9)
  matmul.onnx         Flatten -> MatMul + Add (bias) -> Relu -> Gemm (transB 0, alpha, beta),
                      Reshape [0, -1], Squeeze, Softmax axis -1 (opset 13)
  reshape_batch1.onnx batch 1 baked in, Reshape to a constant [1, -1] and [-1, F] (opset 7,
                      initializers also listed as graph inputs, typed float_data)
  pad_slice.onnx      Pad (constant, channels too) and Slice with steps and negative starts,
                      identity Transpose, Slice folded on a Shape (opset 13)
  pad_slice_old.onnx  the same with Pad and Slice attributes (opset 9)
  clip_old.onnx       Clip with min/max attributes (ReLU6), Sigmoid (opset 9)
  clip_new.onnx       Clip with min/max inputs, one of them absent (opset 13)
  opset{7,9,11,13,17}.onnx   one small network (Conv, BatchNormalization, Relu, MaxPool,
                      Dropout, Identity, Constant, Unsqueeze/Squeeze, GlobalAveragePool,
                      Reshape, Gemm) written for each opset's attribute-or-input conventions
For each: NAME.input.bin (float32 NCHW, the fixed input) and NAME.expected.bin (float32, the
graph outputs one after the other).

Files clnet must reject, with no outputs: bad_group2 (Conv with group 2), bad_unknown_op (op
Foo), bad_cycle, bad_missing_initializer, bad_raw_length (raw_data of the wrong length),
bad_giant_dims (dimensions whose product overflows), bad_transpose (a real NCHW->NHWC perm),
bad_pad_reflect, bad_avgpool_include_pad.

Usage: python3 tools/make_test_onnx_models.py [OUTPUT_DIR]   (default tests/data/onnx)
Needs: numpy, onnx, onnxruntime (pip install numpy onnx onnxruntime).
"""
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

IR_FOR_OPSET = {7: 3, 9: 4, 10: 5, 11: 6, 13: 7, 17: 8}
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "onnx")
rng = np.random.default_rng(20240611)


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def init(name, array, typed=False):
    array = np.asarray(array)
    if typed:
        dtype = TensorProto.FLOAT if array.dtype == np.float32 else TensorProto.INT64
        return helper.make_tensor(name, dtype, array.shape, array.flatten().tolist(), raw=False)
    return numpy_helper.from_array(array, name)


def conv_weights(prefix, cin, cout, k, bias=True, kw=None):
    kw = kw or k
    inits = [init(prefix + ".w", rand(cout, cin, k, kw, scale=1.0 / np.sqrt(cin * k * kw)))]
    if bias:
        inits.append(init(prefix + ".b", rand(cout, scale=0.1)))
    return inits


def bn_weights(prefix, c):
    return [init(prefix + ".scale", rng.uniform(0.5, 1.5, c).astype(np.float32)),
            init(prefix + ".bias", rand(c, scale=0.1)),
            init(prefix + ".mean", rand(c, scale=0.1)),
            init(prefix + ".var", rng.uniform(0.5, 1.5, c).astype(np.float32))]


def value(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def make_model(nodes, inits, inputs, outputs, opset, name, inits_as_inputs=False):
    graph_inputs = list(inputs)
    if inits_as_inputs or IR_FOR_OPSET[opset] < 4:  # IR 3 lists initializers as inputs
        graph_inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                         for t in inits]
    graph = helper.make_graph(nodes, name, graph_inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="clnet-tests")
    model.ir_version = IR_FOR_OPSET[opset]
    return model


def run(model, x):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def save(name, model, x, check=True, shuffle=False):
    outputs = run(model, x)
    # Declare the output shapes onnxruntime found, keeping a symbolic batch symbolic.
    batch = model.graph.input[0].type.tensor_type.shape.dim[0]
    for info, o in zip(model.graph.output, outputs):
        if not info.type.tensor_type.HasField("shape"):
            dims = [batch.dim_param or batch.dim_value] + list(o.shape[1:])
            info.CopyFrom(value(info.name, dims))
    if check:
        onnx.checker.check_model(model)
    if shuffle:
        # Hostile-order files must still load: store the nodes reversed.
        nodes = list(model.graph.node)[::-1]
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())
    x.astype("<f4").tofile(os.path.join(OUT, name + ".input.bin"))
    np.concatenate([o.astype("<f4").ravel() for o in outputs]).tofile(
        os.path.join(OUT, name + ".expected.bin"))
    print(f"{name}: outputs {[o.shape for o in outputs]}")


def save_bad(name, model):
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())
    print(f"{name}: {len(model.SerializeToString())} bytes")


def conv_model():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv_sym", kernel_shape=[3, 3],
          pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"], name="relu1"),
        n("Conv", ["r1", "c2.w", "c2.b"], ["c2"], name="conv_asym", strides=[2, 2],
          pads=[0, 1, 1, 0]),
        n("Conv", ["r1", "c3.w"], ["c3"], name="conv_same_upper", auto_pad="SAME_UPPER",
          strides=[2, 2]),
        n("Conv", ["r1", "c4.w", "c4.b"], ["c4"], name="conv_same_lower", auto_pad="SAME_LOWER"),
        n("Conv", ["r1", "c5.w", "c5.b"], ["c5"], name="conv_dilated", auto_pad="VALID",
          dilations=[2, 2]),
        n("Conv", ["r1", "c6.w"], ["c6"], name="conv_1x3", strides=[1, 2], pads=[0, 1, 0, 1]),
        n("Conv", ["c2", "c7.w"], ["c7"], name="", dilations=[1, 2], pads=[2, 1, 0, 3]),
    ]
    inits = (conv_weights("c1", 3, 6, 3) + conv_weights("c2", 6, 5, 3)
             + conv_weights("c3", 6, 4, 3, bias=False) + conv_weights("c4", 6, 4, 2)
             + conv_weights("c5", 6, 3, 3) + conv_weights("c6", 6, 4, 1, bias=False, kw=3)
             + conv_weights("c7", 5, 2, 2, bias=False))
    outputs = [value(o, None) for o in ("c1", "c2", "c3", "c4", "c5", "c6", "c7")]
    model = make_model(nodes, inits, [value("x", ["N", 3, 9, 9])], outputs, 11, "conv")
    save("conv", model, rand(2, 3, 9, 9))


def batchnorm_model():
    n = helper.make_node
    nodes = [
        n("BatchNormalization", ["x", "bn0.scale", "bn0.bias", "bn0.mean", "bn0.var"], ["b0"],
          name="bn_input"),
        n("Conv", ["b0", "c1.w"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c1", "bn1.scale", "bn1.bias", "bn1.mean", "bn1.var"], ["b1"],
          name="bn", epsilon=1e-3, momentum=0.9),
        n("Relu", ["b1"], ["y"], name="relu"),
    ]
    inits = (bn_weights("bn0", 3) + conv_weights("c1", 3, 8, 3, bias=False)
             + bn_weights("bn1", 8))
    model = make_model(nodes, inits, [value("x", ["batch", 3, 6, 6])], [value("y", None)], 9,
                       "batchnorm")
    save("batchnorm", model, rand(2, 3, 6, 6))


def arith_model():
    n = helper.make_node
    c = 4
    nodes = [
        n("Conv", ["x", "ca.w", "ca.b"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
        n("Conv", ["x", "cb.w", "cb.b"], ["b"], name="conv_b", pads=[1, 1, 1, 1]),
        n("Add", ["a", "k_c11"], ["add_c"], name="add_per_channel"),
        n("Sub", ["k_scalar", "a"], ["sub_rev"], name="sub_from_scalar"),
        n("Mul", ["a", "k_1c11"], ["mul_c"], name="mul_per_channel"),
        n("Div", ["a", "k_scalar"], ["div_s"], name="div_by_scalar"),
        n("Div", ["a", "k_c11"], ["div_c"], name="div_per_channel"),
        n("Sub", ["a", "k_c11"], ["sub_c"], name="sub_per_channel"),
        n("Mul", ["k_one", "a"], ["mul_rev"], name="mul_scalar_first"),
        n("Add", ["a", "b"], ["add_t"], name="add_tensors"),
        n("Sub", ["a", "b"], ["sub_t"], name="sub_tensors"),
        n("Mul", ["a", "b"], ["mul_t"], name="mul_tensors"),
        # Constants folded before use: a scalar built from two constants.
        n("Constant", [], ["k2"], name="two", value=numpy_helper.from_array(
            np.array(2.0, np.float32))),
        n("Mul", ["k2", "k_scalar"], ["k4"], name="fold_mul"),
        n("Add", ["mul_t", "k4"], ["add_folded"], name="add_folded_scalar"),
    ]
    inits = (conv_weights("ca", 3, c, 3) + conv_weights("cb", 3, c, 3)
             + [init("k_c11", rng.uniform(0.5, 2.0, (c, 1, 1)).astype(np.float32)),
                init("k_1c11", rand(1, c, 1, 1)),
                init("k_scalar", np.array(1.7, np.float32)),
                init("k_one", np.array([0.3], np.float32))])
    outs = ["add_c", "sub_rev", "mul_c", "div_s", "div_c", "sub_c", "mul_rev", "add_t", "sub_t",
            "mul_t", "add_folded"]
    model = make_model(nodes, inits, [value("x", ["N", 3, 5, 5])],
                       [value(o, None) for o in outs], 13, "arith")
    save("arith", model, rand(2, 3, 5, 5), shuffle=True)


def pool_model():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        n("MaxPool", ["c"], ["mp"], name="maxpool_pad", kernel_shape=[3, 3], strides=[2, 2],
          pads=[1, 1, 1, 1]),
        n("MaxPool", ["c"], ["mpc"], name="maxpool_ceil", kernel_shape=[3, 3], strides=[2, 2],
          ceil_mode=1),
        n("AveragePool", ["c"], ["ap"], name="avgpool", kernel_shape=[2, 2], strides=[2, 2]),
        n("AveragePool", ["c"], ["app"], name="avgpool_pad", kernel_shape=[3, 3],
          pads=[1, 0, 1, 2], count_include_pad=0),
        n("AveragePool", ["c"], ["aps"], name="avgpool_same", kernel_shape=[2, 3],
          auto_pad="SAME_UPPER", strides=[2, 2]),
        n("AveragePool", ["c"], ["api"], name="avgpool_include_nopad", kernel_shape=[2, 2],
          count_include_pad=1),
        n("Concat", ["mp", "aps"], ["cat"], name="concat", axis=1),
        n("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
        n("Flatten", ["gap"], ["flat"], name="flatten"),
        n("Concat", ["flat", "flat"], ["flat2"], name="concat_flat", axis=-1),
    ]
    inits = conv_weights("c", 3, 4, 3)
    outs = ["mp", "mpc", "ap", "app", "aps", "api", "cat", "flat2"]
    model = make_model(nodes, inits, [value("x", ["N", 3, 8, 8])],
                       [value(o, None) for o in outs], 11, "pool")
    save("pool", model, rand(2, 3, 8, 8))


def gemm_shape_model():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        n("Relu", ["c"], ["r"], name="relu"),
        n("GlobalAveragePool", ["r"], ["gap"], name="gap"),
        n("Shape", ["gap"], ["shape"], name="shape"),
        n("Constant", [], ["zero"], name="zero", value=numpy_helper.from_array(
            np.array(0, np.int64))),
        n("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        n("Unsqueeze", ["batch"], ["batch1"], name="unsqueeze", axes=[0]),
        n("Concat", ["batch1", "minus_one"], ["target"], name="concat_shape", axis=0),
        n("Reshape", ["gap", "target"], ["flat"], name="reshape"),
        n("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1, alpha=1.0,
          beta=1.0),
        n("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    inits = conv_weights("c", 3, 8, 3) + [init("minus_one", np.array([-1], np.int64)),
                                          init("fc.w", rand(10, 8, scale=0.3)),
                                          init("fc.b", rand(10, scale=0.1))]
    model = make_model(nodes, inits, [value("x", ["N", 3, 6, 6])],
                       [value("logits", None), value("prob", None)], 9, "gemm_shape")
    save("gemm_shape", model, rand(3, 3, 6, 6))


def matmul_model():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv", strides=[2, 2]),
        n("Flatten", ["c"], ["flat"], name="flatten", axis=1),
        n("MatMul", ["flat", "w1"], ["mm"], name="matmul"),
        n("Add", ["mm", "b1"], ["h"], name="bias"),
        n("Relu", ["h"], ["hr"], name="relu"),
        n("Gemm", ["hr", "w2", "b2"], ["logits"], name="gemm", alpha=0.5, beta=2.0),
        n("Softmax", ["logits"], ["prob"], name="softmax"),
        n("GlobalAveragePool", ["c"], ["gap"], name="gap"),
        n("Squeeze", ["gap", "sq_axes"], ["sq"], name="squeeze"),
        n("Reshape", ["c", "shape0"], ["flat0"], name="reshape_zero"),
        n("MatMul", ["sq", "w3"], ["mm3"], name="matmul_nobias"),
    ]
    inits = conv_weights("c", 3, 4, 3) + [
        init("w1", rand(4 * 3 * 3, 12, scale=0.3)), init("b1", rand(12, scale=0.1)),
        init("w2", rand(12, 5, scale=0.3)), init("b2", rand(1, 5, scale=0.1)),
        init("sq_axes", np.array([2, 3], np.int64)), init("shape0", np.array([0, -1], np.int64)),
        init("w3", rand(4, 3))]
    outs = ["logits", "prob", "flat0", "mm3"]
    model = make_model(nodes, inits, [value("x", ["N", 3, 7, 7])],
                       [value(o, None) for o in outs], 13, "matmul")
    save("matmul", model, rand(2, 3, 7, 7))


def reshape_batch1_model():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        n("Relu", ["c"], ["r"], name="relu"),
        n("GlobalAveragePool", ["r"], ["gap"], name="gap"),
        n("Reshape", ["gap", "shape"], ["flat"], name="reshape"),
        n("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
        n("Reshape", ["r", "shape2"], ["flat2"], name="reshape_infer_batch"),
    ]
    inits = [init(t.name, numpy_helper.to_array(t), typed=True)
             for t in conv_weights("c", 3, 6, 3)] + [
        init("shape", np.array([1, -1], np.int64), typed=True),
        init("shape2", np.array([-1, 6 * 5 * 5], np.int64)),
        init("fc.w", rand(10, 6, scale=0.3), typed=True), init("fc.b", rand(10, scale=0.1))]
    model = make_model(nodes, inits, [value("x", [1, 3, 5, 5])],
                       [value("logits", [1, 10]), value("flat2", None)], 7, "reshape_batch1",
                       inits_as_inputs=True)
    save("reshape_batch1", model, rand(1, 3, 5, 5))


def pad_slice_model(opset):
    n = helper.make_node
    nodes = [n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv")]
    if opset >= 11:
        nodes += [n("Pad", ["c", "pads", "pad_value"], ["p"], name="pad", mode="constant")]
    else:
        nodes += [n("Pad", ["c"], ["p"], name="pad", mode="constant",
                    pads=[0, 1, 2, 0, 0, 2, 1, 3], value=0.5)]
    if opset >= 10:
        nodes += [
            n("Slice", ["p", "st", "en", "ax", "steps"], ["s"], name="slice_steps"),
            n("Slice", ["c", "st2", "en2", "ax2"], ["s2"], name="slice_negative"),
            # A Slice on a constant shape is folded.
            n("Shape", ["c"], ["shape"], name="shape"),
            n("Slice", ["shape", "zero1", "one1"], ["batch"], name="slice_shape"),
            n("Concat", ["batch", "minus_one"], ["target"], name="concat", axis=0),
            n("Reshape", ["s", "target"], ["flat"], name="reshape"),
        ]
    else:
        nodes += [
            n("Slice", ["p"], ["s"], name="slice", starts=[1, 0, 1], ends=[6, 100, -1],
              axes=[1, 2, 3]),
            n("Slice", ["c"], ["s2"], name="slice_negative", starts=[0, -3], ends=[2**63 - 1, -1],
              axes=[0, 2]),
            n("Flatten", ["s"], ["flat"], name="flatten"),
        ]
    nodes += [n("Transpose", ["s2"], ["t"], name="transpose", perm=[0, 1, 2, 3])]
    inits = conv_weights("c", 3, 4, 3) + [
        init("pads", np.array([0, 1, 2, 0, 0, 2, 1, 3], np.int64)),
        init("pad_value", np.array(0.5, np.float32)),
        init("st", np.array([1, 0, 1], np.int64)), init("en", np.array([6, 100, -1], np.int64)),
        init("ax", np.array([1, -2, 3], np.int64)), init("steps", np.array([2, 3, 2], np.int64)),
        init("st2", np.array([-3], np.int64)), init("en2", np.array([-1], np.int64)),
        init("ax2", np.array([2], np.int64)),
        init("zero1", np.array([0], np.int64)), init("one1", np.array([1], np.int64)),
        init("minus_one", np.array([-1], np.int64))]
    used = {i for node in nodes for i in node.input}
    inits = [t for t in inits if t.name in used]
    name = "pad_slice" if opset >= 11 else "pad_slice_old"
    model = make_model(nodes, inits, [value("x", ["N", 3, 9, 10])],
                       [value(o, None) for o in ("p", "s", "flat", "t")], opset, name)
    save(name, model, rand(2, 3, 9, 10))


def clip_models():
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv"),
        n("Clip", ["c"], ["relu6"], name="relu6", min=0.0, max=6.0),
        n("Clip", ["c"], ["low"], name="clip_low", min=-0.5),
        n("Sigmoid", ["c"], ["sig"], name="sigmoid"),
    ]
    inits = conv_weights("c", 3, 4, 3)
    inits[0] = init("c.w", numpy_helper.to_array(inits[0]) * 8)
    outs = [value(o, None) for o in ("relu6", "low", "sig")]
    model = make_model(nodes, inits, [value("x", ["N", 3, 6, 6])], outs, 9, "clip_old")
    save("clip_old", model, rand(2, 3, 6, 6))

    nodes = [
        n("Conv", ["x", "c.w", "c.b"], ["c"], name="conv"),
        n("Clip", ["c", "lo", "hi"], ["relu6"], name="relu6"),
        n("Clip", ["c", "", "hi2"], ["high"], name="clip_high"),
    ]
    inits += [init("lo", np.array(0.0, np.float32)), init("hi", np.array(6.0, np.float32)),
              init("hi2", np.array(0.25, np.float32))]
    outs = [value(o, None) for o in ("relu6", "high")]
    model = make_model(nodes, inits, [value("x", ["N", 3, 6, 6])], outs, 13, "clip_new")
    save("clip_new", model, rand(2, 3, 6, 6))


def opset_model(opset):
    """One network, written for each opset's conventions."""
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "c.w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        n("BatchNormalization", ["c", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["b"],
          name="bn", epsilon=1e-5),
        n("Relu", ["b"], ["r"], name="relu"),
        n("MaxPool", ["r"], ["m"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    if opset >= 12:
        nodes += [n("Dropout", ["m", "ratio"], ["d"], name="dropout")]
    else:
        nodes += [n("Dropout", ["m"], ["d", "mask"], name="dropout", ratio=0.25)]
    nodes += [
        n("Identity", ["d"], ["i"], name="identity"),
        n("GlobalAveragePool", ["i"], ["gap"], name="gap"),
        n("Shape", ["gap"], ["shape"], name="shape"),
        n("Constant", [], ["zero"], name="zero", value=numpy_helper.from_array(
            np.array(0, np.int64))),
        n("Gather", ["shape", "zero"], ["batch"], name="gather"),
    ]
    if opset >= 13:
        nodes += [n("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
                  n("Unsqueeze", ["batch1", "axes0"], ["batch2"], name="unsqueeze2"),
                  n("Squeeze", ["batch2", "axes0"], ["batch3"], name="squeeze")]
    else:
        nodes += [n("Unsqueeze", ["batch"], ["batch1"], name="unsqueeze", axes=[0]),
                  n("Unsqueeze", ["batch1"], ["batch2"], name="unsqueeze2", axes=[0]),
                  n("Squeeze", ["batch2"], ["batch3"], name="squeeze", axes=[0])]
    nodes += [
        n("Cast", ["batch3"], ["batch4"], name="cast", to=TensorProto.INT64),
        n("Concat", ["batch4", "minus_one"], ["target"], name="concat", axis=0),
        n("Reshape", ["gap", "target"], ["flat"], name="reshape"),
        n("Gemm", ["flat", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    inits = conv_weights("c", 3, 6, 3, bias=False) + bn_weights("bn", 6) + [
        init("minus_one", np.array([-1], np.int64)),
        init("fc.w", rand(10, 6, scale=0.3)), init("fc.b", rand(10, scale=0.1))]
    if opset >= 12:
        inits += [init("ratio", np.array(0.25, np.float32))]
    if opset >= 13:
        inits += [init("axes0", np.array([0], np.int64))]
    model = make_model(nodes, inits, [value("x", ["N", 3, 8, 8])], [value("y", None)], opset,
                       f"opset{opset}")
    save(f"opset{opset}", model, rand(2, 3, 8, 8))


def bad_models():
    n = helper.make_node
    x = [value("x", ["N", 3, 6, 6])]

    def simple(nodes, inits, name, outputs=("y",), opset=13):
        return make_model(nodes, inits, x, [value(o, None) for o in outputs], opset, name)

    save_bad("bad_group2", simple(
        [n("Conv", ["x", "w"], ["y"], name="grouped", group=3)],
        [init("w", rand(6, 1, 3, 3))], "bad_group2"))
    save_bad("bad_unknown_op", simple(
        [n("Relu", ["x"], ["r"], name="relu"), n("Foo", ["r"], ["y"], name="mystery")], [],
        "bad_unknown_op"))
    save_bad("bad_cycle", simple(
        [n("Add", ["x", "b"], ["a"], name="first"), n("Relu", ["a"], ["b"], name="second"),
         n("Relu", ["a"], ["y"], name="third")], [], "bad_cycle"))
    save_bad("bad_missing_initializer", simple(
        [n("Conv", ["x", "conv.weight"], ["y"], name="conv")], [], "bad_missing_initializer"))
    w = numpy_helper.from_array(rand(4, 3, 3, 3), "w")
    w.raw_data = w.raw_data[:-4]
    save_bad("bad_raw_length", simple([n("Conv", ["x", "w"], ["y"], name="conv")], [w],
                                      "bad_raw_length"))
    giant = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40, 1, 1],
                        raw_data=b"\0" * 16)
    save_bad("bad_giant_dims", simple([n("Conv", ["x", "w"], ["y"], name="conv")], [giant],
                                      "bad_giant_dims"))
    save_bad("bad_transpose", simple(
        [n("Transpose", ["x"], ["y"], name="to_nhwc", perm=[0, 2, 3, 1])], [], "bad_transpose"))
    save_bad("bad_pad_reflect", simple(
        [n("Pad", ["x", "pads"], ["y"], name="reflect", mode="reflect")],
        [init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64))], "bad_pad_reflect"))
    save_bad("bad_avgpool_include_pad", simple(
        [n("AveragePool", ["x"], ["y"], name="avg", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
           count_include_pad=1)], [], "bad_avgpool_include_pad"))


def main():
    os.makedirs(OUT, exist_ok=True)
    conv_model()
    batchnorm_model()
    arith_model()
    pool_model()
    gemm_shape_model()
    matmul_model()
    reshape_batch1_model()
    pad_slice_model(13)
    pad_slice_model(9)
    clip_models()
    for opset in (7, 9, 11, 13, 17):
        opset_model(opset)
    bad_models()


if __name__ == "__main__":
    main()
