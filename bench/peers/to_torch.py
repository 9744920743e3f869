"""The same network as a PyTorch module: the clnet graph's nodes run in order
with torch operators and the same weights (eval mode, no autograd)."""

import torch
import torch.nn.functional as F

from clnet_model import window_pads


def _activate(x, op):
    if op == "linear":
        return x
    if op == "relu":
        return F.relu(x)
    if op == "softmax":
        return F.softmax(x, dim=1)
    if op == "sigmoid":
        return torch.sigmoid(x)
    raise NotImplementedError(f"activation {op}")


class ClnetTorch(torch.nn.Module):
    """Runs a clnet_model.Model; forward takes one tensor per graph input."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.mods = torch.nn.ModuleDict()
        self.steps = []  # (node index, op, layer index, extra) in execution order
        shapes = {i: n.shape for i, n in enumerate(model.nodes)}
        for i, node in enumerate(model.nodes):
            if node.layer is None:
                continue
            layer = model.layers[node.layer]
            cfg, key = layer.config, str(node.layer)
            _, in_c, in_h, in_w = shapes[node.inputs[0]]
            _, out_c, out_h, out_w = node.shape
            extra = None
            if layer.op == "conv2d":
                if key not in self.mods:
                    conv = torch.nn.Conv2d(
                        in_c, cfg["filters"], (cfg["kernel_h"], cfg["kernel_w"]),
                        stride=(cfg["stride_h"], cfg["stride_w"]), padding=0,
                        dilation=(cfg["dilation_h"], cfg["dilation_w"]),
                        bias=bool(cfg["use_bias"]))
                    conv.weight.data = torch.from_numpy(layer.weights["kernel"])
                    if cfg["use_bias"]:
                        conv.bias.data = torch.from_numpy(layer.weights["bias"])
                    self.mods[key] = conv
                top, bottom = window_pads(cfg["padding"], in_h, out_h, cfg["kernel_h"],
                                          cfg["stride_h"], cfg["dilation_h"],
                                          (cfg["pad_top"], cfg["pad_bottom"]))
                left, right = window_pads(cfg["padding"], in_w, out_w, cfg["kernel_w"],
                                          cfg["stride_w"], cfg["dilation_w"],
                                          (cfg["pad_left"], cfg["pad_right"]))
                # Symmetric padding goes to the convolution; TensorFlow's
                # asymmetric 'same' padding is an explicit pad first.
                if top == bottom and left == right:
                    extra = ((top, left), None)
                else:
                    extra = ((0, 0), (left, right, top, bottom))
            elif layer.op == "batchnorm" and key not in self.mods:
                bn = torch.nn.BatchNorm2d(in_c, eps=cfg["epsilon"])
                w = layer.weights
                bn.weight.data = torch.from_numpy(w["gamma"])
                bn.bias.data = torch.from_numpy(w["beta"])
                bn.running_mean.data = torch.from_numpy(w["moving_mean"])
                bn.running_var.data = torch.from_numpy(w["moving_variance"])
                self.mods[key] = bn
            elif layer.op == "dense" and key not in self.mods:
                lin = torch.nn.Linear(in_c, cfg["units"], bias=bool(cfg["use_bias"]))
                lin.weight.data = torch.from_numpy(layer.weights["kernel"])
                if cfg["use_bias"]:
                    lin.bias.data = torch.from_numpy(layer.weights["bias"])
                self.mods[key] = lin
            elif layer.op in ("avgpool", "maxpool"):
                top, bottom = window_pads(cfg["padding"], in_h, out_h, cfg["pool_h"],
                                          cfg["stride_h"], 1, (cfg["pad_top"], cfg["pad_bottom"]))
                left, right = window_pads(cfg["padding"], in_w, out_w, cfg["pool_w"],
                                          cfg["stride_w"], 1, (cfg["pad_left"], cfg["pad_right"]))
                if (top, left) != (bottom, right) and layer.op == "avgpool":
                    raise NotImplementedError(
                        f"layer '{layer.name}': asymmetric average-pool padding")
                extra = (top, bottom, left, right)
            elif layer.op not in ("batchnorm", "dense", "activation", "add", "concat",
                                  "global_avgpool", "flatten", "softmax", "dropout",
                                  "multiply", "subtract", "clip"):
                raise NotImplementedError(f"layer '{layer.name}': op {layer.op}")
            self.steps.append((i, layer.op, node.layer, extra))
        self.eval()

    def forward(self, *inputs):
        model = self.model
        t = {}
        for k, tid in enumerate(model.inputs):
            t[tid] = inputs[k]
        for i, op, li, extra in self.steps:
            node = model.nodes[i]
            cfg = model.layers[li].config
            x = [t[j] for j in node.inputs]
            if op == "conv2d":
                conv = self.mods[str(li)]
                padding, pad = extra
                y = x[0] if pad is None else F.pad(x[0], pad)
                y = F.conv2d(y, conv.weight, conv.bias, conv.stride, padding, conv.dilation)
                y = _activate(y, cfg["activation"])
            elif op == "batchnorm":
                y = self.mods[str(li)](x[0])
            elif op == "activation":
                y = _activate(x[0], cfg["activation"])
            elif op == "add":
                y = x[0]
                for z in x[1:]:
                    y = y + z
            elif op == "multiply":
                y = x[0]
                for z in x[1:]:
                    y = y * z
            elif op == "subtract":
                y = x[0] - x[1]
            elif op == "concat":
                y = torch.cat(x, dim=1)
            elif op == "avgpool":
                top, bottom, left, right = extra
                y = F.avg_pool2d(x[0], (cfg["pool_h"], cfg["pool_w"]),
                                 (cfg["stride_h"], cfg["stride_w"]), padding=(top, left),
                                 count_include_pad=False)
            elif op == "maxpool":
                top, bottom, left, right = extra
                y = x[0]
                if extra != (0, 0, 0, 0):
                    y = F.pad(y, (left, right, top, bottom), value=float("-inf"))
                y = F.max_pool2d(y, (cfg["pool_h"], cfg["pool_w"]),
                                 (cfg["stride_h"], cfg["stride_w"]))
            elif op == "global_avgpool":
                y = x[0].mean(dim=(2, 3))
            elif op == "flatten":
                y = torch.flatten(x[0], 1)
            elif op == "dense":
                y = _activate(self.mods[str(li)](x[0]), cfg["activation"])
            elif op == "softmax":
                y = F.softmax(x[0], dim=1)
            elif op == "dropout":
                y = x[0]
            elif op == "clip":
                y = torch.clamp(x[0], cfg["lo"], cfg["hi"])
            t[i] = y
        outs = [t[o] for o in model.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)
