#!/usr/bin/python3
"""Writes the PyTorch fixtures of serving/formats/onnx: small models
exported by torch.onnx.export (torch 1.13, Debian's python3-torch), with
inputs and the outputs torch itself computes for them.

Run from this directory: /usr/bin/python3 make_torch.py

Each model NAME gets NAME.onnx and NAME.json: {"rows": [features...],
"outputs": [torch's outputs for that row, flattened]}. A row's features
fill the graph inputs in order, each row-major, as the engine reads them.
"""
import json

import numpy as np
import torch
from torch import nn

torch.manual_seed(7)
np.random.seed(7)
ROWS = 16


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 3), nn.Softmax(dim=1))

    def forward(self, x):
        return self.net(x)


class CNN(nn.Module):
    """Conv, batch norm, ReLU, max and average pooling on 1x12x12 images."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.bn2 = nn.BatchNorm2d(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = torch.relu(self.bn2(self.conv2(x)))
        x = self.gap(x).flatten(1)
        return self.fc(x)


class GRU(nn.Module):
    """A GRU over 6 steps of 3 features; the last hidden state scored."""

    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 8, batch_first=True)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        _, h = self.gru(x)
        return self.out(h[-1])


class Encoder(nn.Module):
    """One transformer encoder layer over 5 tokens of width 8, mean-pooled."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(self.layer(x).mean(dim=1))


class TwoInputs(nn.Module):
    """Named inputs: 'dense' float features, and 'token' an int64 id that
    an embedding looks up."""

    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(7, 4)
        self.fc = nn.Linear(3 + 4, 2)

    def forward(self, dense, token):
        e = self.emb(token).squeeze(1)
        return self.fc(torch.cat([dense, e], dim=1))


def export(name, model, example, input_names, dynamic=True):
    model.eval()
    # Move batch-norm statistics off their defaults, so they matter.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    axes = {n: {0: "batch"} for n in input_names}
    axes["out"] = {0: "batch"}
    torch.onnx.export(model, example, name + ".onnx", input_names=input_names, output_names=["out"],
                      dynamic_axes=axes if dynamic else None, opset_version=13)
    with torch.no_grad():
        want = model(*example)
    rows = []
    for r in range(ROWS):
        feats = []
        for t in example:
            feats += [float(v) for v in t[r].reshape(-1).tolist()]
        rows.append(feats)
    outs = [[float(v) for v in want[r].reshape(-1).tolist()] for r in range(ROWS)]
    with open(name + ".json", "w") as f:
        json.dump({"rows": rows, "outputs": outs}, f)


export("torch_mlp", MLP(), (torch.randn(ROWS, 10),), ["x"])
export("torch_cnn", CNN(), (torch.randn(ROWS, 1, 12, 12),), ["image"])
export("torch_gru", GRU(), (torch.randn(ROWS, 6, 3),), ["steps"])
export("torch_encoder", Encoder(), (torch.randn(ROWS, 5, 8),), ["tokens"])
export("torch_two_inputs", TwoInputs(), (torch.randn(ROWS, 3), torch.randint(0, 7, (ROWS, 1))), ["dense", "token"])
