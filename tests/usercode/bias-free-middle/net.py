"""
Three-layer classifier, columns are examples (X: (2, m), Y: (1, m)).

    layer 1: W1 @ X + b1 -> softplus
    layer 2: W2 @ A1     -> softplus   (no bias: in the big model a batch-norm layer
                                        follows and makes b2 useless, so I dropped it
                                        here too)
    layer 3: W3 @ A2 + b3 -> sigmoid
"""

import numpy as np


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def softplus(Z):
    return np.log1p(np.exp(Z))


def softplus_derivative(Z):
    # d/dz log(1 + e^z) = e^z / (1 + e^z) = sigmoid(z)
    return 1 / (1 + np.exp(-Z))


def initialize(n_x=2, n_h1=12, n_h2=12, n_y=1, seed=3):
    np.random.seed(seed)
    return {
        "W1": np.random.randn(n_h1, n_x) * np.sqrt(1 / n_x),
        "b1": np.zeros((n_h1, 1)),
        "W2": np.random.randn(n_h2, n_h1) * np.sqrt(1 / n_h1),
        "W3": np.random.randn(n_y, n_h2) * np.sqrt(1 / n_h2),
        "b3": np.zeros((n_y, 1)),
    }


def model_forward(X, parameters):
    Z1 = parameters["W1"] @ X + parameters["b1"]
    A1 = softplus(Z1)
    Z2 = parameters["W2"] @ A1  # layer 2 has no bias
    A2 = softplus(Z2)
    Z3 = parameters["W3"] @ A2 + parameters["b3"]
    A3 = sigmoid(Z3)
    caches = {"X": X, "Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2, "Z3": Z3, "A3": A3}
    return A3, caches


def cross_entropy(A3, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(A3) + (1 - Y) * np.log(1 - A3)) / m)


def model_backward(parameters, caches, Y):
    m = Y.shape[1]

    dZ3 = caches["A3"] - Y  # sigmoid + cross-entropy
    dW3 = dZ3 @ caches["A2"].T / m
    db3 = np.sum(dZ3, axis=1, keepdims=True) / m

    dA2 = parameters["W3"].T @ dZ3
    dZ2 = dA2 * softplus_derivative(caches["Z2"])
    dW2 = dZ2 @ caches["A1"].T / m  # no db2

    dA1 = parameters["W2"].T @ dZ2
    dZ1 = dA1 * softplus_derivative(caches["Z1"])
    dW1 = dZ1 @ caches["X"].T / m
    db1 = np.sum(dZ1, axis=1, keepdims=True) / m

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "dW3": dW3, "db3": db3}


def train(X, Y, learning_rate=0.5, num_epochs=2000):
    parameters = initialize(n_x=X.shape[0])
    for epoch in range(num_epochs):
        A3, caches = model_forward(X, parameters)
        grads = model_backward(parameters, caches, Y)
        for name in parameters:
            parameters[name] -= learning_rate * grads["d" + name]
        if epoch % 200 == 0:
            print(epoch, cross_entropy(A3, Y))
    return parameters
