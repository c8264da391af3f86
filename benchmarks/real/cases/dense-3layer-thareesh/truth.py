"""Truth for dense-3layer-thareesh: initialize_parameters(2, 5, 5, 1), forward_propagation and
backward_propagation (tanh hidden layers, the default) on 4 samples (columns); the loss is the
module's compute_cost of cache["A3"]; the gradients are grads["dW…"], grads["db…"]. sklearn
(imported by planar_utils for the course's extra datasets) is stubbed when it is not installed."""

import sys
import types

import numpy as np
from truthlib import Param, report, seed_everything

try:
    import sklearn.datasets  # noqa: F401
except ImportError:
    for name in ("sklearn", "sklearn.datasets", "sklearn.linear_model"):
        sys.modules[name] = types.ModuleType(name)
import model

seed_everything(0)
rng = np.random.default_rng(4)
X = rng.normal(size=(2, 4))
Y = np.array([[0.0, 1.0, 1.0, 0.0]])
params = model.initialize_parameters(2, 5, 5, 1)
for k in ("b1", "b2", "b3"):  # zeros at init: give the biases values too
    params[k][...] = 0.1 * rng.normal(size=params[k].shape)

cache = model.forward_propagation(X, params)
grads = model.backward_propagation(params, cache, X, Y)


def loss() -> float:
    return float(model.compute_cost(model.forward_propagation(X, params)["A3"], Y))


report(
    [Param(f"{p}{l}", params[f"{p}{l}"], grads[f"d{p}{l}"]) for l in (1, 2, 3) for p in ("W", "b")],
    loss,
)
