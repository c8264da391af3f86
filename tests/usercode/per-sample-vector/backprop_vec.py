"""
Backpropagation written straight from the equations, one training example at a time.

    x        : 1-D input vector, shape (n_0,)
    W[l]     : shape (n_l, n_{l-1}) -- row j holds the incoming weights of neuron j
    b[l]     : shape (n_l,)
    z[l] = W[l] a[l-1] + b[l],   a[l] = g(z[l])

Hidden layers use ELU, the output layer a softmax with the cross-entropy loss,
y is the one-hot target vector.  Stochastic gradient descent loops over the samples.
"""

import numpy as np

ALPHA = 1.0  # ELU parameter


def elu(z):
    return np.where(z > 0, z, ALPHA * (np.exp(z) - 1))


def elu_prime(z):
    return np.where(z > 0, 1.0, ALPHA * np.exp(z))


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def init_network(sizes, seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l in range(1, len(sizes)):
        params[f"W{l}"] = rng.normal(
            0.0, np.sqrt(2.0 / sizes[l - 1]), size=(sizes[l], sizes[l - 1])
        )
        params[f"b{l}"] = np.zeros(sizes[l])
    return params


def forward(params, x):
    """Class probabilities for ONE example x."""
    a1 = elu(params["W1"] @ x + params["b1"])
    a2 = elu(params["W2"] @ a1 + params["b2"])
    return softmax(params["W3"] @ a2 + params["b3"])


def backprop(params, x, y):
    """Gradient of the cross-entropy of ONE example (x, y) with respect to every parameter."""
    W1, b1 = params["W1"], params["b1"]
    W2, b2 = params["W2"], params["b2"]
    W3, b3 = params["W3"], params["b3"]

    # forward pass, keeping the intermediate values
    z1 = W1 @ x + b1
    a1 = elu(z1)
    z2 = W2 @ a1 + b2
    a2 = elu(z2)
    z3 = W3 @ a2 + b3
    p = softmax(z3)

    # backward pass
    delta3 = p - y  # dL/dz3 for softmax + cross-entropy
    dW3 = np.outer(delta3, a2)
    db3 = delta3

    delta2 = (W3.T @ delta3) * elu_prime(z2)
    dW2 = np.outer(delta2, a1)
    db2 = delta2

    delta1 = (W2.T @ delta2) * elu_prime(z1)
    dW1 = np.outer(delta1, x)
    db1 = delta1

    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}


def cross_entropy(p, y):
    return -np.sum(y * np.log(p + 1e-12))


def sgd(params, X, Y, epochs=20, lr=0.05, seed=0):
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        total = 0.0
        for i in rng.permutation(len(X)):
            grads = backprop(params, X[i], Y[i])
            for name in params:
                params[name] -= lr * grads["d" + name]
            total += cross_entropy(forward(params, X[i]), Y[i])
        print(f"epoch {epoch + 1}: mean loss {total / len(X):.4f}")
    return params
