# Week 2 homework: a two-layer net on the XOR-like quadrants, written top to bottom.
import numpy as np

np.random.seed(42)
X = np.random.randn(200, 2)
y = (X[:, 0] * X[:, 1] > 0).astype(float).reshape(-1, 1)

n_hidden = 8
W1 = np.random.randn(2, n_hidden) * 0.5
b1 = np.zeros((1, n_hidden))
W2 = np.random.randn(n_hidden, 1) * 0.5
b2 = np.zeros((1, 1))
learning_rate = 0.5


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


for epoch in range(2000):
    # forward
    z1 = X @ W1 + b1
    a1 = np.tanh(z1)
    z2 = a1 @ W2 + b2
    a2 = sigmoid(z2)
    loss = -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2))

    # backward
    n = X.shape[0]
    dz2 = a2 - y
    dW2 = a1.T @ dz2 / n
    db2 = np.sum(dz2, axis=0, keepdims=True) / n
    da1 = dz2 @ W2.T
    dz1 = da1 * (1 - a1**2)
    dW1 = X.T @ dz1 / n
    db1 = np.sum(dz1, axis=0, keepdims=True) / n

    # update
    W1 -= learning_rate * dW1
    b1 -= learning_rate * db1
    W2 -= learning_rate * dW2
    b2 -= learning_rate * db2

    if epoch % 200 == 0:
        print(f"epoch {epoch}: loss {loss:.4f}")
