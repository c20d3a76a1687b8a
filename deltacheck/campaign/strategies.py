"""Hypothesis strategies for networks and cases.

``architectures()`` draws widths, hidden activations and a loss; ``cases()`` adds weights,
biases, inputs and targets. Values are well-conditioned: weights are scaled by 1/√fan-in so
pre-activations stay O(1) at any depth, and targets are valid for their loss (bce in [0, 1],
ce rows on the simplex). A quarter of the cases have a weight gain of 3 or 10, which saturates
tanh and sigmoid and makes logits large. A share of the cases is then moved on purpose into
the regions where bugs hide (deltacheck.regions): one case in two into the overflow regime
(every layer, or one, with units past the limit of both signs),
one in three gets units at k ± 10⁻ᵘ of their kinks, one in eight inputs over several magnitudes,
half of the bce and ce cases exact 0/1 labels or one-hot rows (all rows or some). The
architecture shrinks toward one layer, one unit and one sample, the gain toward 1, and every
region toward "not visited".
"""

from __future__ import annotations

import difflib
import functools
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from deltacheck.campaign import regions as regions_
from deltacheck.core import activations as registry
from deltacheck.core.case import DEFAULT_LOSSES, DTYPES, LOSSES, Case
from deltacheck.core.errors import DeltacheckError

GAINS = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 3.0, 10.0)
# Strategy objects are built once, not in every draw: building and validating one costs
# about as much as drawing from it.
_GAIN = st.sampled_from(GAINS)
# yes/no with odds of one in k; "no" comes first, so that it is what a case shrinks to
_ONE_IN = {k: st.sampled_from((False,) * (k - 1) + (True,)) for k in (2, 3, 5, 8, 16)}
_LABELS = st.sampled_from(("soft", "soft", "exact", "mixed"))
_SEED = st.integers(0, 2**32 - 1)
_KINK_CHOICE = st.integers(0, 2**16)


@dataclass(frozen=True)
class Architecture:
    """Widths n[0..L], the L − 1 hidden activations and the loss."""

    widths: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str


