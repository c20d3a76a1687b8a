"""A textbook network that learns one sample at a time: sigmoid units and the quadratic cost.

Written as the classic per-sample code is: column vectors, biases of shape (n, 1), weights
(n_out, n_in), and ``backprop(x, y)`` for ONE sample, returning (nabla_b, nabla_w). Its output
units are sigmoid too, so its loss is deltacheck's ``mse_sigmoid`` and its output error is
(y − t) σ'(a), not y − t. It returns no δ and no loss, and says so:

    deltacheck run --impl examples/implementations/per_sample_network.py:backprop
"""

from itertools import pairwise

import numpy as np


def sigmoid(z):
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    """Derivative of the sigmoid."""
    return sigmoid(z) * (1 - sigmoid(z))


class Network:
    """A fully connected network of sigmoid units."""

    def __init__(self, sizes, seed=0):
        rng = np.random.default_rng(seed)
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [rng.standard_normal((y, 1)) for y in sizes[1:]]
        self.weights = [rng.standard_normal((y, x)) for x, y in pairwise(sizes)]

    def backprop(self, x, y):
        """(nabla_b, nabla_w): the gradient of the cost of the one sample (x, y)."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        # feedforward, storing the weighted inputs zs and the activations
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        # backward pass
        delta = self.cost_derivative(activations[-1], y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for l in range(2, self.num_layers):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return (nabla_b, nabla_w)

    def cost_derivative(self, output_activations, y):
        """∂C/∂a of the quadratic cost C = ½ ||a − y||²."""
        return output_activations - y


def backprop(weights, biases, activations, loss, x, t):
    """deltacheck's call: load the parameters, and sum the per-sample gradients over the batch."""
    net = Network([weights[0].shape[1]] + [w.shape[0] for w in weights])
    net.weights = [np.array(w) for w in weights]
    net.biases = [np.reshape(b, (-1, 1)) for b in biases]
    grad_w = [np.zeros(w.shape) for w in weights]
    grad_b = [np.zeros(b.shape) for b in biases]
    for x_n, t_n in zip(x, t, strict=True):
        nabla_b, nabla_w = net.backprop(x_n.reshape(-1, 1), t_n.reshape(-1, 1))
        grad_w = [g + nw for g, nw in zip(grad_w, nabla_w, strict=True)]
        grad_b = [g + nb.ravel() for g, nb in zip(grad_b, nabla_b, strict=True)]
    return {"grad_weights": grad_w, "grad_biases": grad_b}


backprop.losses = {"mse_sigmoid"}
backprop.activations = {"sigmoid"}
backprop.provides = {"grad_weights", "grad_biases"}
