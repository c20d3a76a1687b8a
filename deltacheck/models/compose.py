"""What a model is made of: the composition of the course's known classes or a declared list of
layer kinds, the constructor arguments drawn for a case, and the reference steps of a call.

| class | composition |
|---|---|
| ``FullyConnectedNet`` | {affine - [batch/layer norm] - relu - [dropout]} × (L−1) - affine - softmax |
| ``ThreeLayerConvNet`` | conv - relu - 2×2 max_pool - affine - relu - affine - softmax_loss |
| ``TwoLayerNet`` | affine - relu - affine - softmax_loss |

In a declared composition the k-th affine or conv layer takes ``Wk`` and ``bk``; a norm after
it takes ``gammak`` and ``betak`` and ``model.bn_params[k - 1]``; a conv layer pads by
(F − 1) // 2 with stride 1 and max pooling is 2 × 2 with stride 2, as in the course.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.oracles.layers.composed import Step

LAYER_KINDS = ("affine", "relu", "batchnorm", "layernorm", "dropout", "conv", "max_pool",
               "spatial_batchnorm", "softmax_loss", "svm_loss")
NORMS = ("batchnorm", "layernorm", "spatial_batchnorm")
WEIGHTED = ("affine", "conv")
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


@dataclass(frozen=True)
class Design:
    """One drawn case of a model: its constructor arguments, inputs and composition."""

    kwargs: dict[str, Any]
    input_shape: tuple[int, ...]  # per sample
    N: int
    kinds: tuple[str, ...]
    keep: float = 1.0  # dropout's keep probability (1: no dropout)
    seed: int = 0  # dropout's seed
    notes: dict[str, Any] = field(default_factory=dict)

    def describe(self, name: str) -> str:
        """``FullyConnectedNet(hidden_dims=[3], input_dim=4, …), N=3``."""
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items() if k != "dtype")
        return f"{name}({args}), N={self.N}"


def family(cls: Any, declared: Sequence[str] | None) -> str:
    """``fc``, ``conv``, ``two`` for the course's classes, ``declared`` for a declared list."""
    if declared:
        bad = [k for k in declared if k not in LAYER_KINDS]
        if bad:
            raise DeltacheckError(f"composition: unknown layer kind {bad[0]!r}; choose from "
                                  f"{', '.join(LAYER_KINDS)}")
        if declared[-1] not in ("softmax_loss", "svm_loss"):
            raise DeltacheckError("composition: the last layer must be softmax_loss or "
                                  f"svm_loss, not {declared[-1]!r}")
        return "declared"
    known = {"FullyConnectedNet": "fc", "ThreeLayerConvNet": "conv", "TwoLayerNet": "two"}
    name = getattr(cls, "__name__", "")
    if name in known:
        return known[name]
    raise DeltacheckError(f"model {name or cls!r}: its composition is not known; declare it "
                          "as a list of layer kinds, e.g. --composition affine,relu,affine,"
                          "softmax_loss (check_model(..., composition=[...]))")


