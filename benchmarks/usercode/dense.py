"""A deeplearning.ai-style deep network (week 4): a params dict, samples as columns, caches."""

import numpy as np


def initialize_parameters_deep(layer_dims):
    rng = np.random.default_rng(1)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = rng.standard_normal((layer_dims[l], layer_dims[l - 1])) * 0.5
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L + 1):
        A_prev = A
        Z = parameters["W" + str(l)] @ A_prev + parameters["b" + str(l)]
        A = 1 / (1 + np.exp(-Z)) if l == L else np.tanh(Z)
        caches.append((A_prev, Z, A))
    return A, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m)


def L_model_backward(AL, Y, caches, parameters):
    grads = {}
    L = len(caches)
    m = AL.shape[1]
    dA = -(Y / AL - (1 - Y) / (1 - AL))
    for l in reversed(range(1, L + 1)):
        A_prev, Z, A = caches[l - 1]
        if l == L:
            dZ = dA * A * (1 - A)
        else:
            dZ = dA * (1 - A**2)
        grads["dW" + str(l)] = dZ @ A_prev.T / m
        grads["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True) / m
        dA = parameters["W" + str(l)].T @ dZ
    return grads