def _check_bounds(name: str, low: int, high: int, smallest: int) -> None:
    for arg, value in ((f"min_{name}", low), (f"max_{name}", high)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise DeltacheckError(f"{arg}={value!r} must be an int")
    if low < smallest:
        raise DeltacheckError(f"min_{name}={low} must be at least {smallest}")
    if low > high:
        raise DeltacheckError(f"min_{name}={low} is larger than max_{name}={high}")


def _check_choice(arg: str, values: Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    if values is None:
        return list(allowed)
    values = list(values)
    if not values:
        raise DeltacheckError(f"{arg} is empty; give at least one of {', '.join(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise DeltacheckError(f"{arg} has unknown {', '.join(map(repr, unknown))}; "
                              f"choose from {', '.join(allowed)}")
    return values


def architectures(*, min_layers: int = 1, max_layers: int = 5, min_width: int = 1,
                  max_width: int = 8, activations: Sequence[str] | None = None,
                  losses: Sequence[str] | None = None) -> st.SearchStrategy[Architecture]:
    """Networks of ``min_layers``–``max_layers`` weight layers and widths in bounds."""
    return st.composite(_architecture_drawer(
        min_layers=min_layers, max_layers=max_layers, min_width=min_width, max_width=max_width,
        activations=activations, losses=losses))()


def _architecture_drawer(*, min_layers: int = 1, max_layers: int = 5, min_width: int = 1,
                         max_width: int = 8, activations: Sequence[str] | None = None,
                         losses: Sequence[str] | None = None) -> Callable[[Any], Architecture]:
    """The body of ``architectures()``: ``cases()`` calls it inside its own draw."""
    _check_bounds("layers", min_layers, max_layers, 1)
    _check_bounds("width", min_width, max_width, 1)
    acts = _check_choice("activations", activations, sorted(registry.REGISTRY))
    loss_names = (list(DEFAULT_LOSSES) if losses is None
                  else _check_choice("losses", losses, LOSSES))

    loss_s, width_s = st.sampled_from(loss_names), _integers(min_width, max_width)
    # Each hidden layer is one (width, activation) block, so that the shrinker can delete a
    # whole layer by deleting one block of the draw.
    hidden_s = st.lists(st.tuples(width_s, st.sampled_from(acts)),
                        min_size=min_layers - 1, max_size=max_layers - 1)

    def draw_architecture(draw: Any) -> Architecture:
        # One loss (as in a campaign) is no choice: neither a draw nor an event (each costs
        # Hypothesis some bookkeeping), as a statistic of 100% says nothing.
        if len(loss_names) == 1:
            loss = loss_names[0]
        else:
            loss = draw(loss_s)
            event(f"loss={loss}")
        n_in = draw(width_s)
        hidden_layers = draw(hidden_s)
        n_out = draw(width_s)
        if loss == "ce" and max_width >= 2:  # softmax over one class is constant: E ≡ 0
            n_out = max(n_out, 2)
        widths = [n_in, *(n for n, _ in hidden_layers), n_out]
        hidden = tuple(act for _, act in hidden_layers)
        event(f"layers={len(widths) - 1}")
        return Architecture(widths=tuple(widths), activations=hidden, loss=loss)

    return draw_architecture


def event(label: str) -> None:
    """Hypothesis statistics (``--hypothesis-show-statistics``); harmless outside a test."""
    if currently_in_test_context():
        hypothesis_event(label)


@functools.lru_cache(maxsize=256)
def _integers(low: int, high: int) -> st.SearchStrategy[int]:
    """``st.integers(low, high)``, built once per range (Hypothesis's own cache costs more)."""
    return st.integers(low, high)


def _draw_from(strategy: st.SearchStrategy[Architecture], draw: Any) -> Architecture:
    return draw(strategy)


def _fixed(architecture: Architecture, draw: Any) -> Architecture:
    return architecture


def _parameters(rng: np.random.Generator, n: Sequence[int], N: int, gain: float,
                dtype: str) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Weights, biases and inputs x, each entry of magnitude uniform in its range, either sign.

    Magnitudes: weights (0.1–1)·gain·√(3/fan-in), biases 0.05–0.5, inputs 0–2. Every entry
    comes from the same two numpy calls, cut apart afterwards: a numpy call costs more than
    the few entries of a small network.
    """
    L = len(n) - 1
    shapes = [(n[l + 1], n[l]) for l in range(L)] + [(n[l + 1],) for l in range(L)] + [(N, n[0])]
    top = [gain * math.sqrt(3.0 / n[l]) for l in range(L)] + [0.5] * L + [2.0]
    least = [0.1 * bound for bound in top[:L]] + [0.05] * L + [0.0]
    sizes = [math.prod(shape) for shape in shapes]
    low, high = np.repeat(least, sizes), np.repeat(top, sizes)
    values = low + (high - low) * rng.random(low.size)
    np.negative(values, out=values, where=rng.random(low.size) < 0.5)
    values = values.astype(dtype, copy=False)
    ends = np.cumsum(sizes).tolist()
    parts = [values[end - size:end].reshape(shape)
             for end, size, shape in zip(ends, sizes, shapes, strict=True)]
    return parts[:L], parts[L:2 * L], parts[-1]


def _check_bound_names(bounds: dict[str, Any]) -> None:
    known = [p for p in inspect.signature(architectures).parameters]
    for name in bounds:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]}=? " if close else ""
            raise DeltacheckError(f"cases() got an unknown argument {name}=; {hint}it takes "
                                  f"architecture=, impl=, min_batch=, max_batch=, dtype= and "
                                  f"the bounds of architectures(): {', '.join(known)}")


def _supported(impl: Callable[..., Any], activations: Sequence[str] | None) -> list[str]:
    """The activations to draw for ``impl``: those it declares, within ``activations``."""
    declared = registry.declared_activations(impl, argument="impl")
    chosen = _check_choice("activations", activations, sorted(registry.REGISTRY))
    if declared is None:
        return chosen
    supported = [a for a in chosen if a in declared]
    if not supported:
        raise DeltacheckError(f"impl supports only {', '.join(sorted(declared))}, none of "
                              f"activations={chosen}; register its activations or pick among them")
    return supported


def _visit_regions(draw: Any, rng: np.random.Generator, arch: Architecture,
                   weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray,
                   dtype: str) -> str:
    """Move a share of the cases into the regions where bugs hide; return the label kind.

    Each region is a separate draw whose first choice is "no", so that the shrinker removes
    the regions a failure does not need.
    """
    if draw(_ONE_IN[8]):
        regions_.spread_magnitudes(rng, x)
        event("inputs over several magnitudes")
    if draw(_ONE_IN[2]):
        # every layer, or (one case in three) only one: an overflow bug of one activation
        # needs the layer that has it, wherever the architecture put it
        layers = range(len(weights))
        if draw(_ONE_IN[3]):
            layers = range(draw(_integers(0, len(weights) - 1)), len(weights))[:1]
        for m in layers:
            regions_.overflow(rng, weights, biases, arch.activations, x, m, dtype)
        event(f"overflow regime ({'every layer' if len(layers) > 1 else 'one layer'})")
    if draw(_ONE_IN[3]):
        choice = draw(_KINK_CHOICE)
        if regions_.near_kink(rng, weights, biases, arch.activations, x, choice, dtype):
            event("units next to a kink")
    if arch.loss == "mse":
        return "soft"
    return draw(_LABELS)


def cases(architecture: Architecture | st.SearchStrategy[Architecture] | None = None, *,
          impl: Callable[..., Any] | None = None, min_batch: int = 1, max_batch: int = 6,
          dtype: str = "float64", regions: bool = True, wide_width: int | None = None,
          wide_batch: int | None = None, one_hot: bool = False,
          **architecture_bounds: Any) -> st.SearchStrategy[Case]:
    """Whole cases: an architecture (drawn with ``architecture_bounds`` if not given) and values.

    With ``impl``, hidden layers draw only the activations in ``impl.activations`` (when it has
    that attribute), as a campaign does. With ``regions`` (the default) a share of the cases is
    moved on purpose into the regions where bugs hide (deltacheck.regions): overflow, the
    neighbourhood of a kink, exact labels, inputs over several magnitudes. ``wide_width`` and
    ``wide_batch`` let one case in 8 have a layer wider than the bounds (up to
    ``wide_width``) and one in 8 a larger batch: sizes that break fixed buffers and chunking.
    ``one_hot`` draws one-hot ce targets (for implementations that take class labels).
    """
    _check_bounds("batch", min_batch, max_batch, 1)
    _check_bound_names(architecture_bounds)
    for arg, value, bound in (("wide_width", wide_width, architecture_bounds.get("max_width", 8)),
                              ("wide_batch", wide_batch, max_batch)):
        if value is not None and (not isinstance(value, int) or value <= bound):
            raise DeltacheckError(f"{arg}={value!r} must be a whole number above {bound}, "
                                  f"or None for no larger sizes")
    if dtype not in DTYPES:
        raise DeltacheckError(f"dtype={dtype!r} must be one of {', '.join(DTYPES)}")
    if architecture is not None and (architecture_bounds or impl is not None):
        raise DeltacheckError("pass either architecture= or impl= and architecture bounds, "
                              "not both")
    draw_architecture: Callable[[Any], Architecture]
    if architecture is None:
        if impl is not None:
            architecture_bounds["activations"] = _supported(
                impl, architecture_bounds.get("activations"))
        # drawn inside this draw, not as a strategy of its own: one level of bookkeeping less
        draw_architecture = _architecture_drawer(**architecture_bounds)
    elif isinstance(architecture, st.SearchStrategy):
        draw_architecture = functools.partial(_draw_from, architecture)
    else:
        draw_architecture = functools.partial(_fixed, architecture)
    batch_s = _integers(min_batch, max_batch)
    wide_batch_s = None if wide_batch is None else _integers(max_batch + 1, wide_batch)

    @st.composite
    def draw(draw: Any) -> Case:
        arch = draw_architecture(draw)
        n = arch.widths
        N = draw(batch_s)
        if wide_batch_s is not None and draw(_ONE_IN[8]):
            N = draw(wide_batch_s)
            event("a large batch")
        if wide_width is not None and max(n) < wide_width and draw(_ONE_IN[8]):
            wide = list(n)
            wide[draw(_integers(0, len(n) - 1))] = draw(_integers(max(n) + 1, wide_width))
            n = tuple(wide)
            event("a wide layer")
        # The numbers come from one drawn seed, not one draw each: then the shrinker can delete
        # a layer or a sample without misaligning every value drawn after it, and so reaches
        # a minimal network.
        rng = np.random.default_rng(draw(_SEED))
        # Weights of magnitude 0.1–1 scaled by √(3/fan-in): a[l] stays O(1) at any depth, and
        # no weight or bias is exactly 0, which would make whole layers dead or degenerate.
        # One case in four has a larger gain, to reach saturated tanh and sigmoid units and
        # logits in the tens, where naive formulas lose their accuracy or overflow.
        gain = draw(_GAIN)
        event(f"weight gain {gain:g}")
        weights, biases, x = _parameters(rng, n, N, gain, dtype)
        # Now and then one sample sits at the origin with zero first-layer biases, as with
        # zero-initialised biases and a padded input: every first-layer unit is then exactly
        # on a ReLU-like kink, which the campaign must count as not judged.
        if draw(_ONE_IN[8]):
            x[0] = 0
            biases[0] = np.zeros_like(biases[0])
            event("a sample at the origin (kinks)")
        labels = "soft"
        if regions:
            labels = _visit_regions(draw, rng, arch, weights, biases, x, dtype)
        if one_hot and arch.loss == "ce":  # an implementation that takes class labels
            labels = "exact"
        t = regions_.targets(rng, arch.loss, (N, n[-1]), dtype, labels)
        return Case(widths=n, activations=arch.activations, loss=arch.loss, dtype=dtype,
                    weights=tuple(weights), biases=tuple(biases), x=x, t=t)

    return draw()
