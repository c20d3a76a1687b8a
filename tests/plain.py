"""Cases as plain arrays, for losses and conventions that deltacheck.case.Case does not take yet.

Every oracle and the reference take plain arrays, so these tests call them directly; the
comparison is deltacheck's own rule (compare_entries), with each oracle's kink masks and error
bars, so a failure reads like the campaign's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from deltacheck import tolerances
from deltacheck.core import activations as registry
from deltacheck.core.gradients import QUANTITIES, Gradients
from deltacheck.judging.compare import NOT_JUDGED, PASS, SYMBOL, compare_entries

SMOOTH = ("tanh", "sigmoid", "softplus", "gelu", "silu")


@dataclass(frozen=True)
class Plain:
    """One network, its parameters and one batch, as the protocol passes them."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activations: tuple[str, ...]
    loss: str
    x: np.ndarray
    t: np.ndarray

    @property
    def n_layers(self) -> int:
        """L, the number of weight layers."""
        return len(self.weights)

    @property
    def batch(self) -> int:
        """N, the number of samples."""
        return len(self.x)

    def arguments(self) -> tuple[list[np.ndarray], list[np.ndarray], list[str], str,
                                 np.ndarray, np.ndarray]:
        """Fresh, writable copies of the protocol's arguments."""
        return ([w.copy() for w in self.weights], [v.copy() for v in self.biases],
                list(self.activations), self.loss, self.x.copy(), self.t.copy())

    def truth(self, oracle: Any) -> Gradients:
        """The oracle module's values for this case."""
        hidden = [registry.get(name) for name in self.activations]
        return oracle.gradients(list(self.weights), list(self.biases), hidden, self.loss,
                                self.x, self.t)


def targets(rng: np.random.Generator, loss: str, shape: tuple[int, int], *,
            one_hot: bool = False, exact: bool = False) -> np.ndarray:
    """Targets that the loss takes; ``exact`` puts them on the ends of the output's range."""
    N, n = shape
    if one_hot or (loss == "ce" and exact):
        return np.eye(n)[rng.integers(n, size=N)]
    t = {"mse": lambda: rng.normal(size=shape),
         "bce": lambda: rng.uniform(size=shape),
         "ce": lambda: rng.dirichlet(np.ones(n), size=N),
         "mse_sigmoid": lambda: rng.uniform(size=shape),
         "mse_tanh": lambda: rng.uniform(-1.0, 1.0, size=shape)}[loss]()
    if exact and loss in ("bce", "mse_sigmoid"):
        return np.round(t)
    if exact and loss == "mse_tanh":
        return np.where(t < 0, -1.0, 1.0)
    return t


def draw_plain(rng: np.random.Generator, widths: tuple[int, ...], activations: tuple[str, ...],
               loss: str, *, batch: int = 3, scale: float = 1.0, one_hot: bool = False,
               exact: bool = False) -> Plain:
    """A case drawn from ``rng``; ``scale`` multiplies the usual 1/√n_in weights."""
    L = len(widths) - 1
    weights = tuple(scale * rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
                    for l in range(L))
    biases = tuple(0.5 * rng.normal(size=widths[l + 1]) for l in range(L))
    x = rng.normal(size=(batch, widths[0]))
    t = targets(rng, loss, (batch, widths[-1]), one_hot=one_hot, exact=exact)
    return Plain(weights, biases, tuple(activations), loss, x, t)


@st.composite
def plain_cases(draw: Any, *, losses: tuple[str, ...], activations: tuple[str, ...] = SMOOTH,
                max_layers: int = 3, max_width: int = 4, max_batch: int = 4,
                scales: tuple[float, ...] = (0.5, 1.0, 3.0), one_hot: bool = False,
                batch: int | None = None) -> Plain:
    """Small cases: the sizes from Hypothesis (so they shrink), the numbers from a seeded rng."""
    L = draw(st.integers(1, max_layers))
    low = 2 if one_hot or "ce" in losses else 1  # softmax over one unit is constant
    widths = tuple(draw(st.lists(st.integers(1, max_width), min_size=L, max_size=L)))
    widths = (*widths, draw(st.integers(low, max(low, max_width))))
    acts = tuple(draw(st.lists(st.sampled_from(activations), min_size=L - 1, max_size=L - 1)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return draw_plain(rng, widths, acts, draw(st.sampled_from(losses)),
                      batch=batch or draw(st.integers(1, max_batch)),
                      scale=draw(st.sampled_from(scales)),
                      one_hot=one_hot, exact=draw(st.booleans()))


def disagreements(got: dict[str, Any], truth: Gradients, *, oracle: str, context: str = "",
                  keys: tuple[str, ...] = ("loss", *QUANTITIES)) -> list[str]:
    """Every quantity of ``got`` that fails deltacheck's rule against ``truth``, one line each."""
    rtol = tolerances.lookup(oracle, "float64").rtol
    floor = tolerances.atol("float64", truth.loss)
    lines = []
    for key in keys:
        masks, bars = truth.unjudged.get(key), truth.uncertainty.get(key)
        pairs = ([(None, got["loss"], truth.loss, None, truth.loss_uncertainty)] if key == "loss"
                 else [(l, v, truth.quantity(key)[l], masks[l] if masks else None,
                        bars[l] if bars else 0.0) for l, v in enumerate(got[key])])
        for layer, x, y, unjudged, u in pairs:
            q = compare_entries(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                unjudged=unjudged, uncertainty=u, rtol=rtol, floor=floor,
                                quantity=key, layer=layer)
            if q.verdict not in (PASS, NOT_JUDGED):
                label = "E" if layer is None else f"{SYMBOL[key]}[{layer}]"
                where = f"[{', '.join(map(str, q.worst))}]" if q.worst else ""
                lines.append(f"{label}{where} = {q.impl_value:.6g}, but {oracle} says "
                             f"{q.oracle_value:.6g} ({context}, rel err {q.err:.1e})")
    return lines


def assert_agrees(got: dict[str, Any], truth: Gradients, *, oracle: str, case: Plain,
                  keys: tuple[str, ...] = ("loss", *QUANTITIES)) -> None:
    """Fail with the first disagreement, in the project's message form, and the case's shape."""
    __tracebackhide__ = True
    context = f"{', '.join(case.activations) or 'no hidden'}, {case.loss}, float64"
    lines = disagreements(got, truth, oracle=oracle, context=context, keys=keys)
    if lines:
        widths = (case.weights[0].shape[1], *[w.shape[0] for w in case.weights])
        raise AssertionError(f"{lines[0]}\n  ({len(lines)} quantities disagree; widths {widths}, "
                             f"batch {case.batch})")
