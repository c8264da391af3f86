"""Truth for cnn-coursera-kulbear-step: the notebook's conv_forward on 4 images (5, 5, 3) with
3x3 filters, pad 1, stride 2; the loss ½‖Z‖² is the one the notebook's own check differentiates
(`conv_backward(Z, cache_conv)` passes dL/dZ = Z); the gradients are conv_backward's (dW, db)."""

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

NB = "Convolutional Neural Networks/Convolution model - Step by Step - v1.ipynb"
ns = load_defs(NB)  # imports and defs only: the test cells plot and overwrite globals
seed_everything(0)
rng = np.random.default_rng(1)
A_prev = rng.normal(size=(4, 5, 5, 3))
W = rng.normal(size=(3, 3, 3, 2))
b = rng.normal(size=(1, 1, 1, 2))
hparameters = {"pad": 1, "stride": 2}

Z, cache = ns["conv_forward"](A_prev, W, b, hparameters)
_, dW, db = ns["conv_backward"](Z, cache)


def loss() -> float:
    return 0.5 * float(np.sum(ns["conv_forward"](A_prev, W, b, hparameters)[0] ** 2))


report([Param("W", W, dW), Param("b", b, db)], loss)
