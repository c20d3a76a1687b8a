"""Seeded composition slips: each is fc_net.py or cnn.py with a few lines changed, on the same
correct layers, so that every slip passes each single-layer check and only a check of the
composed model can catch it.

    deltacheck selftest --models examples/models/slips.py
"""

import sys
import types
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ModelSlip:
    """A model class with one seeded slip, and what the slip is."""

    model: type
    description: str


def _slip(name, file, edits, description):
    """The model class of ``file`` with each (old, new) edit made once, loaded as a module of
    this package (so that its relative imports find the same layers)."""
    source = (HERE / file).read_text(encoding="utf-8")
    for old, new in edits:
        if source.count(old) != 1:
            raise ValueError(f"slip {name}: {old!r} occurs {source.count(old)} times in {file}")
        source = source.replace(old, new)
    module = types.ModuleType(f"{__package__}._slip_{name}")
    module.__package__ = __package__
    module.__file__ = str(HERE / file)
    sys.modules[module.__name__] = module
    exec(compile(source, f"{file} [{name}]", "exec"), module.__dict__)
    cls = "ThreeLayerConvNet" if file == "cnn.py" else "FullyConnectedNet"
    return ModelSlip(getattr(module, cls), description)


_HIDDEN_REG = '            grads[f"W{i}"] += self.reg * self.params[f"W{i}"]\n'
_LAST_REG = '        grads[f"W{L}"] += self.reg * self.params[f"W{L}"]\n'
_LOSS_REG = '            loss += 0.5 * self.reg * np.sum(self.params[f"W{i}"] ** 2)\n'
_RELU_BACK = '            dout = relu_backward(dout, caches[f"relu{i}"])\n'
_AFFINE_BACK = ('            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, '
                'caches[f"affine{i}"])\n')
_AFFINE_FWD = ('            out, caches[f"affine{i}"] = affine_forward(out, self.params[f"W{i}"],\n'
               '                                                       self.params[f"b{i}"])\n')
_RELU_FWD = '            out, caches[f"relu{i}"] = relu_forward(out)\n'

_FC = {
    "reg_in_loss_not_gradient": (
        [(_HIDDEN_REG, "")],
        "L2 regularisation added to the loss but not to the hidden layers' gradients"),
    "reg_missing_on_last_layer": (
        [(_LAST_REG, "")], "the last layer's W gets no regularisation gradient"),
    "reg_gradient_keeps_half": (
        [(_HIDDEN_REG, _HIDDEN_REG.replace("+= self.reg", "+= 0.5 * self.reg"))],
        "the 0.5 of 0.5 reg ΣW² kept in the gradient, where it cancels the 2 of ∂W²"),
    "reg_loss_without_half": (
        [(_LOSS_REG, _LOSS_REG.replace("0.5 * self.reg", "self.reg"))],
        "reg ΣW² in the loss (no 0.5), but the gradient reg W of 0.5 reg ΣW²"),
    "reg_on_biases_too": (
        [(_LOSS_REG, _LOSS_REG.replace("** 2)", "** 2) + 0.5 * self.reg * np.sum("
                                       'self.params[f"b{i}"] ** 2)')),
         (_AFFINE_BACK, _AFFINE_BACK + '            grads[f"b{i}"] += self.reg * '
                                       'self.params[f"b{i}"]\n')],
        "the biases regularised too, in the loss and in the gradient"),
    "dropout_mask_not_in_backward": (
        [('                dout = dropout_backward(dout, caches[f"dropout{i}"])\n',
          "                pass\n")],
        "dropout's mask applied in the forward pass but not in the backward pass"),
    "dropout_seed_ignored": (
        [('                self.dropout_param["seed"] = seed\n', "                pass\n")],
        "dropout's seed not passed to the layers: the masks differ at every call"),
    "dropout_in_test_mode": (
        [('            self.dropout_param["mode"] = mode\n',
          '            self.dropout_param["mode"] = "train"\n')],
        "dropout left in train mode when scoring (test mode)"),
    "batchnorm_train_in_test_mode": (
        [('                bn_param["mode"] = mode\n', '                bn_param["mode"] = "train"\n')],
        "batch norm left in train mode when scoring: batch statistics are used and the "
        "running statistics updated in test mode"),
    "relu_cache_of_wrong_layer": (
        [(_RELU_BACK, _RELU_BACK.replace('caches[f"relu{i}"]', 'caches[f"relu{L - 1}"]'))],
        "the cache of the last hidden ReLU passed to every ReLU's backward"),
    "gamma_beta_swapped": (
        [('            if self.normalization == "batchnorm":\n                dout, '
          'grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(',
          '            if self.normalization == "batchnorm":\n                dout, '
          'grads[f"beta{i}"], grads[f"gamma{i}"] = batchnorm_backward(')],
        "batch norm's dgamma and dbeta stored under each other's names"),
    "bias_grad_from_wrong_layer": (
        [(_RELU_BACK, "            upstream = dout\n" + _RELU_BACK),
         (_AFFINE_BACK, _AFFINE_BACK + '            grads[f"b{i}"] = np.sum(upstream, axis=0)\n')],
        "a hidden bias gradient summed from the gradient above its ReLU (the wrong layer)"),
    "relu_before_norm": (
        [(_AFFINE_FWD + '            if self.normalization == "batchnorm":',
          _AFFINE_FWD + _RELU_FWD + '            if self.normalization == "batchnorm":'),
         (_RELU_FWD + "            if self.use_dropout:", "            if self.use_dropout:"),
         (_RELU_BACK, ""),
         (_AFFINE_BACK, _RELU_BACK + _AFFINE_BACK)],
        "the layers in the wrong order: affine - relu - norm instead of affine - norm - relu"),
    "scores_gradient_averaged_twice": (
        [("        loss, dout = softmax_loss(scores, y)\n",
          "        loss, dout = softmax_loss(scores, y)\n        dout = dout / X.shape[0]\n")],
        "the softmax loss's gradient divided by N again (it is already the mean's)"),
}

_CONV = {
    "conv_reg_missing_on_W1": (
        [('        grads["W1"] += self.reg * W1\n', "")],
        "the conv layer's W1 gets no regularisation gradient"),
    "conv_hidden_relu_skipped_in_backward": (
        [('        dout1, grads["W2"], grads["b2"] = affine_relu_backward(dout2, cache2)\n',
          '        dout1, grads["W2"], grads["b2"] = affine_backward(dout2, cache2[0])\n')],
        "the hidden ReLU's backward skipped: affine_backward on affine_relu's cache"),
    "conv_reg_in_loss_twice": (
        [("        loss += 0.5 * self.reg * (np.sum(W1**2) + np.sum(W2**2) + np.sum(W3**2))\n",
          "        loss += 0.5 * self.reg * (np.sum(W1**2) + np.sum(W2**2) + np.sum(W3**2))\n"
          "        loss += 0.5 * self.reg * np.sum(W3**2)\n")],
        "the last layer's W3 regularised twice in the loss, once in the gradient"),
}

SLIPS = {
    **{name: _slip(name, "fc_net.py", edits, text) for name, (edits, text) in _FC.items()},
    **{name: _slip(name, "cnn.py", edits, text) for name, (edits, text) in _CONV.items()},
}
