"""Truth for cnn-simple-conv3x3-addper: cnn.py's module-level conv3x3(8) -> MaxPool2x2 -> Softmax(13*13*8, 10)
on one 28x28 image; the loss is forward()'s own -log p[label]; the gradients are what train(im, label, lr)
applies in place (-Δparameter / lr). cnn.py's top level trains on MNIST files: only its imports, defs and
the three layer objects are run."""

import ast

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

seed_everything(0)
ns = load_defs(
    "cnn.py",
    keep=lambda node: (
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id in ("conv", "pool", "soft") for t in node.targets)
    ),
)
conv, soft = ns["conv"], ns["soft"]
rng = np.random.default_rng(1)
image = rng.integers(0, 256, size=(28, 28)).astype(np.float64)  # MNIST pixels 0-255
label = 7

params = [
    ("conv.filters", conv, "filters"),
    ("soft.weights", soft, "weights"),
    ("soft.biases", soft, "biases"),
]
before = [getattr(o, a).copy() for _, o, a in params]
lr = 0.005  # train()'s default
ns["train"](image, label, lr)
grads = [(b - getattr(o, a)) / lr for b, (_, o, a) in zip(before, params)]
for b, (_, o, a) in zip(before, params):
    getattr(o, a)[...] = b  # back to where the step started


def loss() -> float:
    return float(ns["forward"](image, label)[1])


report([Param(n, getattr(o, a), g) for (n, o, a), g in zip(params, grads)], loss)
