"""A Keras-like API written from scratch: Dense(units, activation=..., input_dim=...) layers
built inside a Sequential, compile(loss=...), predict(), and a backward(y_pred, y_true) that
leaves each layer's gradients on it. Rows layout: X is (samples, features)."""

import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


ACTIVATIONS = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z, a: 1.0 - a**2),
    "sigmoid": (_sigmoid, lambda z, a: a * (1.0 - a)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}


class Dense:
    def __init__(self, units, activation="linear", input_dim=None):
        self.units = units
        self.activation = activation
        self.input_dim = input_dim
        self.kernel = None
        self.bias = None

    def build(self, input_dim, rng):
        limit = np.sqrt(6.0 / (input_dim + self.units))  # glorot_uniform, as Keras
        self.kernel = rng.uniform(-limit, limit, (input_dim, self.units))
        self.bias = np.zeros(self.units)

    def forward(self, x):
        self.x = x
        self.z = x @ self.kernel + self.bias
        self.a = ACTIVATIONS[self.activation][0](self.z)
        return self.a

    def backward(self, grad):
        dz = grad * ACTIVATIONS[self.activation][1](self.z, self.a)
        self.kernel_grad = self.x.T @ dz
        self.bias_grad = dz.sum(axis=0)
        return dz @ self.kernel.T


class BinaryCrossentropy:
    def __call__(self, y_true, y_pred):
        p = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return float(-np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)))

    def gradient(self, y_true, y_pred):
        p = np.clip(y_pred, 1e-7, 1 - 1e-7)
        return (p - y_true) / (p * (1 - p)) / len(y_true)


class Sequential:
    def __init__(self, layers, seed=0):
        rng = np.random.default_rng(seed)
        self.layers = layers
        width = layers[0].input_dim
        for layer in layers:
            layer.build(width, rng)
            width = layer.units
        self.loss = None

    def compile(self, loss, learning_rate=0.05):
        self.loss = loss
        self.learning_rate = learning_rate

    def predict(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, y_pred, y_true):
        grad = self.loss.gradient(y_true, y_pred)
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def fit(self, x, y, epochs=100):
        for _ in range(epochs):
            self.backward(self.predict(x), y)
            for layer in self.layers:
                layer.kernel -= self.learning_rate * layer.kernel_grad
                layer.bias -= self.learning_rate * layer.bias_grad


def build_model():
    model = Sequential(
        [
            Dense(16, activation="relu", input_dim=2),
            Dense(8, activation="tanh"),
            Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss=BinaryCrossentropy(), learning_rate=0.05)
    return model


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    y = (X[:, :1] * X[:, 1:] > 0).astype(float)
    model = build_model()
    model.fit(X, y, epochs=500)
    print("loss", model.loss(y, model.predict(X)))
