# A small MLP in pure numpy (no frameworks!) for the circles dataset.
#
# Shapes: X is (n_samples, n_features), every weight matrix is (fan_in, fan_out)
# so a layer is just  z = x @ w + b.
#
#   input(2) -> relu(16) -> tanh(8) -> sigmoid(1)

import numpy as np


# ---------- activations ----------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


# ---------- params ----------
def init_params(n_in=2, n_h1=16, n_h2=8, n_out=1, seed=42):
    rng = np.random.default_rng(seed)
    params = {
        "w1": rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_h1)),  # He for the relu layer
        "b1": np.zeros((1, n_h1)),
        "w2": rng.normal(0, np.sqrt(1 / n_h1), size=(n_h1, n_h2)),
        "b2": np.zeros((1, n_h2)),
        "w3": rng.normal(0, np.sqrt(1 / n_h2), size=(n_h2, n_out)),
        "b3": np.zeros((1, n_out)),
    }
    return params


# ---------- forward / backward ----------
def forward(params, X):
    z1 = X @ params["w1"] + params["b1"]
    a1 = relu(z1)
    z2 = a1 @ params["w2"] + params["b2"]
    a2 = np.tanh(z2)
    z3 = a2 @ params["w3"] + params["b3"]
    y_hat = sigmoid(z3)
    cache = {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "y_hat": y_hat}
    return y_hat, cache


def bce_loss(y_hat, Y):
    eps = 1e-12
    y_hat = np.clip(y_hat, eps, 1 - eps)
    return -np.mean(Y * np.log(y_hat) + (1 - Y) * np.log(1 - y_hat))


def backward(params, cache, X, Y):
    n = X.shape[0]

    # output layer: sigmoid + binary cross-entropy simplifies to (y_hat - y)
    dz3 = (cache["y_hat"] - Y) / n
    dw3 = cache["a2"].T @ dz3
    db3 = np.sum(dz3, axis=0, keepdims=True)

    # hidden layer 2 (tanh): tanh'(z) = 1 - tanh(z)^2
    da2 = dz3 @ params["w3"].T
    dz2 = da2 * (1 - cache["a2"] ** 2)
    dw2 = cache["a1"].T @ dz2
    db2 = np.sum(dz2, axis=0, keepdims=True)

    # hidden layer 1 (relu): derivative is 1 where z > 0
    da1 = dz2 @ params["w2"].T
    dz1 = da1 * (cache["z1"] > 0)
    dw1 = X.T @ dz1
    db1 = np.sum(dz1, axis=0, keepdims=True)

    return {"dw1": dw1, "db1": db1, "dw2": dw2, "db2": db2, "dw3": dw3, "db3": db3}


def predict(params, X):
    y_hat, _ = forward(params, X)
    return (y_hat > 0.5).astype(int)


def train(X, Y, epochs=2000, lr=0.5, verbose=True):
    params = init_params(n_in=X.shape[1])
    history = []
    for epoch in range(epochs):
        y_hat, cache = forward(params, X)
        loss = bce_loss(y_hat, Y)
        grads = backward(params, cache, X, Y)
        for key in params:
            params[key] -= lr * grads["d" + key]
        history.append(loss)
        if verbose and epoch % 200 == 0:
            acc = np.mean(predict(params, X) == Y)
            print(f"epoch {epoch:4d}  loss {loss:.4f}  acc {acc:.3f}")
    return params, history
