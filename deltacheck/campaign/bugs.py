"""Seeded bugs: the reference implementation with one realistic mistake each.

``deltacheck selftest`` runs every one of them through a campaign; a gate that lets one pass
has a blind spot. Each bug is the reference backprop with one step replaced, and says which
quantity goes wrong first (``first_wrong``: ``loss``, ``output_delta``, ``hidden_delta``,
``grad_weights`` or ``grad_biases``) and what kind of mistake it is (``kind``, as the
diagnosis names kinds), so that the diagnosis can be checked against them too.

Many bugs hide in a region: above a logit of 709.78 (where e^a overflows in float64), within
4e-6 of a ReLU kink, at an exact 0/1 label, at depth 4, width 9 or a 9th sample. The
strategies visit those regions on purpose, and the selftest proves that they do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.campaign import bugs_history, bugs_small
from deltacheck.campaign.bug_steps import (
    SeededBug,
    _batch_max_softmax,
    _bce_clipped_value,
    _bce_from_probabilities,
    _buffer_of_8,
    _ce_naive_value,
    _deep_skip,
    _dropout,
    _first_rows,
    _float32_delta,
    _float32_sum,
    _gelu_tanh_slope,
    _log1p_exp,
    _loss_specific,
    _mean_loss,
    _naive_softmax,
    _naive_tanh,
    _nan_relu,
    _only,
    _own,
    _ratio_sigmoid,
    _replace_h,
    _with,
)

Backprop = Callable[..., dict[str, Any]]


_BUGS: tuple[SeededBug, ...] = (
    # h' wrong or dropped
    SeededBug("tanh_slope_of_a", "tanh' written as 1 − a² instead of 1 − z²",
              _with(slope=_only("tanh", lambda a, z: 1 - a**2)),
              "activation_derivative", "hidden_delta"),
    SeededBug("slope_of_z", "h' evaluated at z = h(a) instead of a, for every activation",
              _with(slope=lambda l, act, a, z: _own(l, act, z, z)),
              "activation_derivative", "hidden_delta"),
    SeededBug("slope_dropped", "δ_j = Σ_k w_kj δ_k: the factor h'(a_j) is left out",
              _with(slope=lambda l, act, a, z: np.ones_like(a)),
              "activation_derivative", "hidden_delta"),
    SeededBug("sigmoid_slope_unsquared", "sigmoid' written as σ(a) instead of σ(a)(1 − σ(a))",
              _with(slope=_only("sigmoid", lambda a, z: z)),
              "activation_derivative", "hidden_delta"),
    SeededBug("elu_slope_is_h", "elu' for a ≤ 0 written as e^a − 1 (h itself) instead of e^a",
              _with(slope=_only("elu", lambda a, z: np.where(a > 0, 1.0, z))),
              "activation_derivative", "hidden_delta"),
    SeededBug("leaky_slope_tenfold", "leaky_relu' below 0 is 0.1 instead of 0.01",
              _with(slope=_only("leaky_relu", lambda a, z: np.where(a > 0, 1.0, 0.1))),
              "activation_derivative", "hidden_delta"),
    SeededBug("gelu_tanh_approximation", "gelu' of the tanh approximation beside the exact "
              "erf forward", _with(slope=_only("gelu", lambda a, z: _gelu_tanh_slope(a, z))),
              "activation_derivative", "hidden_delta"),
    SeededBug("softsign_slope_unsquared", "softsign' written as 1/(1 + |a|) instead of "
              "1/(1 + |a|)²", _with(slope=_only("softsign", lambda a, z: 1 / (1 + np.abs(a)))),
              "activation_derivative", "hidden_delta"),
    # near a kink
    SeededBug("relu_dead_band", "relu' is 0 on (0, 4e-6]: a > 4e-6 used as the test",
              _with(slope=_only("relu", lambda a, z: (a > 4e-6).astype(a.dtype))),
              "near_kink", "hidden_delta"),
    SeededBug("leaky_relu_early_switch", "leaky_relu' switches to 1 already at a > −1e-5",
              _with(slope=_only("leaky_relu", lambda a, z: np.where(a > -1e-5, 1.0, 0.01))),
              "near_kink", "hidden_delta"),
    # output error and loss value
    SeededBug("mse_delta_doubled", "mse output error 2(y − t): the ½ of E forgotten in δ",
              _loss_specific("mse", delta_out=lambda a, y, t: 2 * (y - t)),
              "factor", "output_delta"),
    SeededBug("delta_sign", "output error t − y instead of y − t",
              _with(delta_out=lambda a, y, t: t - y), "sign", "output_delta"),
    SeededBug("bce_noncanonical_delta", "bce output error (y − t) y (1 − y): the mse-with-"
              "sigmoid formula", _loss_specific("bce", delta_out=lambda a, y, t: (y - t) * y * (1 - y)),
              "output_error", "output_delta"),
    SeededBug("bce_targets_clipped", "bce targets clipped to [1e-7, 1 − 1e-7] in δ: wrong at "
              "exact 0/1 labels only",
              _loss_specific("bce", delta_out=lambda a, y, t: y - np.clip(t, 1e-7, 1 - 1e-7)),
              "output_error", "output_delta"),
    SeededBug("ce_targets_floored", "ce targets floored at 1e-9 in δ: wrong at one-hot rows only",
              _loss_specific("ce", delta_out=lambda a, y, t: y - np.maximum(t, 1e-9)),
              "output_error", "output_delta"),
    SeededBug("delta_clipped", "output error clipped to ±1e3 (gradient clipping in the "
              "backward pass)", _with(delta_out=lambda a, y, t: np.clip(y - t, -1e3, 1e3)),
              "output_error", "output_delta"),
    SeededBug("mse_without_half", "mse loss Σ (y − t)² without the ½ (gradients right)",
              _loss_specific("mse", value=lambda a, y, t: float(np.sum((y - t) ** 2))),
              "loss_value", "loss"),
    SeededBug("bce_logits_clipped", "bce loss from logits clipped to ±500",
              _loss_specific("bce", value=_bce_clipped_value), "loss_value", "loss"),
    SeededBug("mean_loss", "the loss is the batch mean, the gradients the batch sum",
              _mean_loss, "loss_value", "loss"),
    # factors, signs, transpositions, axes
    SeededBug("gradients_averaged", "∂W and ∂b divided by N: the mean over the batch, while "
              "E is the sum", _with(grad_w=lambda l, d, z, a: d.T @ z[l] / len(d),
                                   grad_b=lambda l, d: d.mean(axis=0)), "factor", "grad_weights"),
    SeededBug("bias_gradient_sign", "∂b = −Σ_n δ_n", _with(grad_b=lambda l, d: -d.sum(axis=0)),
              "sign", "grad_biases"),
    SeededBug("hidden_delta_sign", "δ of hidden layers propagated with a minus sign",
              _with(back=lambda l, d, W: -(d @ W)), "sign", "hidden_delta"),
    SeededBug("weight_gradient_reshaped", "∂W = reshape(zᵀδ) instead of its transpose",
              _with(grad_w=lambda l, d, z, a: np.reshape(z[l].T @ d, (d.shape[1], z[l].shape[1]))),
              "transpose", "grad_weights"),
    SeededBug("backward_through_reshaped_w", "δ propagated through reshape(Wᵀ, W.shape) "
              "instead of W", _with(back=lambda l, d, W: d @ np.reshape(W.T, W.shape)),
              "transpose", "hidden_delta"),
    SeededBug("softmax_over_batch", "softmax normalised over the batch (axis 0) in δ",
              _loss_specific("ce", delta_out=lambda a, y, t: np.exp(a - a.max(axis=0))
                             / np.exp(a - a.max(axis=0)).sum(axis=0) - t),
              "output_error", "output_delta"),
    # assembly, per sample
    SeededBug("a_instead_of_z", "∂W[l] = δᵀ a[l−1]: the previous pre-activation instead of z",
              _with(grad_w=lambda l, d, z, a: d.T @ (a[l - 1] if l else z[0])),
              "assembly", "grad_weights"),
    SeededBug("last_sample_only", "∂W from the last sample only: an accumulator overwritten",
              _with(grad_w=lambda l, d, z, a: np.outer(d[-1], z[l][-1])),
              "per_sample", "grad_weights"),
    SeededBug("batch_buffer_of_8", "∂W summed over the first 8 samples only",
              _with(grad_w=_first_rows(8)), "per_sample", "grad_weights"),
    SeededBug("unit_buffer_of_8", "∂b kept in a buffer of 8 units: units 9 and up get 0",
              _with(grad_b=_buffer_of_8), "assembly", "grad_biases"),
    SeededBug("deep_first_slope_skipped", "the first layer's h' skipped when the net has 4 or "
              "more weight layers", _deep_skip, "activation_derivative", "hidden_delta"),
    # precision and non-finite values
    SeededBug("float32_output_delta", "y − t computed in float32 inside a float64 backprop",
              _with(delta_out=_float32_delta), "precision", "output_delta"),
    SeededBug("float32_weight_sum", "∂W accumulated in float32", _with(grad_w=_float32_sum),
              "precision", "grad_weights"),
    SeededBug("relu_slope_nan_at_zero", "relu' = (a/|a| + 1)/2: NaN exactly at a = 0",
              _with(slope=_nan_relu), "nonfinite", "hidden_delta"),
    SeededBug("bce_loss_from_probabilities", "bce loss from y = σ(a): log(1 − y) = −inf once "
              "σ rounds to 1", _loss_specific("bce", value=_bce_from_probabilities),
              "nonfinite", "loss"),
    # overflow only
    SeededBug("naive_tanh", "tanh as (eᵃ − e⁻ᵃ)/(eᵃ + e⁻ᵃ): NaN beyond |a| = 710",
              _with(hidden=_replace_h("tanh", _naive_tanh)), "overflow", "loss"),
    SeededBug("sigmoid_exp_ratio", "sigmoid as eᵃ/(1 + eᵃ): NaN beyond a = 710",
              _with(hidden=_replace_h("sigmoid", _ratio_sigmoid)), "overflow", "loss"),
    SeededBug("softplus_log1p_exp", "softplus as log(1 + eᵃ): inf beyond a = 710",
              _with(hidden=_replace_h("softplus", _log1p_exp)), "overflow", "loss"),
    SeededBug("softmax_without_max", "softmax without subtracting the max: NaN beyond a logit "
              "of 710", _loss_specific("ce", output=_naive_softmax,
                                       value=_ce_naive_value(_naive_softmax)),
              "overflow", "loss"),
    SeededBug("softmax_batch_max", "softmax subtracting the batch's max instead of each row's",
              _loss_specific("ce", output=_batch_max_softmax,
                             value=_ce_naive_value(_batch_max_softmax)),
              "overflow", "loss"),
    # nondeterminism
    SeededBug("dropout_left_on", "dropout (p = 0.1) left on in the output error",
              _dropout, "nondeterministic", "output_delta"),
    # then: state between calls, aliases, forward slips (bugs_history); small-but-real errors,
    # K ≥ 3 and N ≥ 2 slips, declared conventions (bugs_small)
)
BUGS: tuple[SeededBug, ...] = (*_BUGS, *bugs_history.BUGS, *bugs_small.BUGS)


def __getattr__(name: str) -> Backprop:
    """Each bug's implementation by name: ``deltacheck run --impl deltacheck.bugs:naive_tanh``."""
    for bug in BUGS:
        if bug.name == name:
            return bug.backprop
    raise AttributeError(f"module 'deltacheck.bugs' has no seeded bug {name!r}")
