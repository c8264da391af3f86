import numpy as np


class Layer:
    def __init__(self, n_out, n_in):
        self.W = np.random.randn(n_out, n_in) * 0.5
        self.b = np.zeros((n_out, 1))

    def forward(self, A_prev):
        self.A_prev = A_prev
        self.Z = self.W @ A_prev + self.b
        self.A = 1 / (1 + np.exp(-self.Z))
        return self.A


class NeralNetwork:
    def __init__(self, *layers):
        self.layers = layers

    def predict(self, X):
        A = X
        for layer in self.layers:
            A = layer.forward(A)
        return A

    def cost(self, A, Y):
        return float(np.mean((A - Y) ** 2))

    def train(self, X, Y, epochs):
        m = X.shape[1]
        for epoch in range(1, epochs + 1):
            lr = 1 / epoch
            A = self.predict(X)
            delta = 2 * (A - Y) / m * A * (1 - A)
            for layer in reversed(self.layers):
                dW = delta @ layer.A_prev.T
                db = delta
                delta = (layer.W.T @ delta) * layer.A_prev * (1 - layer.A_prev)
                layer.W = layer.W - lr * dW
                layer.b = layer.b - lr * db
            if epoch % 100 == 0:
                print(epoch, self.cost(self.predict(X), Y))


if __name__ == "__main__":
    np.random.seed(0)
    X = np.random.rand(2, 50)
    Y = (X[0:1] * X[1:2] > 0.25).astype(float)
    net = NeralNetwork(Layer(5, 2), Layer(5, 5), Layer(1, 5))
    net.train(X, Y, 1000)
