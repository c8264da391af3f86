"""Truth for dense-dnn-softmax-shaunzac: initialize_parameters_deep([6, 5, 5, 10]), L_model_forward
and L_model_backward on 4 samples (columns) with one-hot targets; the loss is the module's own
compute_cost (cross-entropy averaged over the batch); the gradients are grads["dW…"], grads["db…"].
h5py (imported at the top of the module for load_data) is stubbed when it is not installed."""

import sys
import types

import numpy as np
from truthlib import Param, report, seed_everything

try:
    import h5py  # noqa: F401
except ImportError:
    sys.modules["h5py"] = types.ModuleType("h5py")
import dnn_app_utils_v3 as u

seed_everything(0)
rng = np.random.default_rng(2)
X = rng.normal(size=(6, 4))
Y = np.eye(10)[[1, 4, 7, 9]].T
params = u.initialize_parameters_deep([6, 5, 5, 10])
for k in ("b1", "b2", "b3"):  # zeros at init: give the biases values too
    params[k][...] = 0.1 * rng.normal(size=params[k].shape)

AL, caches = u.L_model_forward(X, params)
grads = u.L_model_backward(AL, Y, caches)


def loss() -> float:
    return float(u.compute_cost(u.L_model_forward(X, params)[0], Y))


report(
    [Param(f"{p}{l}", params[f"{p}{l}"], grads[f"d{p}{l}"]) for l in (1, 2, 3) for p in ("W", "b")],
    loss,
)
