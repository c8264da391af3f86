# digits-style classifier: 16 inputs, 32 tanh hidden units, 10 sigmoid outputs
import numpy as np

np.random.seed(0)
n_samples = 200
X = np.random.randn(n_samples, 16)
labels = np.argmax(X[:, :10] + 0.1 * np.random.randn(n_samples, 10), axis=1)
Y = np.eye(10)[labels]

param = {}
param["w1"] = np.random.randn(16, 32) * 0.1
param["b1"] = np.zeros((1, 32))
param["w2"] = np.random.randn(32, 10) * 0.1
param["b2"] = np.zeros((1, 10))
cache = {}
grad = {}
lr = 0.5

for epoch in range(1000):
    m = X.shape[0]
    cache["z1"] = X.dot(param["w1"]) + param["b1"]
    cache["a1"] = np.tanh(cache["z1"])
    cache["z2"] = cache["a1"].dot(param["w2"]) + param["b2"]
    cache["a2"] = 1 / (1 + np.exp(-cache["z2"]))
    loss = np.sum((cache["a2"] - Y) ** 2) / (2 * m)

    dz2 = (cache["a2"] - Y) * cache["a2"] * (1 - cache["a2"]) / m
    grad["w2"] = cache["a1"].T.dot(dz2)
    grad["b2"] = np.sum(dz2, axis=0, keepdims=True)
    da1 = dz2.dot(param["w2"].T)
    dz1 = da1 * (1 - np.tanh(cache["a1"]) ** 2)
    grad["w1"] = X.T.dot(dz1)
    grad["b1"] = np.sum(dz1, axis=0, keepdims=True)

    for k in param:
        param[k] -= lr * grad[k]
    if epoch % 100 == 0:
        print(epoch, loss)
