"""The case spec: one network, its parameters and one batch, validated and JSON-serialisable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.words import plural

LOSSES = ("mse", "bce", "ce", "mse_sigmoid", "mse_tanh")
# what a run checks unless told otherwise; the non-canonical pairs are checked when an
# implementation declares them or --losses names them
DEFAULT_LOSSES = ("mse", "bce", "ce")
TARGET_RANGE = {"bce": (0.0, 1.0), "mse_sigmoid": (0.0, 1.0), "mse_tanh": (-1.0, 1.0)}
DTYPES = ("float64", "float32")


def _array(value: Any, dtype: str, what: str) -> np.ndarray:
    try:
        arr = np.array(value, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DeltacheckError(f"{what} must be an array of numbers ({exc})") from None
    arr.setflags(write=False)
    return arr


def _whole_numbers(widths: Any) -> tuple[int, ...]:
    """widths as ints; 2.7 or "3" is an error, not silently int(2.7) == 2."""
    try:
        values = tuple(widths)
    except TypeError:
        raise DeltacheckError(f"widths={widths!r} must be a sequence of whole numbers, "
                              f"e.g. (3, 4, 2)") from None
    out = []
    for n in values:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer, float,
                                                                  np.floating)):
            raise DeltacheckError(f"widths={values!r} must hold whole numbers, e.g. (3, 4, 2); "
                                  f"got {n!r}")
        if not float(n).is_integer():
            raise DeltacheckError(f"widths={values!r} must hold whole numbers, e.g. (3, 4, 2); "
                                  f"{n!r} is not one")
        out.append(int(n))
    return tuple(out)


@dataclass(frozen=True, eq=False)
class Case:
    """A network (widths, hidden activations, loss), its parameters and one batch (x, t)."""

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str
    dtype: str
    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    x: np.ndarray
    t: np.ndarray

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        set_("widths", _whole_numbers(self.widths))
        set_("activations", tuple(str(a) for a in self.activations))
        if self.dtype not in DTYPES:
            raise DeltacheckError(f"dtype={self.dtype!r} must be one of {', '.join(DTYPES)}")
        if self.loss not in LOSSES:
            raise DeltacheckError(f"loss={self.loss!r} must be one of {', '.join(LOSSES)}")
        L = len(self.widths) - 1
        if L < 1 or min(self.widths) < 1:
            raise DeltacheckError(f"widths={self.widths} needs at least two entries, all >= 1")
        if len(self.activations) != L - 1:
            raise DeltacheckError(f"activations has {plural(len(self.activations), 'name')}, "
                                  f"but widths={self.widths} has "
                                  f"{plural(L - 1, 'hidden layer')}")
        set_("weights", tuple(_array(w, self.dtype, f"weights[{l}]")
                              for l, w in enumerate(self.weights)))
        set_("biases", tuple(_array(v, self.dtype, f"biases[{l}]")
                             for l, v in enumerate(self.biases)))
        set_("x", _array(self.x, self.dtype, "x"))
        set_("t", _array(self.t, self.dtype, "t"))
        if len(self.weights) != L or len(self.biases) != L:
            raise DeltacheckError(f"need {L} weight and bias arrays for widths={self.widths}, "
                                  f"got {len(self.weights)} and {len(self.biases)}")
        n = self.widths
        for l in range(L):
            if self.weights[l].shape != (n[l + 1], n[l]):
                raise DeltacheckError(f"weights[{l}] has shape {self.weights[l].shape}; it "
                                      f"should be {(n[l + 1], n[l])}")
            if self.biases[l].shape != (n[l + 1],):
                raise DeltacheckError(f"biases[{l}] has shape {self.biases[l].shape}; it "
                                      f"should be {(n[l + 1],)}")
        if self.x.ndim != 2 or self.x.shape[1] != n[0] or self.x.shape[0] < 1:
            raise DeltacheckError(f"x has shape {self.x.shape}; it should be (N, {n[0]}), N ≥ 1")
        if self.t.shape != (self.x.shape[0], n[-1]):
            raise DeltacheckError(f"t has shape {self.t.shape}; it should be "
                                  f"{(self.x.shape[0], n[-1])}")
        # one check over every entry (a numpy call per array costs more than its entries);
        # only a case that fails it is searched for the array to name
        if not np.isfinite(np.concatenate((self.x, self.t, *self.weights, *self.biases),
                                          axis=None)).all():
            for what, arr in (("x", self.x), ("t", self.t), *[(f"weights[{l}]", w) for l, w in
                              enumerate(self.weights)], *[(f"biases[{l}]", v) for l, v in
                              enumerate(self.biases)]):
                if not np.isfinite(arr).all():
                    raise DeltacheckError(f"{what} holds NaN or inf; a case must be finite")
        if self.loss in TARGET_RANGE:
            lo, hi = TARGET_RANGE[self.loss]
            if ((self.t < lo) | (self.t > hi)).any():
                raise DeltacheckError(f"t for loss={self.loss!r} must lie in [{lo:g}, {hi:g}]")
        if self.loss == "ce":
            # δ = y − t holds only for rows summing to 1: allow only the rounding of n entries
            # cast to the case's dtype (and of their sum), not a looser absolute slack.
            slack = 8 * n[-1] * float(np.finfo(self.dtype).eps)
            off = np.abs(self.t.astype(np.float64).sum(axis=1) - 1.0)
            if (self.t < 0).any() or not (off <= slack).all():
                raise DeltacheckError(f"t for loss='ce' must have non-negative rows summing to 1 "
                                      f"(within 8·n·ε = {slack:.1e}); largest deviation "
                                      f"{off.max():.1e}")

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.widths) - 1

    @property
    def batch(self) -> int:
        """N, the number of samples."""
        return int(self.x.shape[0])

    def arguments(self) -> tuple[list[np.ndarray], list[np.ndarray], list[str], str,
                                 np.ndarray, np.ndarray]:
        """Fresh, writable copies of the protocol's arguments (weights, biases, ..., x, t)."""
        return ([w.copy() for w in self.weights], [v.copy() for v in self.biases],
                list(self.activations), self.loss, self.x.copy(), self.t.copy())

    def summary(self) -> dict[str, Any]:
        """The architecture without the numbers: widths, activations, loss, dtype, batch."""
        return {"widths": list(self.widths), "activations": list(self.activations),
                "loss": self.loss, "dtype": self.dtype, "batch": self.batch}

    def to_json(self) -> dict[str, Any]:
        """The whole case as JSON-ready data; floats round-trip exactly."""
        return {**self.summary(),
                "weights": [w.tolist() for w in self.weights],
                "biases": [v.tolist() for v in self.biases],
                "x": self.x.tolist(), "t": self.t.tolist()}

    def dumps(self) -> str:
        """The compact JSON text of the case."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        """Rebuild a case from :meth:`to_json` data."""
        try:
            return cls(widths=tuple(data["widths"]), activations=tuple(data["activations"]),
                       loss=data["loss"], dtype=data.get("dtype", "float64"),
                       weights=tuple(data["weights"]), biases=tuple(data["biases"]),
                       x=data["x"], t=data["t"])
        except DeltacheckError:
            raise  # already names the field and the fix
        except KeyError as exc:
            raise DeltacheckError(f"a case needs widths, activations, loss, weights, biases, "
                                  f"x and t; {exc} is missing") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise DeltacheckError(f"a case needs widths (whole numbers), activations (names), "
                                  f"loss, weights, biases, x and t (arrays of numbers); a field "
                                  f"is malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def loads(cls, text: str) -> Case:
        """Parse the JSON text of a case."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise DeltacheckError(f"case JSON does not parse: {exc}") from None
        if not isinstance(data, dict):
            raise DeltacheckError("case JSON must be an object with widths, activations, ...")
        return cls.from_json(data)
