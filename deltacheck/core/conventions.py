"""The conventions an implementation declares, and the conversions to and from the protocol's.

Real backprop code stores weights (n_in, n_out), averages its loss over the batch, takes integer
class labels or returns no δ. It says so in attributes beside ``backprop.activations``
(``weight_layout``, ``reduction``, ``targets``, ``losses``, ``provides``), and deltacheck
converts the arguments it passes and the values it gets back: the user never does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.words import a_type

WEIGHT_LAYOUTS = ("out_in", "in_out")
REDUCTIONS = ("sum", "mean")
TARGETS = ("probabilities", "labels")
LOSSES = ("mse", "bce", "ce", "mse_sigmoid", "mse_tanh")
DEFAULT_LOSSES = ("mse", "bce", "ce")
OUTPUTS = ("loss", "deltas", "grad_weights", "grad_biases")
GRADIENTS = ("grad_weights", "grad_biases")
CHECK_GROUPS = {"grads": GRADIENTS, "all": OUTPUTS}  # shorthands of --checks


def parse_checks(text: str) -> frozenset[str]:
    """``--checks``: a comma list of quantities (or ``grads``, ``all``) that make the verdict."""
    names: set[str] = set()
    for word in (w.strip() for w in text.split(",")):
        if word in CHECK_GROUPS:
            names |= set(CHECK_GROUPS[word])
        elif word in OUTPUTS:
            names.add(word)
        elif word:
            raise DeltacheckError(f"--checks has unknown {word!r}; choose from "
                                  f"{', '.join(OUTPUTS)}, or grads or all")
    if not names & set(GRADIENTS):
        raise DeltacheckError(f"--checks {text!r} must include grad_weights or grad_biases "
                              f"(or grads): there is nothing to check")
    return frozenset(names)


def _repr(value: Any) -> str:
    """repr on one short line, whatever the user's value is."""
    try:
        text = " ".join(repr(value).split())
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


def _one_of(name: str, value: Any, allowed: tuple[str, ...], owner: str) -> str:
    """``value`` if it is one of ``allowed``; else one line with the name, value and choices."""
    if isinstance(value, str) and value in allowed:
        return value
    choices = " or ".join(map(repr, allowed)) if len(allowed) == 2 else \
        "one of " + ", ".join(map(repr, allowed))
    raise DeltacheckError(f"{owner}{name}={_repr(value)} must be {choices}")


