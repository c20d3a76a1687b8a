"""Audit one activation function: five checks, each with its own verdict.

1. derivative: the hand-written dh against torch autograd, jax grad and central differences
   of h, point by point (``audit_derivative``);
2. kinks: where the one-sided difference quotients of h disagree, against the declared kinks
   (``audit_shape``); a warning, never a failure;
3. frameworks: h and dh give the same values under numpy, torch and jax (``audit_frameworks``);
4. finite range: where h and dh stay finite in float64 and float32 (``audit_shape``);
5. networks: the ``run`` campaign on the reference implementation with only this activation
   and identity in the hidden layers, all three losses, every oracle.

An activation passes when checks 1, 3 and 5 pass. The document (``deltacheck-audit/1``) is
written through ``deltacheck.output`` like every other command's.
"""

from __future__ import annotations

import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis.errors import HypothesisException

from deltacheck import campaign
from deltacheck.audit import conditioning
from deltacheck.audit import derivative as audit_derivative
from deltacheck.audit import frameworks as audit_frameworks
from deltacheck.audit import shape as audit_shape
from deltacheck.audit.frameworks import FrameworkFailure, NumpyEval
from deltacheck.campaign import reproduce
from deltacheck.core import activations as registry
from deltacheck.core import tolerances
from deltacheck.core.activations import Activation
from deltacheck.core.case import DEFAULT_LOSSES as LOSSES
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_activation
from deltacheck.oracles import unavailable_reason
from deltacheck.results.document import environment

SCHEMA = "deltacheck-audit/1"
REFERENCE = "deltacheck.reference_impl:backprop"
DECIDING = ("derivative", "frameworks", "networks")  # the checks a verdict rests on
PROBE = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])


@dataclass(frozen=True)
class AuditConfig:
    """How hard an audit tries; the CLI builds one from its options."""

    oracles: Sequence[str] = ("torch", "jax", "fd")
    batches: int = 100  # Hypothesis batches of 64 points for check 1
    examples: int = 60  # network cases for check 5, split over the three losses
    seed: int | None = None
    failures_dir: str = "deltacheck-reports/failures"

    def __post_init__(self) -> None:
        if self.batches < 0:
            raise DeltacheckError(f"--batches {self.batches} must be 0 or more")
        if self.examples < 0 or 0 < self.examples < len(LOSSES):
            raise DeltacheckError(f"--examples {self.examples}: the network check runs all "
                                  f"{len(LOSSES)} losses, so give {len(LOSSES)} or more (or 0 to "
                                  f"skip it, which then does not pass)")
        for name in self.oracles:
            reason = unavailable_reason(name)
            if reason:
                others = ",".join(o for o in self.oracles if o != name) or "fd"
                raise DeltacheckError(f"--oracles: {reason}; or leave it out with --oracles "
                                      f"{others}")


def resolve(spec: str) -> Any:
    """The activation named by SPEC: a built-in name, ``MODULE:NAME`` or ``file.py:NAME``."""
    if ":" not in spec:
        if spec in registry.BUILTIN_NAMES:
            return registry.get(spec)
        known = ", ".join(registry.BUILTIN_NAMES)
        raise DeltacheckError(f"audit {spec!r}: not a built-in activation ({known}); give "
                              f"MODULE:NAME or path/to/file.py:NAME")
    act = load_activation(spec, argument="audit")
    if act.name in registry.BUILTIN_NAMES:
        raise DeltacheckError(f"audit {spec!r}: the name {act.name!r} is a built-in's; give the "
                              f"activation another name")
    ev = NumpyEval(act)
    for what, fn in (("h", ev.h), ("dh", ev.dh)):
        try:
            fn(PROBE.copy())
        except FrameworkFailure as exc:
            raise DeltacheckError(f"audit {spec!r}: {exc}; {what} must take a float64 numpy "
                                  f"array and return one of the same shape") from None
    _elementwise(act, spec, ev)
    return act


