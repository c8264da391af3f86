# 4 layer network for the two moons, from scratch.
# Columns are examples: X is (2, m), Y is (1, m).
# Parameters, gradients and the forward cache live in global dicts so that I can
# look at them in the debugger after training (grad["dW4"] etc.)

import numpy as np

np.random.seed(1)

layer_dims = [2, 8, 8, 8, 1]
L = 4  # number of layers (not counting the input)
learning_rate = 0.5
num_iterations = 3000

param = {}
grad = {}
cache = {}


def init_params():
    for l in range(1, L + 1):
        param["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(
            1 / layer_dims[l - 1]
        )
        param["b" + str(l)] = np.zeros((layer_dims[l], 1))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward(X):
    cache["A0"] = X
    A = X
    for l in range(1, L + 1):
        Z = np.dot(param["W" + str(l)], A) + param["b" + str(l)]
        if l == L:
            A = sigmoid(Z)  # output layer
        else:
            A = np.tanh(Z)
        cache["Z" + str(l)] = Z
        cache["A" + str(l)] = A
    return A


def compute_cost(AL, Y):
    m = Y.shape[1]
    return -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m


def backward(Y):
    m = Y.shape[1]
    AL = cache["A" + str(L)]
    dA = -(Y / AL - (1 - Y) / (1 - AL))  # dcost/dAL
    for l in range(L, 0, -1):
        A = cache["A" + str(l)]
        if l == L:
            dZ = dA * A * (1 - A)  # sigmoid'
        else:
            dZ = dA * (1 - A**2)  # tanh'
        grad["dW" + str(l)] = np.dot(dZ, cache["A" + str(l - 1)].T) / m
        grad["db" + str(l)] = np.sum(dZ, axis=1, keepdims=True) / m
        dA = np.dot(param["W" + str(l)].T, dZ)


def make_moons(n, noise=0.1):
    t = np.random.rand(n) * np.pi
    upper = np.random.rand(n) < 0.5
    x1 = np.where(upper, np.cos(t), 1 - np.cos(t))
    x2 = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    X = np.vstack([x1, x2]) + noise * np.random.randn(2, n)
    Y = (~upper).astype(float).reshape(1, n)
    return X, Y


# ---------------- training ----------------
X, Y = make_moons(400)
init_params()

for i in range(num_iterations + 1):
    AL = forward(X)
    backward(Y)
    for l in range(1, L + 1):
        param["W" + str(l)] -= learning_rate * grad["dW" + str(l)]
        param["b" + str(l)] -= learning_rate * grad["db" + str(l)]
    if i % 300 == 0:
        print("iteration", i, "cost", compute_cost(AL, Y))
        print("   |dW4| =", np.abs(grad["dW4"]).mean(), " |dW1| =", np.abs(grad["dW1"]).mean())

predictions = forward(X) > 0.5
print("train accuracy:", np.mean(predictions == Y))