def _names(name: str, value: Any, allowed: tuple[str, ...], owner: str,
           example: str) -> frozenset[str]:
    """A set of names from a list, set or tuple, each one of ``allowed``, and not empty."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise DeltacheckError(f"{owner}{name}={_repr(value)} must be a set of names, "
                              f"e.g. {example}")
    try:
        names = list(value)
        unknown = [n for n in names if not isinstance(n, str) or n not in allowed]
    except Exception:  # a broken iterable of the user's
        raise DeltacheckError(f"{owner}{name} cannot be read as a set of names, "
                              f"e.g. {example}") from None
    if unknown or not names:
        what = f"holds {', '.join(map(repr, unknown))}" if unknown else "is empty"
        raise DeltacheckError(f"{owner}{name}={_shown(names)} {what}; choose from "
                              f"{', '.join(map(repr, allowed))}")
    return frozenset(names)


def _shown(names: Iterable[Any]) -> str:
    """A set of names as the user would write it, in a stable order."""
    shown = sorted(map(_repr, names))
    return "{" + ", ".join(shown) + "}" if shown else "set()"


@dataclass(frozen=True)
class Conventions:
    """How an implementation stores weights, reduces its loss, takes targets, and what it returns.

    ``losses`` None means the default losses (only ``ce`` with integer labels).
    """

    weight_layout: str = "out_in"
    reduction: str = "sum"
    targets: str = "probabilities"
    losses: frozenset[str] | None = None
    provides: frozenset[str] = frozenset(OUTPUTS)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        owner = "backprop."  # the attributes are read from the implementation
        set_("weight_layout", _one_of("weight_layout", self.weight_layout, WEIGHT_LAYOUTS, owner))
        set_("reduction", _one_of("reduction", self.reduction, REDUCTIONS, owner))
        set_("targets", _one_of("targets", self.targets, TARGETS, owner))
        if self.losses is not None:
            set_("losses", _names("losses", self.losses, LOSSES, owner, "{'mse', 'ce'}"))
        set_("provides", _names("provides", self.provides, OUTPUTS, owner,
                                "{'grad_weights', 'grad_biases'}"))
        if not self.provides & set(GRADIENTS):
            raise DeltacheckError(f"{owner}provides={_shown(self.provides)} must include "
                                  f"'grad_weights' or 'grad_biases': there is nothing to check")
        if self.targets == "labels" and self.losses is not None and self.losses != {"ce"}:
            raise DeltacheckError(f"{owner}targets='labels' (integer classes) goes only with loss "
                                  f"'ce', but {owner}losses={_shown(self.losses)}")

    @property
    def loss_names(self) -> tuple[str, ...]:
        """The losses to check, in the canonical order."""
        default = ("ce",) if self.targets == "labels" else DEFAULT_LOSSES
        chosen = default if self.losses is None else self.losses
        return tuple(name for name in LOSSES if name in chosen)

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready data, sets as lists in a fixed order."""
        return {"weight_layout": self.weight_layout, "reduction": self.reduction,
                "targets": self.targets,
                "losses": None if self.losses is None else
                [n for n in LOSSES if n in self.losses],
                "provides": [n for n in OUTPUTS if n in self.provides]}

    def dumps(self) -> str:
        """The compact JSON text."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any) -> Conventions:
        """Rebuild from :meth:`to_json` data; a missing key takes its default."""
        if not isinstance(data, Mapping):
            raise DeltacheckError(f"conventions JSON must be an object, not {a_type(data)}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise DeltacheckError(f"conventions JSON has unknown {', '.join(map(repr, unknown))}; "
                                  f"the keys are {', '.join(known)}")
        return cls(**data)


def declared(impl: Any, **overrides: Any) -> Conventions:
    """The conventions an implementation declares; an override that is not None wins."""
    names = [f.name for f in fields(Conventions)]
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise DeltacheckError(f"unknown convention {', '.join(map(repr, unknown))}; "
                              f"the conventions are {', '.join(names)}")
    values = {}
    for name in names:
        if overrides.get(name) is not None:
            values[name] = _override(name, overrides[name])
            continue
        try:
            value = getattr(impl, name, None)
        except Exception as exc:  # a property of the user's that raises
            raise DeltacheckError(f"backprop.{name} raised {type(exc).__name__} when read; "
                                  f"it must be a plain attribute") from None
        if value is not None:
            values[name] = value
    return Conventions(**values)


def _override(name: str, value: Any) -> Any:
    """A command-line override checked alone, its message naming the option, not the attribute."""
    try:
        Conventions(**{name: value})
    except DeltacheckError as exc:
        option = "--" + name.replace("_", "-")
        raise DeltacheckError(str(exc).replace(f"backprop.{name}", option)) from None
    return value


def one_hot_rows(t: Any) -> bool:
    """Whether every row of t is one-hot: a single 1, zeros elsewhere."""
    t = np.asarray(t)
    if t.ndim != 2 or t.shape[1] < 1:
        return False
    return bool(((t == 0) | (t == 1)).all() and (np.count_nonzero(t, axis=1) == 1).all())


def user_arguments(conv: Conventions, weights: Any, biases: Any, activations: Any, loss: str,
                   x: Any, t: Any) -> tuple[list[np.ndarray], list[np.ndarray], list[str], str,
                                            np.ndarray, np.ndarray]:
    """The protocol's arguments in the implementation's conventions, as fresh writable arrays."""
    W = [np.asarray(w).T.copy() if conv.weight_layout == "in_out" else np.array(w)
         for w in weights]
    t_user = np.array(t)
    if conv.targets == "labels" and loss == "ce":
        if not one_hot_rows(t_user):
            raise DeltacheckError("targets='labels' needs one-hot rows of t to turn into class "
                                  "labels; draw one-hot targets for this implementation")
        t_user = t_user.argmax(axis=1)  # the class of each sample, shape (N,)
    return W, [np.array(v) for v in biases], list(activations), loss, np.array(x), t_user


def _times(value: Any, factor: int) -> Any:
    """value · factor in at least float64 (exact for float32 values); value itself if it fails."""
    try:
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            return value
        return arr.astype(np.result_type(arr.dtype, np.float64)) * factor
    except Exception:  # a misbehaving implementation's value: the protocol reader says why
        return value


def _transposed(value: Any) -> Any:
    """A 2-d array transposed (as a fresh array); value itself if it is anything else."""
    try:
        arr = np.asarray(value)
        return arr.T.copy() if arr.ndim == 2 and arr.dtype.kind != "O" else value
    except Exception:
        return value


def _layers(value: Any, n_layers: int, convert: Any) -> Any:
    """``convert`` applied to each layer's entry; value itself if it is not a list of n_layers."""
    try:
        if isinstance(value, (str, bytes, Mapping)) or len(value) != n_layers:
            return value
        return [convert(v) for v in value]
    except Exception:
        return value


def protocol_result(conv: Conventions, raw: Any, *, batch: int, n_layers: int) -> Any:
    """The implementation's returned mapping as a dict in the protocol's conventions; never raises.

    Only the keys it provides are kept. A mean-reduced E, δ = ∂(E/N)/∂a and gradients are
    scaled by N; in_out weight gradients are transposed back. Anything malformed (a result that
    is not a mapping too) is passed through unchanged, for the protocol reader to report.
    """
    try:
        if not isinstance(raw, Mapping):
            return raw
        out = {key: raw[key] for key in OUTPUTS if key in conv.provides and key in raw}
    except Exception:  # a mapping of the user's that breaks when read
        return raw
    mean = conv.reduction == "mean"
    if mean and "loss" in out:
        out["loss"] = _times(out["loss"], batch)
    for key in ("deltas", "grad_weights", "grad_biases"):
        if key not in out:
            continue
        if key == "grad_weights" and conv.weight_layout == "in_out":
            out[key] = _layers(out[key], n_layers, _transposed)
        if mean:
            out[key] = _layers(out[key], n_layers, lambda v: _times(v, batch))
    return out
