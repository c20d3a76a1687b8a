"""Where a failing backprop first goes wrong, and why (see evidence.py and causes.py).

The walk goes the way the error flows: the loss, the output δ, each hidden δ from the top
down, and then ∂W and ∂b (which can only be the first wrong when every δ is right). The step
that produced the first wrong quantity is then recomputed from the implementation's own
inputs to that step (its δ[l+1] for δ[l], its δ[l] for ∂W[l] and ∂b[l]) with the true
pre-activations a, activations z and an h'(a) taken from central differences of h (never an
implementation's derivative). Candidate slips are tried against the implementation's value
(h' at z, a missing h', another activation's h', a transposed W, a instead of z, a subset of
the samples, a constant factor, ...); the first that reproduces it within the comparison's
own tolerance names the kind. Truth is the torch oracle's values, else jax's, else fd's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deltacheck.core.verdicts import FAIL, PASS
from deltacheck.diagnosis.causes import Causes
from deltacheck.judging import check
from deltacheck.judging.records import first_wrong, walk_order

KINDS = ("factor", "sign", "transpose", "activation_derivative", "output_error", "loss_value",
         "assembly", "per_sample", "precision", "nonfinite", "overflow", "near_kink", "forward",
         "nondeterministic", "stateful", "aliasing", "unknown")
TRUTH_ORDER = ("torch", "jax", "fd")


@dataclass
class Diagnosis:
    """The first wrong quantity, the kind of bug, one sentence of detail, and per-layer checks."""

    q: str | None  # loss, output_delta, hidden_delta, grad_weights, grad_biases
    layer: int | None
    kind: str
    detail: str
    truth: str
    layers: list[dict[str, Any]] = field(default_factory=list)
    worst_delta: dict[str, Any] | None = None

    @property
    def where(self) -> str:
        """The first wrong quantity as the protocol indexes it: E, δ[1] (hidden, tanh), ∂W[0]."""
        return where_text(self.q, self.layer, self.layers)

    def to_json(self) -> dict[str, Any]:
        """``{"first_wrong": {"q", "layer"}, "kind", "detail", "layers", ...}``."""
        return {"first_wrong": {"q": self.q, "layer": self.layer}, "kind": self.kind,
                "detail": self.detail, "truth": self.truth, "where": self.where,
                "layers": self.layers, "worst_delta": self.worst_delta}


def where_text(q: str | None, layer: int | None, layers: list[dict[str, Any]] | None = None
               ) -> str:
    """E, δ[l] (output), δ[l] (hidden, tanh), ∂W[l] or ∂b[l]."""
    if q is None:
        return "no quantity"
    if q == "loss":
        return "E"
    if q in ("output_delta", "hidden_delta"):
        act = next((r.get("activation") for r in layers or [] if r.get("layer") == layer), None)
        role = "output" if q == "output_delta" else "hidden"
        return f"δ[{layer}] ({role}{', ' + act if act and role == 'hidden' else ''})"
    return f"{'∂W' if q == 'grad_weights' else '∂b'}[{layer}]"


def truth_oracle(result: Any) -> str | None:
    """The oracle whose values stand for the truth: torch, else jax, else fd."""
    present = [n for n in TRUTH_ORDER if n in result.oracle_values and n in result.oracles]
    present += [n for n in result.oracle_values if n in result.oracles and n not in present]
    return present[0] if present else None


def diagnose(result: Any) -> Diagnosis | None:
    """The diagnosis of a failing case; None for a passing one or one without values."""
    if result.verdict == PASS or result.impl_values is None:
        return None
    name = truth_oracle(result)
    if name is None:
        return None
    with np.errstate(all="ignore"):  # nan and inf in the implementation's values are evidence
        return _diagnose(result, name)


def _diagnose(result: Any, name: str) -> Diagnosis:
    d = Causes(result, name)
    found = first_wrong({k: r.verdict for k, r in d.res.items()}, d.L)
    nondeterministic = getattr(result, "nondeterministic", "") or ""
    layers = d.layer_rows()
    worst = next((r["worst"] for r in reversed(layers) if r["worst"]), None)
    q, l = found if found else (None, None)
    below = nondeterministic and below_allowance(d, result)
    aliased = getattr(result, "aliased", "") or ""
    if aliased:
        kind = "aliasing"
        detail = (f"the implementation returns arrays it does not own ({aliased}): a result "
                  f"read later may have changed")
        if found is None:
            q, l = _first_named(aliased, d.L) or (None, None)
    elif nondeterministic and (found is None or not below):
        kind, detail = "nondeterministic", f"two runs on the same case differ in {nondeterministic}"
        if below:
            detail += (" (within the comparison's allowance: not bit-reproducible, and "
                       "nothing else disagrees)")
        if found is None:  # this run's values may be right: blame what differed between runs
            q, l = _first_named(str(nondeterministic), d.L) or (None, None)
    elif found is None:
        others = [o for o, r in result.oracles.items() if r.verdict == FAIL and o != name]
        detail = (f"the {name} oracle agrees; only {' and '.join(others)} "
                  f"{'disagrees' if len(others) == 1 else 'disagree'}"
                  if others else f"the values agree with {name}")
        if result.impl_problem:
            detail += f"; {check.about_implementation(result.impl_problem)}"
        kind = "unknown"
    else:
        kind, detail = d.kind_of(*found)
        if below:
            detail += (f"; also not bit-reproducible (two runs differ in {nondeterministic}, "
                       f"within the comparison's allowance)")
    unseen = d.unseen_text()
    if unseen:
        detail += f"; {unseen}"
    return Diagnosis(q=q, layer=l, kind=kind, detail=detail, truth=name, layers=layers,
                     worst_delta=worst)


def below_allowance(d: Causes, result: Any) -> bool:
    """Whether two runs' values differ by no more than the comparison allows, everywhere."""
    again = getattr(result, "again", None)
    if again is None:
        return False
    for q, l in walk_order(d.L):
        if (q, l) not in d.res:
            continue
        x = np.asarray(result.impl_values.loss if l is None else result.impl_values.quantity(q)[l])
        y = np.asarray(again.loss if l is None else again.quantity(q)[l])
        with np.errstate(all="ignore"):
            same = (np.abs(x - y) <= d.allowed(q, l)) | (x == y)
        if not np.all(same):
            return False
    return True


def _first_named(text: str, n_layers: int) -> tuple[str, int | None] | None:
    """The first quantity of the walk that ``CaseResult.nondeterministic`` names ("δ[2] (…")."""
    symbol = {"loss": "E", "deltas": "δ", "grad_weights": "∂W", "grad_biases": "∂b"}
    for q, l in walk_order(n_layers):
        name = symbol[q] if l is None else f"{symbol[q]}[{l}]"
        if name + " (" in text or name + " shares" in text:
            return first_wrong({(q, l): FAIL}, n_layers)
    return None


def diagnosis_json(result: Any) -> dict[str, Any] | None:
    """``diagnose(result)`` as JSON; a diagnosis that breaks says so instead of ending the run."""
    try:
        found = diagnose(result)
    except Exception as exc:  # an odd implementation output must never take the run down
        return {"first_wrong": {"q": None, "layer": None}, "kind": "unknown",
                "detail": f"the diagnosis could not be made ({type(exc).__name__}: {exc})",
                "truth": None, "where": "no quantity", "layers": [], "worst_delta": None}
    return found.to_json() if found is not None else None
