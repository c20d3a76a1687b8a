"""PyTorch autograd in float64.

δ is the gradient of E with respect to each pre-activation tensor a = z Wᵀ + b itself
(``torch.autograd.grad`` takes intermediate tensors as well as leaves). Built-in activations
and the losses use torch's own functions (the non-canonical pairs put torch.sigmoid or
torch.tanh before the quadratic cost), so a forward mismatch in the implementation shows up
here too; a user's activation runs its array-API ``h`` under torch's namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deltacheck.core.gradients import Gradients
from deltacheck.oracles.base import (
    OracleUnavailable,
    as_float64,
    check_float64,
    input_eps,
    kink_taint,
    one_torch_thread,
)

name = "torch"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise OracleUnavailable(
            "the torch oracle needs PyTorch: pip install torch==2.13.0, "
            "or leave it out with --oracles jax,fd") from None
    return torch


_BUILTIN: dict[str, Any] = {}  # the built-ins' torch functions, by name, made once


def _hidden(act: Any, torch: Any) -> Any:
    from deltacheck.core.activations import BUILTINS

    if any(act is builtin_act for builtin_act in BUILTINS):
        if not _BUILTIN:
            _BUILTIN.update(_builtin_functions(torch))
        return _BUILTIN[act.name]
    import array_api_compat

    xp = array_api_compat.array_namespace(torch.zeros(1, dtype=torch.float64))
    return lambda a: act.h(a, xp)


def _builtin_functions(torch: Any) -> dict[str, Any]:
    F = torch.nn.functional
    return {
        "identity": lambda a: a,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "relu": F.relu,
        "leaky_relu": lambda a: F.leaky_relu(a, negative_slope=0.01),
        # F.softplus turns linear above a = 20 (an error of e^-20 ≈ 2e-9): logaddexp is exact
        "softplus": lambda a: torch.logaddexp(a, torch.zeros_like(a)),
        "elu": lambda a: F.elu(a, alpha=1.0),
        "gelu": lambda a: F.gelu(a, approximate="none"),
        "silu": F.silu,
        "softsign": F.softsign,
    }


def _loss(loss: str, a: Any, t: Any, torch: Any) -> Any:
    F = torch.nn.functional
    if loss == "mse":
        return 0.5 * F.mse_loss(a, t, reduction="sum")  # ½ Σ (y − t)²
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(a, t, reduction="sum")
    if loss == "ce":
        return F.cross_entropy(a, t, reduction="sum")  # probability targets
    if loss == "mse_sigmoid":
        return 0.5 * F.mse_loss(torch.sigmoid(a), t, reduction="sum")  # ½ Σ (σ(a) − t)²
    if loss == "mse_tanh":
        return 0.5 * F.mse_loss(torch.tanh(a), t, reduction="sum")  # ½ Σ (tanh(a) − t)²
    raise ValueError(f"unknown loss {loss!r}")


def gradients(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
              activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray, *,
              reach: Sequence[np.ndarray] | None = None) -> Gradients:
    """Loss, δ, ∂W and ∂b by torch.autograd, all float64 (``reach``: see base.kink_taint)."""
    torch = _torch()
    with one_torch_thread():
        return _gradients(torch, weights, biases, activations, loss, x, t, reach)


def _gradients(torch: Any, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
               activations: Sequence[Any], loss: str, x: np.ndarray, t: np.ndarray,
               reach: Sequence[np.ndarray] | None) -> Gradients:
    W64, b64 = as_float64(weights), as_float64(biases)
    # fresh float64 copies: torch may share their memory
    W = [torch.from_numpy(w).requires_grad_() for w in W64]
    b = [torch.from_numpy(v).requires_grad_() for v in b64]
    hidden = [_hidden(act, torch) for act in activations]
    z = torch.from_numpy(as_float64([x])[0])
    pre, z_values = [], [z.numpy()]
    for l in range(len(W)):
        pre.append(z @ W[l].T + b[l])
        if l < len(W) - 1:
            z = hidden[l](pre[l])
            z_values.append(z.detach().numpy())
    E = _loss(loss, pre[-1], torch.from_numpy(as_float64([t])[0]), torch)
    grads = torch.autograd.grad(E, [*W, *b, *pre], allow_unused=True)
    L = len(W)
    a_values = [a.detach().numpy() for a in pre]
    out = [g.detach().numpy() if g is not None else np.zeros(tuple(v.shape))
           for g, v in zip(grads, [*W, *b, *pre], strict=True)]
    check_float64(name, [*out, E.detach().numpy()])
    return Gradients(loss=float(E.detach()), grad_weights=out[:L], grad_biases=out[L:2 * L],
                     deltas=out[2 * L:], unjudged=kink_taint(W64, a_values, z_values, activations,
                                                       biases=b64, eps=input_eps(weights),
                                                       reach=reach))
