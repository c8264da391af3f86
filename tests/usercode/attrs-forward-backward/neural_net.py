import numpy as np


class NeuralNet:
    """
    Simple 3 layer neural network for binary classification (XOR-like data).

    input -> [leaky ReLU] -> [tanh] -> [sigmoid] -> output

    Data is (samples, features). Everything the backward pass needs is stored
    on the object during the forward pass.
    """

    def __init__(self, input_size=2, hidden_size=12, output_size=1, alpha=0.1, learning_rate=0.1):
        self.alpha = alpha  # slope of the leaky relu for z < 0
        self.learning_rate = learning_rate

        # He init for the leaky relu layer, Xavier for the others
        self.W1 = np.random.randn(input_size, hidden_size) * np.sqrt(2.0 / input_size)
        self.b1 = np.zeros((1, hidden_size))
        self.W2 = np.random.randn(hidden_size, hidden_size) * np.sqrt(1.0 / hidden_size)
        self.b2 = np.zeros((1, hidden_size))
        self.W3 = np.random.randn(hidden_size, output_size) * np.sqrt(1.0 / hidden_size)
        self.b3 = np.zeros((1, output_size))

        self.loss_history = []

    # activation functions
    def leaky_relu(self, z):
        return np.where(z > 0, z, self.alpha * z)

    def leaky_relu_derivative(self, z):
        return np.where(z > 0, 1.0, self.alpha)

    def sigmoid(self, z):
        return 1 / (1 + np.exp(-z))

    def forward(self, X):
        self.z1 = np.dot(X, self.W1) + self.b1
        self.a1 = self.leaky_relu(self.z1)

        self.z2 = np.dot(self.a1, self.W2) + self.b2
        self.a2 = np.tanh(self.z2)

        self.z3 = np.dot(self.a2, self.W3) + self.b3
        self.a3 = self.sigmoid(self.z3)
        return self.a3

    def compute_loss(self, y, y_hat):
        m = y.shape[0]
        y_hat = np.clip(y_hat, 1e-10, 1 - 1e-10)
        return -(1 / m) * np.sum(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat))

    def backward(self, X, y):
        m = X.shape[0]

        # output layer, sigmoid + binary cross entropy -> dL/dz3 = a3 - y
        dz3 = self.a3 - y
        self.dW3 = (1 / m) * np.dot(self.a2.T, dz3)
        self.db3 = (1 / m) * np.sum(dz3, axis=0, keepdims=True)

        # second hidden layer (tanh)
        da2 = np.dot(dz3, self.W3.T)
        dz2 = da2 * (1 - np.tanh(self.z2) ** 2)
        self.dW2 = (1 / m) * np.dot(self.a1.T, dz2)
        self.db2 = (1 / m) * np.sum(dz2, axis=0, keepdims=True)

        # first hidden layer (leaky relu)
        da1 = np.dot(dz2, self.W2.T)
        dz1 = da1 * self.leaky_relu_derivative(self.z1)
        self.dW1 = (1 / m) * np.dot(X.T, dz1)
        self.db1 = (1 / m) * np.sum(dz1, axis=0, keepdims=True)

    def update_parameters(self):
        self.W1 -= self.learning_rate * self.dW1
        self.b1 -= self.learning_rate * self.db1
        self.W2 -= self.learning_rate * self.dW2
        self.b2 -= self.learning_rate * self.db2
        self.W3 -= self.learning_rate * self.dW3
        self.b3 -= self.learning_rate * self.db3

    def train(self, X, y, epochs=5000, print_every=500):
        for epoch in range(epochs):
            y_hat = self.forward(X)
            loss = self.compute_loss(y, y_hat)
            self.loss_history.append(loss)
            self.backward(X, y)
            self.update_parameters()
            if epoch % print_every == 0:
                print(f"Epoch {epoch}, Loss: {loss:.4f}")

    def predict(self, X):
        return (self.forward(X) > 0.5).astype(int)
