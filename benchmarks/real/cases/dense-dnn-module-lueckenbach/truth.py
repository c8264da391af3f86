"""Truth for dense-dnn-module-lueckenbach: initialize_parameters_deep([2, 5, 3, 1], scale='sqrt'),
L_model_forward and L_model_backward on 4 samples (columns); the loss is the module's compute_cost;
the gradients are grads["dW…"], grads["db…"]. The zero biases get small values so that they are
checked away from zero too."""

import deep_neural_network as dnn
import numpy as np
from truthlib import Param, report, seed_everything

seed_everything(0)
rng = np.random.default_rng(11)
X = rng.normal(size=(2, 4))
Y = np.array([[1.0, 0.0, 1.0, 1.0]])
params = dnn.initialize_parameters_deep([2, 5, 3, 1], scale="sqrt")
for k in ("b1", "b2", "b3"):
    params[k][...] = 0.1 * rng.normal(size=params[k].shape)

AL, caches = dnn.L_model_forward(X, params)
grads = dnn.L_model_backward(AL, Y, caches)


def loss() -> float:
    return float(dnn.compute_cost(dnn.L_model_forward(X, params)[0], Y))


report(
    [Param(f"{p}{l}", params[f"{p}{l}"], grads[f"d{p}{l}"]) for l in (1, 2, 3) for p in ("W", "b")],
    loss,
)
