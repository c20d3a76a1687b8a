"""A course-style fully connected net: layer functions with caches, and ``loss(X, y)``.

Written as the common course code is: weights stored (n_in, n_out) in a params dict ("W1",
"b1", ...), ReLU hidden layers, a softmax loss averaged over the N samples of a batch, integer
class labels, and ``loss(X, y) -> (loss, grads)``. It returns no δ, and says how it differs
from deltacheck's protocol in attributes; deltacheck converts:

    deltacheck run --impl examples/implementations/fc_net.py:backprop
"""

import numpy as np


def affine_forward(x, w, b):
    """out = x w + b, with x of shape (N, D) and w of shape (D, M)."""
    out = x @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Gradients of the affine layer with respect to x, w and b."""
    x, w, _ = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    """max(0, x), elementwise."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """The upstream gradient where the input was positive, 0 elsewhere."""
    return dout * (cache > 0)


def softmax_loss(x, y):
    """Mean cross-entropy of the scores x (N, C) for the labels y (N,), and its gradient."""
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


class FullyConnectedNet:
    """{affine - relu} x (L - 1) - affine - softmax."""

    def __init__(self, hidden_dims, input_dim, num_classes, weight_scale=1e-2, reg=0.0, seed=0):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.num_layers = len(hidden_dims) + 1
        self.params = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * rng.standard_normal((dims[i], dims[i + 1]))
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])

    def loss(self, X, y):
        """The loss of the batch (X, y) and the gradients of every parameter."""
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, affine_cache = affine_forward(out, self.params[f"W{i}"], self.params[f"b{i}"])
            out, relu_cache = relu_forward(out)
            caches.append((affine_cache, relu_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(out, self.params[f"W{L}"], self.params[f"b{L}"])

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            affine_cache, relu_cache = caches[i - 1]
            dout = relu_backward(dout, relu_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, affine_cache)
        for i in range(1, L + 1):  # L2 regularization
            loss += 0.5 * self.reg * np.sum(self.params[f"W{i}"] ** 2)
            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
        return loss, grads


def backprop(weights, biases, activations, loss, x, t):
    """deltacheck's call: build the net, load the parameters and call its loss."""
    model = FullyConnectedNet([w.shape[1] for w in weights[:-1]], input_dim=weights[0].shape[0],
                              num_classes=weights[-1].shape[1])
    for i, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        model.params[f"W{i}"], model.params[f"b{i}"] = W, b
    E, grads = model.loss(x, t)
    L = len(weights)
    return {"loss": E, "grad_weights": [grads[f"W{i}"] for i in range(1, L + 1)],
            "grad_biases": [grads[f"b{i}"] for i in range(1, L + 1)]}


backprop.weight_layout = "in_out"
backprop.reduction = "mean"
backprop.targets = "labels"
backprop.losses = {"ce"}
backprop.activations = {"relu"}
backprop.provides = {"loss", "grad_weights", "grad_biases"}
