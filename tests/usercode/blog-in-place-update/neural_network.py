# "Build your own neural network from scratch" -- my notes from the blog post.
#
# A 2-layer network (one hidden layer), no biases to keep it simple.
#   y_hat = sigmoid(W2 . sigmoid(W1 . x))
# Loss = sum of squared errors:  sum((y - y_hat)^2)
#
# backprop() follows the post: it computes (y - y_hat) * ..., i.e. MINUS the
# gradient of the sum of squared errors (no 1/n), and ADDS it to the weights,
# so every call is one gradient-descent step with learning rate 1.

import numpy as np


def sigmoid(x):
    return 1.0 / (1 + np.exp(-x))


def sigmoid_derivative(x):
    # x is already the output of the sigmoid here
    return x * (1.0 - x)


class NeuralNetwork:
    def __init__(self, x, y):
        self.input = x
        self.weights1 = np.random.rand(self.input.shape[1], 6)  # 6 neurons in the hidden layer
        self.weights2 = np.random.rand(6, 1)
        self.y = y
        self.output = np.zeros(self.y.shape)

    def feedforward(self):
        self.layer1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.layer1, self.weights2))

    def backprop(self):
        # application of the chain rule to find the derivative of the loss
        # function with respect to weights2 and weights1
        d_output = 2 * (self.y - self.output) * sigmoid_derivative(self.output)
        d_weights2 = np.dot(self.layer1.T, d_output)

        d_hidden = np.dot(d_output, self.weights2.T) * sigmoid_derivative(self.layer1)
        d_weights1 = np.dot(self.input.T, d_hidden)

        # update the weights with the derivative (slope) of the loss function
        self.weights1 += d_weights1
        self.weights2 += d_weights2


def loss(nn):
    return np.sum((nn.y - nn.output) ** 2)


def train(X, y, iterations=1500):
    nn = NeuralNetwork(X, y)
    for i in range(iterations):
        nn.feedforward()
        nn.backprop()
        if i % 100 == 0:
            print("iteration", i, "loss", loss(nn))
    return nn
