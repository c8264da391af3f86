"""Truth for cnn-andreoni-maxpool-return: one 8x8 image through ConvolutionLayer(4, 3) ->
MaxPoolingLayer(2) -> SoftmaxLayer(36, 10); the loss is CNN_forward's own -log p[label]; the
gradients are what CNN_training applies in place (-Δparameter / alpha)."""

import numpy as np
from truthlib import Param, report, seed_everything
from utils import CNN_forward, CNN_training, ConvolutionLayer, MaxPoolingLayer, SoftmaxLayer

seed_everything(0)
layers = [ConvolutionLayer(4, 3), MaxPoolingLayer(2), SoftmaxLayer(3 * 3 * 4, 10)]
rng = np.random.default_rng(1)
image = rng.integers(0, 256, size=(8, 8)).astype(np.float64)  # pixels 0-255, as MNIST
label = 3
params = [
    ("layers[0].kernels", layers[0], "kernels"),
    ("layers[2].weight", layers[2], "weight"),
    ("layers[2].bias", layers[2], "bias"),
]
before = [getattr(obj, attr).copy() for _, obj, attr in params]
alpha = 0.05  # CNN_training's default step size
CNN_training(image, label, layers, alpha)
grads = [(b - getattr(obj, attr)) / alpha for b, (_, obj, attr) in zip(before, params)]
for b, (_, obj, attr) in zip(before, params):
    getattr(obj, attr)[...] = b  # back to where the step started


def loss() -> float:
    return float(CNN_forward(image, label, layers)[1])


report([Param(name, getattr(obj, attr), g) for (name, obj, attr), g in zip(params, grads)], loss)
