"""A from-scratch numpy MLP that computes only what training needs: the gradients.

tanh hidden layers, a linear output and the squared error ½ Σ (y − t)², parameters as a list of
(W, b) pairs with W of shape (n_out, n_in). Like most training code it keeps neither the loss
nor the node errors, so it declares that it provides only the gradients:

    deltacheck run --impl examples/implementations/grads_only.py:backprop
"""

import numpy as np


def mlp_gradients(params, X, Y):
    """[(dW, db), ...] of the squared error over the batch (X, Y), one pair per layer."""
    zs = [X]
    for W, b in params[:-1]:
        zs.append(np.tanh(zs[-1] @ W.T + b))
    W_out, b_out = params[-1]
    err = zs[-1] @ W_out.T + b_out - Y  # dE/dy of ½ Σ (y − t)², the output being linear
    grads = []
    for l in reversed(range(len(params))):
        grads.append((err.T @ zs[l], err.sum(axis=0)))
        if l > 0:
            err = (err @ params[l][0]) * (1 - zs[l] ** 2)  # back through tanh: 1 − tanh²
    return grads[::-1]


def backprop(weights, biases, activations, loss, x, t):
    """deltacheck's call: the gradients of the user's own function, as two lists."""
    grads = mlp_gradients(list(zip(weights, biases, strict=True)), x, t)
    return {"grad_weights": [dW for dW, _ in grads], "grad_biases": [db for _, db in grads]}


backprop.losses = {"mse"}
backprop.activations = {"tanh"}
backprop.provides = {"grad_weights", "grad_biases"}
