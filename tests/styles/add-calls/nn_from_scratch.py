import numpy as np


class FCLayer:
    def __init__(self, input_size, output_size):
        self.weights = np.random.rand(input_size, output_size) - 0.5
        self.bias = np.random.rand(1, output_size) - 0.5

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights) + self.bias
        return self.output

    def backward_propagation(self, output_error):
        self.weights_error = np.dot(self.input.T, output_error)
        self.bias_error = np.sum(output_error, axis=0, keepdims=True)
        return np.dot(output_error, self.weights.T)


class ActivationLayer:
    def __init__(self, activation, activation_prime):
        self.activation = activation
        self.activation_prime = activation_prime

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

    def backward_propagation(self, output_error):
        return self.activation_prime(self.input) * output_error


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def sigmoid_prime(x):
    s = sigmoid(x)
    return s * (1 - s)


def mse(y_true, y_pred):
    return np.mean(np.sum((y_true - y_pred) ** 2, axis=1))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.shape[0]


class Network:
    def __init__(self):
        self.layers = []

    def add(self, layer):
        self.layers.append(layer)

    def predict(self, input_data):
        output = input_data
        for layer in self.layers:
            output = layer.forward_propagation(output)
        return output

    def backprop(self, y_true):
        error = mse_prime(y_true, self.layers[-1].output)
        for layer in reversed(self.layers):
            error = layer.backward_propagation(error)
