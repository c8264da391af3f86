# A script: it reads its data, builds the net in a module-level dict and trains at import.
# The forward and backward read and write the globals; a regression with a linear output
# and the mean squared error.
import numpy as np

sizes = [3, 12, 1]
net = {}

data = np.loadtxt("houses.csv", delimiter=",")  # not there: nnfix must not run this


def init():
    rng = np.random.default_rng(0)
    for i in range(1, len(sizes)):
        net["w" + str(i)] = rng.standard_normal((sizes[i - 1], sizes[i])) * np.sqrt(
            2 / sizes[i - 1]
        )
        net["b" + str(i)] = np.zeros((1, sizes[i]))


def forward(X):
    net["z1"] = X @ net["w1"] + net["b1"]
    net["a1"] = np.where(net["z1"] > 0, net["z1"], 0.1 * net["z1"])
    net["out"] = net["a1"] @ net["w2"] + net["b2"]
    return net["out"]


def backward(X, Y):
    m = len(X)
    d_out = 2 * (net["out"] - Y) / m
    grads = {"w2": net["a1"].T @ d_out, "b2": d_out.sum(axis=0, keepdims=True)}
    d_a1 = d_out @ net["w2"].T
    d_z1 = d_a1 * np.where(net["z1"] > 0, 1.0, 0.1)
    grads["w1"] = X.T @ d_z1
    grads["b1"] = d_z1.sum(axis=0, keepdims=True)
    return grads


init()
X, Y = data[:, :3], data[:, 3:]
for _ in range(1000):
    forward(X)
    for key, g in backward(X, Y).items():
        net[key] -= 0.01 * g
print("done")
