import numpy as np


class DeepMLP:
    """5-layer MLP, ELU hidden layers, sigmoid output, binary cross-entropy.

    Everything is float32 (half the memory, and what the GPU frameworks use).
    Rows are samples: X is (batch, features), self.W[i] is (fan_in, fan_out).
    """

    def __init__(self, layer_sizes=(2, 32, 32, 16, 8, 1), alpha=1.0, dtype=np.float32, seed=None):
        rng = np.random.default_rng(seed)
        self.alpha = alpha
        self.dtype = dtype
        self.W = []
        self.b = []
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
            self.W.append((rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype))
            self.b.append(np.zeros(n_out, dtype=dtype))

    def _elu(self, z):
        return np.where(z > 0, z, self.alpha * (np.exp(np.minimum(z, 0)) - 1))

    def _elu_grad(self, z):
        return np.where(z > 0, 1.0, self.alpha * np.exp(np.minimum(z, 0))).astype(self.dtype)

    @staticmethod
    def _sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    def forward(self, X):
        a = X.astype(self.dtype)
        self.zs = []
        self.activations = [a]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = a @ W + b
            a = self._sigmoid(z) if i == len(self.W) - 1 else self._elu(z)
            self.zs.append(z)
            self.activations.append(a)
        return a

    def loss(self, y):
        p = np.clip(self.activations[-1], 1e-7, 1 - 1e-7)
        y = y.astype(self.dtype)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    def backward(self, X, y):
        """Gradients of the mean BCE as a list [(dW, db), ...], one pair per layer."""
        m = X.shape[0]
        y = y.astype(self.dtype)
        grads = [None] * len(self.W)
        dz = (self.activations[-1] - y) / m  # sigmoid + BCE
        for i in reversed(range(len(self.W))):
            dW = self.activations[i].T @ dz
            db = dz.sum(axis=0)
            grads[i] = (dW, db)
            if i > 0:
                da = dz @ self.W[i].T
                dz = da * self._elu_grad(self.zs[i - 1])
        return grads

    def sgd_step(self, grads, lr=0.05):
        for i, (dW, db) in enumerate(grads):
            self.W[i] -= lr * dW
            self.b[i] -= lr * db

    def fit(self, X, y, epochs=200, lr=0.05, batch_size=32, verbose=True):
        rng = np.random.default_rng(0)
        for epoch in range(epochs):
            order = rng.permutation(len(X))
            for k in range(0, len(X), batch_size):
                idx = order[k : k + batch_size]
                self.forward(X[idx])
                self.sgd_step(self.backward(X[idx], y[idx]), lr)
            if verbose and epoch % 20 == 0:
                self.forward(X)
                print(epoch, self.loss(y))
        return self
