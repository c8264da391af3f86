"""
network.py
~~~~~~~~~~

My Python 3 version of the network from chapter 1 of "Neural Networks and Deep
Learning": a feedforward net trained with mini-batch stochastic gradient descent,
the gradient of the quadratic cost computed by backpropagation, one training
example (x, y) at a time.  x and y are column vectors, shape (n, 1).
"""

import random

import numpy as np


class Network(object):
    def __init__(self, sizes):
        """``sizes`` lists the number of neurons per layer, e.g. [2, 3, 1] is a
        network with 2 inputs, 3 hidden neurons and 1 output neuron.  The first
        layer is the input layer, so it gets no biases.  Weights and biases start
        as samples of a standard gaussian."""
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        # weights[0] connects layer 1 to layer 2, w[j][k] goes from neuron k to neuron j
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]

    def feedforward(self, a):
        """Return the output of the network if ``a`` is the input."""
        for b, w in zip(self.biases, self.weights):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Train with mini-batch stochastic gradient descent.  ``training_data``
        is a list of tuples (x, y).  With ``test_data`` the accuracy is printed
        after every epoch (slow, but useful to watch)."""
        training_data = list(training_data)
        n = len(training_data)
        if test_data:
            test_data = list(test_data)
            n_test = len(test_data)
        for j in range(epochs):
            random.shuffle(training_data)
            mini_batches = [
                training_data[k : k + mini_batch_size] for k in range(0, n, mini_batch_size)
            ]
            for mini_batch in mini_batches:
                self.update_mini_batch(mini_batch, eta)
            if test_data:
                print(f"Epoch {j}: {self.evaluate(test_data)} / {n_test}")
            else:
                print(f"Epoch {j} complete")

    def update_mini_batch(self, mini_batch, eta):
        """One step of gradient descent using backprop on a single mini batch."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        # average over the mini batch
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        """Return a tuple (nabla_b, nabla_w): the gradient of the cost C_x for
        one example, layer by layer, shaped like self.biases and self.weights."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]

        # feedforward, remembering every z and every activation
        activation = x
        activations = [x]  # all the activations, layer by layer
        zs = []  # all the z vectors, layer by layer
        for b, w in zip(self.biases, self.weights):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)

        # output error (BP1)
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())

        # propagate the error backwards (BP2), l = 2 is the second-last layer,
        # l = 3 the one before it, and so on (negative indices!)
        for l in range(2, self.num_layers):
            z = zs[-l]
            sp = sigmoid_prime(z)
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sp
            nabla_b[-l] = delta  # BP3
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())  # BP4
        return (nabla_b, nabla_w)

    def evaluate(self, test_data):
        """Number of test inputs for which the network outputs the correct
        result: the index of the most activated output neuron."""
        test_results = [(np.argmax(self.feedforward(x)), y) for (x, y) in test_data]
        return sum(int(x == y) for (x, y) in test_results)

    def cost_derivative(self, output_activations, y):
        """dC_x/da for the quadratic cost C_x = 1/2 ||y - a||^2."""
        return output_activations - y


#### Miscellaneous functions
def sigmoid(z):
    """The sigmoid function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid function."""
    return sigmoid(z) * (1 - sigmoid(z))