def _elementwise(act: Any, spec: str, ev: NumpyEval) -> None:
    """DeltacheckError unless h(a)[i] depends on a[i] alone (h of each entry by itself, and of
    the entries reversed, give the same values to rounding)."""
    whole = ev.h(PROBE.copy())
    alone = np.concatenate([ev.h(PROBE[i:i + 1].copy()) for i in range(PROBE.size)])
    turned = ev.h(PROBE[::-1].copy())[::-1]
    with np.errstate(all="ignore"):
        off = np.maximum(np.abs(whole - alone), np.abs(whole - turned))
    scale = 1e3 * tolerances.floor_scale("float64") * np.maximum(1.0, np.abs(whole))
    bad = np.flatnonzero(~(off <= scale) & np.isfinite(whole))
    if bad.size:
        i = int(bad[0])
        raise DeltacheckError(
            f"audit {spec!r}: h is not elementwise: h(a)[{i}] = {whole[i]:.6g} for a = "
            f"{tuple(float(v) for v in PROBE)}, but {alone[i]:.6g} for a[{i}] = {PROBE[i]:g} "
            f"alone; an activation maps each entry by itself (a softmax is a loss's output "
            f"function, not an activation)")


def _union(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    out: list[float] = []
    for k in [*a, *b]:
        if not any(abs(k - m) <= audit_shape.MATCH * max(1.0, abs(m)) for m in out):
            out.append(float(k))
    return tuple(sorted(out))


def check_networks(act: Any, spec: str, kinks: tuple[float, ...], config: AuditConfig,
                   seed: int) -> dict[str, Any]:
    """Check 5: the campaign with only this activation and identity in the hidden layers."""
    if config.examples == 0:
        return {"verdict": "not run", "cases": 0, "message": "skipped with --examples 0"}
    builtin = any(act is b for b in registry.BUILTINS)
    # The found kinks count as declared, so entries near them are not judged.
    audited = act if builtin else Activation(act.name, h=act.h, dh=act.dh, kinks=kinks)
    names = list(dict.fromkeys([act.name, "identity"]))
    cfg = campaign.Config(impl=_reference(), impl_spec=REFERENCE, examples=config.examples,
                          seed=seed, activations=names, oracles=list(config.oracles),
                          user_activations=[] if builtin else [spec],
                          failures_dir=config.failures_dir)
    with registry.registered([] if builtin else [audited]):
        outcome = campaign.run(cfg)
    doc = outcome.document
    reproduce.save_cases(doc, cfg.failures_dir, replace=False)  # the repro commands' files
    s = doc["summary"]
    minimal = [{"message": f["message"], "repro": f["repro"], "case": f["case"]}
               for f in doc["failures"] if f["minimal"]]
    return {"verdict": s["verdict"], "cases": s["cases"], "failed_cases": s["failed_cases"],
            "first_disagreement": s["first_disagreement"], "by_loss_oracle": s["by_loss_oracle"],
            "not_judged_entries": s["not_judged_entries"], "activations": names,
            "losses": list(cfg.losses), "oracles": list(cfg.oracles), "seed": seed,
            "minimal": minimal, "wall_time_s": doc["run"]["wall_time_s"]}


def _failed(check: str, why: str) -> dict[str, Any]:
    """The record of a check that could not finish: it fails, with the reason."""
    worst = {"a": None, "dh": None, "torch": None, "jax": None, "fd": None, "err": "inf"}
    return {"verdict": "fail", "points": 0, "worst": worst, "worst_beyond": [], "widened": {},
            "oracles": {}, "failing_points": 0,
            "failing_ranges": [], "message": f"the {check} check stopped: {why}"}


def _failed_kinks(declared: Sequence[float], why: str) -> dict[str, Any]:
    return {"verdict": "warn", "declared": list(declared), "found": [], "undeclared": [],
            "at": [], "warnings": [f"the kink search stopped: {why}"],
            "searched": [float(audit_derivative.GRID[0]), float(audit_derivative.GRID[1])]}


def _frameworks(act: Any, kinks: Sequence[float], config: AuditConfig) -> dict[str, Any]:
    """Check 3 on the special points and every tenth point of the grids."""
    a = np.concatenate([audit_derivative.special_points(kinks), audit_derivative.grid()[::10]])
    num = NumpyEval(act)
    return audit_frameworks.check_frameworks(
        act, a, ["numpy", *(o for o in config.oracles if o in ("torch", "jax"))],
        h_err=conditioning.h_error(act, a, num.h(a)),
        dh_err=conditioning.dh_error(act, a, num.dh(a)))


def _reference() -> Callable[..., Any]:
    from deltacheck.reference_impl import backprop

    return backprop


def audit_one(act: Any, spec: str, config: AuditConfig, seed: int) -> dict[str, Any]:
    """Every check of one activation, as its JSON record."""
    started = time.perf_counter()
    seconds: dict[str, float] = {}

    def timed(check: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        out = fn()
        seconds[check] = round(time.perf_counter() - t, 3)
        return out

    def guarded(check: str, fn: Callable[[], Any], failed: Callable[[str], Any]) -> Any:
        # An h or dh that raises partway (on some inputs only) is a finding, not a crash.
        try:
            return timed(check, fn)
        except (FrameworkFailure, HypothesisException) as exc:
            return failed(f"{type(exc).__name__}: {exc}" if isinstance(exc, HypothesisException)
                          else str(exc))

    declared = tuple(float(k) for k in (getattr(act, "kinks", ()) or ()))
    evals = timed("setup", lambda: audit_derivative.setup(act, config.oracles))
    kinks = guarded("kinks", lambda: audit_shape.check_kinks(act, declared, evals),
                    lambda why: _failed_kinks(declared, why))
    every_kink = _union(declared, kinks["found"])
    derivative, plot = guarded("derivative", lambda: audit_derivative.check_derivative(
        act, config.oracles, every_kink, batches=config.batches, seed=seed),
        lambda why: (_failed("derivative", why), {}))
    frameworks = guarded("frameworks", lambda: _frameworks(act, every_kink, config),
                         lambda why: {"verdict": "fail", "numpy": {"verdict": "fail",
                                                                   "message": why}})
    finite = timed("finite", lambda: audit_shape.check_range(act))
    networks = timed("networks", lambda: check_networks(act, spec, every_kink, config, seed))
    if plot:
        plot["h"] = guarded("plot", lambda: [audit_derivative.json_value(v) for v in
                                             NumpyEval(act).h(np.array(plot["a"]))], lambda _: [])
    record = {"name": act.name, "spec": spec, "derivative": derivative, "kinks": kinks,
              "finite": finite, "frameworks": frameworks, "networks": networks, "plot": plot}
    record["verdict"] = "pass" if all(record[c]["verdict"] == "pass" for c in DECIDING) else "fail"
    record["seconds"] = seconds
    record["wall_time_s"] = round(time.perf_counter() - started, 3)
    return record


def run(specs: Sequence[str], config: AuditConfig,
        progress: Callable[[str], None] | None = None, *,
        acts: Sequence[Any] | None = None) -> dict[str, Any]:
    """Audit every SPEC (resolved first, so bad input stops before any work) into one document;
    ``acts`` gives the activation objects themselves (from Python), SPEC only naming them."""
    acts = [resolve(spec) for spec in specs] if acts is None else list(acts)
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    started = time.time()
    records = []
    for spec, act in zip(specs, acts, strict=True):
        if progress:
            progress(f"auditing {act.name} ({spec})")
        # A user's h overflowing is a finding of check 4, not something to warn about.
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            records.append(audit_one(act, spec, config, seed))
    failed = [r["name"] for r in records if r["verdict"] != "pass"]
    return {
        "schema": SCHEMA,
        "environment": environment("float64", seed),
        "run": {"specs": list(specs), "seed": seed, "oracles": list(config.oracles),
                "batches": config.batches, "batch_size": audit_derivative.BATCH,
                "examples": config.examples, "grid": list(audit_derivative.GRID),
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                "wall_time_s": round(time.time() - started, 3)},
        "tolerances": tolerances.as_dicts(),
        "summary": {"verdict": "fail" if failed else "pass", "activations": len(records),
                    "failed": failed},
        "activations": records,
    }


def exit_code(doc: dict[str, Any]) -> int:
    """0 when every activation passes checks 1, 3 and 5; 1 otherwise."""
    return 0 if doc["summary"]["verdict"] == "pass" else 1
