import numpy as np


def initialize_parameters_deep(layer_dims):
    np.random.seed(1)
    parameters = {}
    L = len(layer_dims)
    for l in range(1, L):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * np.sqrt(
            1.0 / layer_dims[l - 1]
        )
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def sigmoid(Z):
    return 1 / (1 + np.exp(-Z))


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A_prev = A
        Z = np.dot(parameters["W" + str(l)], A_prev) + parameters["b" + str(l)]
        A = np.tanh(Z)
        caches.append((A_prev, Z, A))
    ZL = np.dot(parameters["W" + str(L)], A) + parameters["b" + str(L)]
    AL = sigmoid(ZL)
    caches.append((A, ZL, AL))
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return float(np.squeeze(cost))


def linear_backward(dZ, A_prev, W):
    m = A_prev.shape[1]
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches, parameters):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)

    dAL = -(Y / AL + (1 - Y / 1 - AL))
    A_prev, ZL, _ = caches[L - 1]
    dZL = dAL * (1 - AL**2)
    dA_prev, grads["dW" + str(L)], grads["db" + str(L)] = linear_backward(
        dZL, A_prev, parameters["W" + str(L)]
    )
    for l in reversed(range(L - 1)):
        A_prev, Z, A = caches[l]
        dZ = dA_prev * (1 - Z**2)
        dA_prev, grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = linear_backward(
            dZ, A_prev, parameters["W" + str(l + 1)]
        )
    return grads


def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    for l in range(L):
        parameters["W" + str(l + 1)] -= learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] -= learning_rate * grads["db" + str(l + 1)]
    return parameters
