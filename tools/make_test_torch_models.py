#!/usr/bin/env python3
"""Writes the small PyTorch state dicts that tests/test_import_torch.c loads, with the logits
PyTorch computes for them on a fixed input.

Two ResNet-8s for CIFAR-10 (16/32/64 channels, one basic block a stage) with random weights and
random batch-norm statistics:
  resnet8a_legacy.th  shortcut option A, legacy (non-zip) torch.save format, saved the way
                      akamaster's checkpoints are: {'best_prec1': ..., 'state_dict': ...} with
                      keys under "module." (nn.DataParallel)
  resnet8b.pth        shortcut option B (1x1 conv and BN, "downsample"), zip format, a bare
                      state dict with "fc" as the head
and input.bin (float32 [2][3][32][32]), resnet8a_logits.bin and resnet8b_logits.bin
(float32 [2][10]).

Usage: python3 tools/make_test_torch_models.py [OUTPUT_DIR]   (default tests/data/torch)
Needs: torch (pip install torch).
"""
import collections
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, option):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.option = option
        self.project = stride != 1 or in_planes != planes
        self.pad = planes // 4
        if self.project and option == "B":
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.project:
            if self.option == "A":
                x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
            else:
                x = self.downsample(x)
        return F.relu(y + x)


class ResNet(nn.Module):
    def __init__(self, depth, option, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for stage, planes in enumerate((16, 32, 64), start=1):
            blocks = []
            for i in range(n):
                stride = 2 if stage > 1 and i == 0 else 1
                blocks.append(BasicBlock(in_planes, planes, stride, option))
                in_planes = planes
            setattr(self, "layer%d" % stage, nn.Sequential(*blocks))
        head = nn.Linear(64, num_classes)
        # akamaster names the head "linear", the option-B family "fc".
        self.head_name = "linear" if option == "A" else "fc"
        setattr(self, self.head_name, head)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return getattr(self, self.head_name)(x)


def randomise_batchnorm(model, gen):
    """Random statistics and affine parameters, so that a loader that skips or swaps any of
    them gives different logits."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) + 0.5
            m.bias.data = torch.randn(c, generator=gen) * 0.1
            m.running_mean.data = torch.randn(c, generator=gen) * 0.1
            m.running_var.data = torch.rand(c, generator=gen) + 0.5
            m.num_batches_tracked.fill_(100)


def write_f32(path, tensor):
    with open(path, "wb") as f:
        f.write(tensor.detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes())


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "torch")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(20240501)
    gen = torch.Generator().manual_seed(7)

    x = torch.randn(2, 3, 32, 32, generator=gen)
    write_f32(os.path.join(out, "input.bin"), x)

    for option in ("A", "B"):
        model = ResNet(8, option)
        randomise_batchnorm(model, gen)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        name = "resnet8" + option.lower()
        write_f32(os.path.join(out, name + "_logits.bin"), logits)

        state = model.state_dict()
        if option == "A":
            prefixed = collections.OrderedDict(("module." + k, v) for k, v in state.items())
            torch.save({"best_prec1": 12.5, "state_dict": prefixed},
                       os.path.join(out, name + "_legacy.th"),
                       _use_new_zipfile_serialization=False)
        else:
            torch.save(state, os.path.join(out, name + ".pth"))
        print("%s: %d tensors, logits[0] = %s" % (name, len(state), logits[0].tolist()))


if __name__ == "__main__":
    main()
