# Port of a "toy neural network" from a coding video: one hidden layer, sigmoid everywhere,
# trained one example at a time with train(input_array, target_array).
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def dsigmoid(y):
    # y has already been through the sigmoid
    return y * (1 - y)


class NeuralNetwork:
    def __init__(self, input_nodes, hidden_nodes, output_nodes):
        rng = np.random.default_rng(42)
        self.weights_ih = rng.uniform(-1, 1, (hidden_nodes, input_nodes))
        self.weights_ho = rng.uniform(-1, 1, (output_nodes, hidden_nodes))
        self.bias_h = rng.uniform(-1, 1, (hidden_nodes, 1))
        self.bias_o = rng.uniform(-1, 1, (output_nodes, 1))
        self.learning_rate = 0.1

    def predict(self, input_array):
        inputs = np.array(input_array, dtype=float).reshape(-1, 1)
        hidden = sigmoid(self.weights_ih @ inputs + self.bias_h)
        output = sigmoid(self.weights_ho @ hidden + self.bias_o)
        return output.flatten().tolist()

    def train(self, input_array, target_array):
        inputs = np.array(input_array, dtype=float).reshape(-1, 1)
        targets = np.array(target_array, dtype=float).reshape(-1, 1)
        hidden = sigmoid(self.weights_ih @ inputs + self.bias_h)
        outputs = sigmoid(self.weights_ho @ hidden + self.bias_o)

        output_errors = targets - outputs
        gradients = output_errors * dsigmoid(outputs)
        hidden_errors = self.weights_ho.T @ gradients
        hidden_gradient = hidden_errors * dsigmoid(hidden)

        self.weights_ho += self.learning_rate * gradients @ hidden.T
        self.bias_o += self.learning_rate * gradients
        self.weights_ih += self.learning_rate * hidden_gradient @ inputs.T
        self.bias_h += self.learning_rate * hidden_gradient
