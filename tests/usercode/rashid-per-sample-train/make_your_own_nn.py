# python notebook for Make Your Own Neural Network -- my copy, as a script
# code for a 3-layer neural network, and code for learning the MNIST dataset
# (here used on a small toy problem)
#
# inputs and targets are plain lists / 1-D arrays, turned into column vectors inside
# train() updates the weights straight away, one example at a time (no biases)

import numpy


# neural network class definition
class neuralNetwork:
    # initialise the neural network
    def __init__(self, inputnodes, hiddennodes, outputnodes, learningrate):
        # set number of nodes in each input, hidden, output layer
        self.inodes = inputnodes
        self.hnodes = hiddennodes
        self.onodes = outputnodes

        # link weight matrices, wih and who
        # weights inside the arrays are w_i_j, where link is from node i to node j in the next layer
        # w11 w21
        # w12 w22 etc
        self.wih = numpy.random.normal(0.0, pow(self.inodes, -0.5), (self.hnodes, self.inodes))
        self.who = numpy.random.normal(0.0, pow(self.hnodes, -0.5), (self.onodes, self.hnodes))

        # learning rate
        self.lr = learningrate

        # activation function is the sigmoid function
        self.activation_function = lambda x: 1.0 / (1.0 + numpy.exp(-x))

    # train the neural network
    def train(self, inputs_list, targets_list):
        # convert inputs list to 2d array
        inputs = numpy.array(inputs_list, ndmin=2).T
        targets = numpy.array(targets_list, ndmin=2).T

        # calculate signals into hidden layer
        hidden_inputs = numpy.dot(self.wih, inputs)
        # calculate the signals emerging from hidden layer
        hidden_outputs = self.activation_function(hidden_inputs)

        # calculate signals into final output layer
        final_inputs = numpy.dot(self.who, hidden_outputs)
        # calculate the signals emerging from final output layer
        final_outputs = self.activation_function(final_inputs)

        # output layer error is the (target - actual)
        output_errors = targets - final_outputs
        # times the slope of the sigmoid at the output
        output_deltas = output_errors * final_outputs * (1.0 - final_outputs)
        # hidden layer error is the output deltas, split by weights, recombined at hidden nodes
        hidden_errors = numpy.dot(self.who.T, output_deltas)

        # update the weights for the links between the hidden and output layers
        self.who += self.lr * numpy.dot(output_deltas, numpy.transpose(hidden_outputs))

        # update the weights for the links between the input and hidden layers
        self.wih += self.lr * numpy.dot(
            (hidden_errors * hidden_outputs * (1.0 - hidden_outputs)), numpy.transpose(inputs)
        )

    # query the neural network
    def query(self, inputs_list):
        # convert inputs list to 2d array
        inputs = numpy.array(inputs_list, ndmin=2).T

        hidden_outputs = self.activation_function(numpy.dot(self.wih, inputs))
        final_outputs = self.activation_function(numpy.dot(self.who, hidden_outputs))
        return final_outputs


if __name__ == "__main__":
    # number of input, hidden and output nodes
    input_nodes = 2
    hidden_nodes = 16
    output_nodes = 3
    learning_rate = 0.3

    n = neuralNetwork(input_nodes, hidden_nodes, output_nodes, learning_rate)

    # three clusters of points
    centres = numpy.array([[0.2, 0.2], [0.8, 0.3], [0.5, 0.9]])
    records = []
    for label, c in enumerate(centres):
        for _ in range(100):
            records.append((c + 0.08 * numpy.random.randn(2), label))

    epochs = 20
    for e in range(epochs):
        numpy.random.shuffle(records)
        for point, label in records:
            targets = numpy.zeros(output_nodes) + 0.01
            targets[label] = 0.99
            n.train(point, targets)

    scorecard = [int(numpy.argmax(n.query(p)) == label) for p, label in records]
    print("performance = ", sum(scorecard) / len(scorecard))
