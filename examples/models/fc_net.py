"""A course-style fully-connected net, written as a student who got every gradient right.

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    deltacheck model examples/models/fc_net.py:FullyConnectedNet
"""

import numpy as np

from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class FullyConnectedNet:
    """A fully-connected net with ReLUs, optional batch or layer norm and dropout."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])  # noqa: NPY002
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])

        # one dropout_param for every dropout layer; a seed makes its masks reproducible
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed

        # one bn_param per norm layer: batch norm keeps its running statistics there
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        if normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores (N, C) without y; (loss, grads) with y."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        if self.normalization == "batchnorm":
            for bn_param in self.bn_params:
                bn_param["mode"] = mode

        caches = {}
        out = X
        for i in range(1, self.num_layers):
            out, caches[f"affine{i}"] = affine_forward(out, self.params[f"W{i}"],
                                                       self.params[f"b{i}"])
            if self.normalization == "batchnorm":
                out, caches[f"norm{i}"] = batchnorm_forward(
                    out, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, caches[f"norm{i}"] = layernorm_forward(
                    out, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.bn_params[i - 1])
            out, caches[f"relu{i}"] = relu_forward(out)
            if self.use_dropout:
                out, caches[f"dropout{i}"] = dropout_forward(out, self.dropout_param)
        L = self.num_layers
        scores, caches[f"affine{L}"] = affine_forward(out, self.params[f"W{L}"],
                                                      self.params[f"b{L}"])
        if mode == "test":
            return scores

        grads = {}
        loss, dout = softmax_loss(scores, y)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params[f"W{i}"] ** 2)

        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dout, caches[f"affine{L}"])
        grads[f"W{L}"] += self.reg * self.params[f"W{L}"]
        for i in range(L - 1, 0, -1):
            if self.use_dropout:
                dout = dropout_backward(dout, caches[f"dropout{i}"])
            dout = relu_backward(dout, caches[f"relu{i}"])
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(
                    dout, caches[f"norm{i}"])
            elif self.normalization == "layernorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(
                    dout, caches[f"norm{i}"])
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, caches[f"affine{i}"])
            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]
        return loss, grads