def signature(cls: Any) -> dict[str, inspect.Parameter]:
    """The constructor's parameters by name (self left out)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError) as exc:
        raise DeltacheckError(f"model {cls!r}: its constructor signature cannot be read "
                              f"({exc}); declare its arguments with --arg KEY=VALUE") from None
    return dict(params)


def _keep_argument(params: Mapping[str, inspect.Parameter], keep: float) -> dict[str, Any]:
    """Dropout as the constructor names it: a keep ratio, or (``dropout=0`` default) a drop."""
    if "dropout_keep_ratio" in params:
        return {"dropout_keep_ratio": keep}
    if "dropout" in params:
        drop_default = params["dropout"].default == 0
        return {"dropout": (1.0 - keep if keep < 1 else 0) if drop_default else keep}
    return {}


def _norm_argument(params: Mapping[str, inspect.Parameter], norm: str | None) -> dict[str, Any]:
    if "normalization" in params:
        return {"normalization": norm}
    if "use_batchnorm" in params:
        return {"use_batchnorm": norm == "batchnorm"}
    return {}


def _declared_norm(args: Mapping[str, Any], drawn: str | None) -> str | None:
    """The normalization an --arg fixes (normalization= or use_batchnorm=), else the drawn one."""
    if "normalization" in args:
        return args["normalization"]
    if "use_batchnorm" in args:
        return "batchnorm" if args["use_batchnorm"] else None
    return drawn


def _declared_keep(params: Mapping[str, inspect.Parameter], args: Mapping[str, Any],
                   drawn: float) -> float:
    """Dropout's keep probability an --arg fixes, in the constructor's convention."""
    if "dropout_keep_ratio" in args:
        return float(args["dropout_keep_ratio"])
    if "dropout" in args:
        value = float(args["dropout"])
        drop_default = "dropout" in params and params["dropout"].default == 0
        return (1.0 - value if value > 0 else 1.0) if drop_default else value
    return drawn


def _check_args(kind: str, args: Mapping[str, Any]) -> None:
    """The arguments the draws read, checked: the fix is named in the message."""
    def ints(value: Any, count: int | None = None) -> bool:
        return isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and v > 0 for v in value) and count in (None, len(value))

    problems = {
        "hidden_dims": (lambda v: ints(v) and len(v) > 0, "a list of widths, e.g. [3, 2]"),
        "input_dim": ((lambda v: ints(v, 3)) if kind == "conv" else
                      (lambda v: isinstance(v, int) and v > 0),
                      "(C, H, W), e.g. (2, 4, 4)" if kind == "conv" else "a size, e.g. 4"),
        "normalization": (lambda v: v in (None, "batchnorm", "layernorm"),
                          "None, 'batchnorm' or 'layernorm'"),
        "dropout_keep_ratio": (lambda v: isinstance(v, (int, float)) and 0 < v <= 1,
                               "a keep probability in (0, 1]"),
        "dropout": (lambda v: isinstance(v, (int, float)) and 0 <= v <= 1,
                    "a probability in [0, 1]")}
    for name, (ok, wanted) in problems.items():
        if kind != "declared" and name in args and not ok(args[name]):
            raise DeltacheckError(f"--arg {name}={args[name]!r}: give {wanted}")


def draw(kind: str, cls: Any, index: int, rng: np.random.Generator,
         declared: Sequence[str] | None, args: Mapping[str, Any]) -> Design:
    """Case ``index``: small sizes, and every normalization × dropout choice in turn."""
    _check_args(kind, args)
    params = signature(cls)
    takes_all = any(p.kind == p.VAR_KEYWORD for p in params.values())
    reg = 0.0 if index % 4 == 3 else round(float(rng.uniform(0.05, 1.0)), 3)
    N = int(rng.integers(2, 5))
    classes = int(rng.integers(2, 5))
    seed = int(rng.integers(0, 2**16))
    kinds: tuple[str, ...]
    keep = 1.0
    if kind == "fc":
        norms = [None, "batchnorm", "layernorm"]
        if "normalization" not in params and "use_batchnorm" not in params:
            norms = [None]
        norm = _declared_norm(args, norms[index % len(norms)])
        dropout = bool(_keep_argument(params, 0.5)) and (index // len(norms)) % 2 == 1
        keep = _declared_keep(params, args, round(float(rng.uniform(0.4, 0.9)), 2)
                              if dropout else 1.0)
        hidden = [int(h) for h in args.get("hidden_dims",
                                           rng.integers(2, 5, size=int(rng.integers(1, 3))))]
        D = int(args.get("input_dim", rng.integers(2, 6)))
        kwargs = {"hidden_dims": hidden, "input_dim": D, "num_classes": classes, "reg": reg,
                  **_norm_argument(params, norm), **_keep_argument(params, keep), "seed": seed}
        block = ("affine", *([norm] if norm else []), "relu", *(["dropout"] if keep < 1 else []))
        kinds = (*block * len(hidden), "affine", "softmax_loss")
        shape: tuple[int, ...] = (D,)
    elif kind == "conv":
        C, H = int(rng.integers(1, 3)), int(rng.choice([2, 4]))
        C, H, W = tuple(args.get("input_dim", (C, H, H)))
        kwargs = {"input_dim": (C, H, W), "num_filters": int(rng.integers(1, 4)),
                  "filter_size": int(rng.choice([1, 3])), "hidden_dim": int(rng.integers(2, 4)),
                  "num_classes": classes, "reg": reg}
        kinds, shape = ("conv", "relu", "max_pool", "affine", "relu", "affine",
                        "softmax_loss"), (C, H, W)
    elif kind == "two":
        D = int(args.get("input_dim", rng.integers(2, 6)))
        kwargs = {"input_dim": D, "hidden_dim": int(rng.integers(2, 5)), "num_classes": classes,
                  "reg": reg}
        kinds, shape = ("affine", "relu", "affine", "softmax_loss"), (D,)
    else:
        kwargs = {"reg": reg} if "reg" in params else {}
        kinds = tuple(declared or ())
        shape = ()
    kwargs |= {"weight_scale": 1e-2, "dtype": np.float64}
    kwargs = {k: v for k, v in kwargs.items() if k in params or takes_all}
    kwargs |= dict(args)
    if kind == "declared":
        shape = _declared_shape(kwargs)
    return Design(kwargs, shape, N, kinds, keep, seed)


def _declared_shape(kwargs: Mapping[str, Any]) -> tuple[int, ...]:
    dim = kwargs.get("input_dim")
    if isinstance(dim, int):
        return (dim,)
    if isinstance(dim, (tuple, list)) and all(isinstance(d, int) for d in dim):
        return tuple(dim)
    raise DeltacheckError("a declared composition needs the input size: give --arg "
                          "input_dim=D (or input_dim=C,H,W), check_model(..., args={'input_dim'"
                          ": ...})")


def parameter_names(kinds: Sequence[str]) -> list[str]:
    """The params the composition reads, in order: W1, b1, gamma1, beta1, W2, …"""
    names, k = [], 0
    for kind in kinds:
        if kind in WEIGHTED:
            k += 1
            names += [f"W{k}", f"b{k}"]
        elif kind in NORMS:
            names += [f"gamma{k}", f"beta{k}"]
    return names


def weights(kinds: Sequence[str]) -> list[str]:
    """The params that L2 regularisation takes: every W."""
    return [n for n in parameter_names(kinds) if n.startswith("W")]


def steps(kinds: Sequence[str], values: Mapping[str, np.ndarray], *, mode: str,
          bn_params: Sequence[Any], keep: float, masks: Sequence[np.ndarray]) -> list[Step]:
    """The reference steps of one call: ``mode`` test (scores) or train (the loss)."""
    out, k, drops = [], 0, 0
    for kind in kinds:
        if kind in WEIGHTED:
            k += 1
            settings: dict[str, Any] = {}
            if kind == "conv":
                size = int(np.shape(values[f"W{k}"])[2])
                settings = {"conv_param": {"stride": 1, "pad": (size - 1) // 2}}
            out.append(Step(kind, (f"W{k}", f"b{k}"), settings))
        elif kind in NORMS:
            given = bn_params[k - 1] if k - 1 < len(bn_params) else {}
            param: dict[str, Any] = {"mode": mode, "eps": given.get("eps", 1e-5)}
            if kind == "layernorm":
                out.append(Step(kind, (f"gamma{k}", f"beta{k}"), {"ln_param": param}))
                continue
            if mode == "test":
                param |= {s: np.asarray(given[s], np.float64)
                          for s in ("running_mean", "running_var") if s in given}
            out.append(Step(kind, (f"gamma{k}", f"beta{k}"), {"bn_param": param}))
        elif kind == "dropout":
            if mode == "train":
                out.append(Step(kind, (), {"dropout_param": {"mode": "train", "p": keep},
                                           "mask": masks[drops]}))
            drops += 1
        elif kind == "max_pool":
            out.append(Step(kind, (), {"pool_param": dict(POOL)}))
        elif kind in ("softmax_loss", "svm_loss"):
            if mode == "train":
                out.append(Step(kind))
        else:
            out.append(Step(kind))
    return out


def describe(kinds: Sequence[str]) -> str:
    """``affine - relu - affine - softmax_loss``."""
    return " - ".join(kinds)
