"""Truth for dense-planar-rheinchester: the script's functions (loaded without its top-level
training), initialize_parameters_rand(2, 4, 1), forward_propagation and backward_propagation on 4
samples (columns); the loss is the script's compute_cost; the gradients are grads["dW…"],
grads["db…"]. sklearn (imported by the script and helper_codes) is stubbed when not installed."""

import sys
import types

import numpy as np
from truthlib import Param, load_defs, report, seed_everything

try:
    import sklearn.linear_model  # noqa: F401
except ImportError:
    for name in ("sklearn", "sklearn.datasets", "sklearn.linear_model"):
        sys.modules[name] = types.ModuleType(name)
ns = load_defs("single-nn.py")  # imports and defs; the `#%%` cell at the end trains and plots

seed_everything(0)
rng = np.random.default_rng(6)
X = rng.normal(size=(2, 4))
Y = np.array([[1.0, 0.0, 1.0, 0.0]])
params = ns["initialize_parameters_rand"](2, 4, 1)
for k in ("b1", "b2"):  # zeros at init: give the biases values too
    params[k][...] = 0.1 * rng.normal(size=params[k].shape)
params["W2"][...] = rng.normal(
    size=params["W2"].shape
)  # 0.01-scale W2 makes dW1 tiny; any point checks

A2, cache = ns["forward_propagation"](X, params)
grads = ns["backward_propagation"](params, cache, X, Y)


def loss() -> float:
    return float(ns["compute_cost"](ns["forward_propagation"](X, params)[0], Y, params))


report(
    [Param(f"{p}{l}", params[f"{p}{l}"], grads[f"d{p}{l}"]) for l in (1, 2) for p in ("W", "b")],
    loss,
)
