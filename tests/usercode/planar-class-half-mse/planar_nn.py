"""
Planar data classification with one hidden layer -- rewritten as a class.

Model:  X (n_x, m) -> LINEAR -> TANH (n_h units) -> LINEAR -> SIGMOID -> A2 (1, m)

I swapped the cross-entropy of the assignment for the squared error with the usual
factor 1/2 (cost = 1/(2m) * sum (A2 - Y)^2) to see the difference.
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class ShallowNN:
    def __init__(self, n_x, n_h, n_y, learning_rate=1.2):
        self.n_x = n_x  # size of the input layer
        self.n_h = n_h  # size of the hidden layer
        self.n_y = n_y  # size of the output layer
        self.learning_rate = learning_rate
        self.parameters = self.initialize_parameters()
        self.cache = {}

    def initialize_parameters(self):
        np.random.seed(2)
        W1 = np.random.randn(self.n_h, self.n_x) * 0.01
        b1 = np.zeros((self.n_h, 1))
        W2 = np.random.randn(self.n_y, self.n_h) * 0.01
        b2 = np.zeros((self.n_y, 1))
        return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}

    def forward_propagation(self, X):
        W1 = self.parameters["W1"]
        b1 = self.parameters["b1"]
        W2 = self.parameters["W2"]
        b2 = self.parameters["b2"]

        Z1 = np.dot(W1, X) + b1
        A1 = np.tanh(Z1)
        Z2 = np.dot(W2, A1) + b2
        A2 = sigmoid(Z2)

        assert A2.shape == (self.n_y, X.shape[1])
        self.cache = {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}
        return A2

    def compute_cost(self, A2, Y):
        m = Y.shape[1]  # number of examples
        cost = np.sum((A2 - Y) ** 2) / (2 * m)
        return float(np.squeeze(cost))

    def backward_propagation(self, X, Y):
        m = X.shape[1]
        W2 = self.parameters["W2"]
        A1 = self.cache["A1"]
        A2 = self.cache["A2"]

        # the 1/2 in the cost cancels the 2 of the square
        dA2 = A2 - Y
        dZ2 = dA2 * A2 * (1 - A2)
        dW2 = (1 / m) * np.dot(dZ2, A1.T)
        db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
        dW1 = (1 / m) * np.dot(dZ1, X.T)
        db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)

        grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
        return grads

    def update_parameters(self, grads):
        for key in ("W1", "b1", "W2", "b2"):
            self.parameters[key] = self.parameters[key] - self.learning_rate * grads["d" + key]

    def fit(self, X, Y, num_iterations=10000, print_cost=False):
        for i in range(num_iterations):
            A2 = self.forward_propagation(X)
            cost = self.compute_cost(A2, Y)
            grads = self.backward_propagation(X, Y)
            self.update_parameters(grads)
            if print_cost and i % 1000 == 0:
                print("Cost after iteration %i: %f" % (i, cost))
        return self

    def predict(self, X):
        return (self.forward_propagation(X) > 0.5).astype(int)
