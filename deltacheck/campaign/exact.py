"""``--widths 784,30,10``: the campaign on exactly the network a user trains.

The widths and hidden activations are fixed; each case is drawn as a batch size and one seed,
from which every weight, bias, input and target (and the regions it visits) follow. So a case
at real size is stored as that seed and its widths, never as its arrays: a failure keeps the
seed and the worst entries, and its replay file regenerates the whole case from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from deltacheck.campaign import regions
from deltacheck.campaign.strategies import GAINS, _parameters
from deltacheck.core import activations as registry
from deltacheck.core.activations import declared_activations
from deltacheck.core.case import DTYPES, LOSSES, Case
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.words import plural

SCHEMA = "deltacheck-seeded-case/1"


@dataclass(frozen=True, eq=False)
class SeededCase(Case):
    """A case regenerated exactly from its seed (``exact_case``): stored as ``spec()``."""

    seed: int = 0

    def spec(self) -> dict[str, Any]:
        """What regenerates the case: its architecture, batch and seed."""
        return {"schema": SCHEMA, **self.summary(), "seed": self.seed}

    def dumps(self) -> str:
        """The compact JSON text of the spec: a replay file regenerates the arrays."""
        return json.dumps(self.spec(), separators=(",", ":"))


def parse_widths(text: str) -> tuple[int, ...]:
    """``784,30,10`` as (784, 30, 10): two or more whole numbers ≥ 1."""
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        widths = ()
    if len(widths) < 2 or min(widths) < 1:
        raise DeltacheckError(f"--widths {text!r} must be two or more whole numbers ≥ 1, "
                              f"n[0],...,n[L], e.g. 784,30,10")
    return widths


def hidden_activations(widths: Sequence[int], names: Sequence[str] | None,
                       impl: Any) -> tuple[str, ...]:
    """The activation of each hidden layer: one name per hidden layer, or one for all."""
    hidden = len(widths) - 2
    if hidden == 0:
        if names:
            raise DeltacheckError(f"--activations {','.join(names)}: --widths "
                                  f"{','.join(map(str, widths))} has no hidden layer; leave "
                                  f"--activations out")
        return ()
    if not names or len(names) not in (1, hidden):
        raise DeltacheckError(f"--widths {','.join(map(str, widths))} has "
                              f"{plural(hidden, 'hidden layer')}: give --activations one name "
                              f"for all of them or {plural(hidden, 'name')}, one per layer, "
                              f"e.g. --activations "
                              f"{','.join(['relu'] * hidden)}")
    chosen = tuple(names) * hidden if len(names) == 1 else tuple(names)
    unknown = sorted({a for a in chosen if a not in registry.REGISTRY})
    if unknown:
        raise DeltacheckError(f"--activations has unknown {', '.join(unknown)}; registered: "
                              f"{', '.join(sorted(registry.REGISTRY))}")
    declared = declared_activations(impl)
    if declared is not None and not set(chosen) <= set(declared):
        raise DeltacheckError(f"--impl supports only {', '.join(sorted(declared))}; "
                              f"--activations {','.join(names)} asks for others")
    return chosen


def exact_case(widths: Sequence[int], activations: Sequence[str], loss: str, dtype: str,
               batch: int, seed: int, *, one_hot: bool = False) -> SeededCase:
    """The case of this seed: every value and every region visited follow from it.

    As in ``strategies.cases()``: weights scaled by √(3/fan-in), a gain of 3 or 10 in a
    quarter of the cases, and the regions where bugs hide in the same shares.
    """
    rng = np.random.default_rng(seed)
    n = tuple(int(w) for w in widths)
    gain = GAINS[int(rng.integers(len(GAINS)))]
    weights, biases, x = _parameters(rng, n, batch, gain, dtype)
    if rng.random() < 1 / 8:
        regions.spread_magnitudes(rng, x)
    if rng.random() < 1 / 2:  # every layer, or one in three cases only one
        layers = range(len(weights))
        if rng.random() < 1 / 3:
            layers = range(int(rng.integers(len(weights))), len(weights))[:1]
        for m in layers:
            regions.overflow(rng, weights, biases, activations, x, m, dtype)
    if rng.random() < 1 / 3:
        regions.near_kink(rng, weights, biases, activations, x, int(rng.integers(2**16)),
                          dtype)
    labels = "soft" if loss == "mse" else ("soft", "soft", "exact", "mixed")[
        int(rng.integers(4))]
    if one_hot and loss == "ce":
        labels = "exact"
    t = regions.targets(rng, loss, (batch, n[-1]), dtype, labels)
    return SeededCase(widths=n, activations=tuple(activations), loss=loss, dtype=dtype,
                      weights=tuple(weights), biases=tuple(biases), x=x, t=t, seed=seed)


def cases(widths: Sequence[int], activations: Sequence[str], loss: str, *, dtype: str,
          max_batch: int, one_hot: bool = False) -> st.SearchStrategy[SeededCase]:
    """Cases of exactly this network: a batch of 1..``max_batch`` and a seed are drawn (and
    shrunk), never the widths."""
    return st.builds(lambda batch, seed: exact_case(widths, activations, loss, dtype, batch,
                                                    seed, one_hot=one_hot),
                     st.integers(1, max_batch), st.integers(0, 2**32 - 1))


def regenerate(data: Mapping[str, Any]) -> SeededCase:
    """The case a spec (``SeededCase.spec()``, a replay file) names."""
    try:
        case = exact_case(tuple(data["widths"]), tuple(data["activations"]), data["loss"],
                          data.get("dtype", "float64"), int(data["batch"]), int(data["seed"]))
    except KeyError as exc:
        raise DeltacheckError(f"a seeded case needs widths, activations, loss, batch and seed; "
                              f"{exc} is missing") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise DeltacheckError(f"a seeded case's fields are malformed "
                              f"({type(exc).__name__}: {exc})") from None
    if case.dtype not in DTYPES or case.loss not in LOSSES:
        raise DeltacheckError("a seeded case names an unknown dtype or loss")
    return case


def compact_failure(failure: dict[str, Any], case: SeededCase) -> dict[str, Any]:
    """A failure at real size kept small: the case as its spec, no arrays of values; every
    oracle's record keeps each quantity's worst entry, the implementation's value there and the
    oracle's."""
    return {**failure, "case": case.spec(), "values": {}, "compact": True}
