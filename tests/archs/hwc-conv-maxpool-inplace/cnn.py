"""A CNN of layer classes whose backprop(d_out, learn_rate) steps its own parameters in place
and returns the input's gradient; one grayscale image (H, W) at a time, feature maps as
(H, W, filters): a 3x3 conv of naive loops, a 2x2 max-pool, a dense softmax."""

import numpy as np


class Conv3x3:
    def __init__(self, num_filters, rng):
        self.num_filters = num_filters
        self.filters = rng.normal(size=(num_filters, 3, 3)) / 3

    def iterate_regions(self, image):
        h, w = image.shape
        for i in range(h - 2):
            for j in range(w - 2):
                yield image[i : i + 3, j : j + 3], i, j

    def forward(self, input):
        self.last_input = input
        h, w = input.shape
        output = np.zeros((h - 2, w - 2, self.num_filters))
        for im_region, i, j in self.iterate_regions(input):
            output[i, j] = np.sum(im_region * self.filters, axis=(1, 2))
        return output

    def backprop(self, d_L_d_out, learn_rate):
        d_L_d_filters = np.zeros(self.filters.shape)
        for im_region, i, j in self.iterate_regions(self.last_input):
            for f in range(self.num_filters):
                d_L_d_filters[f] += d_L_d_out[i, j, f] * im_region
        self.filters -= learn_rate * d_L_d_filters
        return None


class MaxPool2:
    def forward(self, input):
        self.last_input = input
        h, w, num_filters = input.shape
        output = np.zeros((h // 2, w // 2, num_filters))
        for i in range(h // 2):
            for j in range(w // 2):
                region = input[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2]
                output[i, j] = np.amax(region, axis=(0, 1))
        return output

    def backprop(self, d_L_d_out):
        d_L_d_input = np.zeros(self.last_input.shape)
        h, w, f = self.last_input.shape
        for i in range(h // 2):
            for j in range(w // 2):
                region = self.last_input[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2]
                amax = np.amax(region, axis=(0, 1))
                mask = region == amax
                d_L_d_input[i * 2 : i * 2 + 2, j * 2 : j * 2 + 2] += mask * d_L_d_out[i, j]
        return d_L_d_input


class Softmax:
    def __init__(self, input_len, nodes, rng):
        self.weights = rng.normal(size=(input_len, nodes)) / input_len
        self.biases = np.zeros(nodes)

    def forward(self, input):
        self.last_input_shape = input.shape
        input = input.flatten()
        self.last_input = input
        totals = np.dot(input, self.weights) + self.biases
        self.last_totals = totals
        exp = np.exp(totals - totals.max())
        return exp / np.sum(exp)

    def backprop(self, d_L_d_out, learn_rate):
        for i, gradient in enumerate(d_L_d_out):
            if gradient == 0:
                continue
            t_exp = np.exp(self.last_totals - self.last_totals.max())
            S = np.sum(t_exp)
            d_out_d_t = -t_exp[i] * t_exp / (S**2)
            d_out_d_t[i] = t_exp[i] * (S - t_exp[i]) / (S**2)
            d_L_d_t = gradient * d_out_d_t
            d_L_d_w = self.last_input[np.newaxis].T @ d_L_d_t[np.newaxis]
            d_L_d_inputs = self.weights @ d_L_d_t
            self.weights -= learn_rate * d_L_d_w
            self.biases -= learn_rate * d_L_d_t
            return d_L_d_inputs.reshape(self.last_input_shape)


rng = np.random.default_rng(0)
conv = Conv3x3(4, rng)
pool = MaxPool2()
softmax = Softmax(5 * 5 * 4, 3, rng)


def forward(image, label):
    out = conv.forward(image - 0.5)
    out = pool.forward(out)
    out = softmax.forward(out)
    loss = -np.log(out[label])
    acc = 1 if np.argmax(out) == label else 0
    return out, loss, acc


def train(im, label, lr=0.005):
    out, loss, acc = forward(im, label)
    gradient = np.zeros(3)
    gradient[label] = -1 / out[label]
    gradient = softmax.backprop(gradient, lr)
    gradient = pool.backprop(gradient)
    gradient = conv.backprop(gradient, lr)
    return loss, acc
