"""The verification campaign: Hypothesis draws cases, every case meets every oracle.

The budget of each loss is cut into slices of at most SLICE_CASES cases, each with its own
seed, so that a campaign is the same set of cases however it is run: in one process, in
``--workers`` processes, or as ``--shard K/N`` slices on separate machines, merged later.
In each slice, Hypothesis generates cases (steered by ``target()`` toward the largest error
per oracle and toward large pre-activations) until one fails; it then shrinks that failure
to a minimal network. The cases checked before the failure are kept, the minimal one is
kept, and a second pass without shrinking checks the rest of the slice, so no result is lost
and the report covers as many cases as asked for.
"""

from __future__ import annotations

import contextlib
import gc
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed

from deltacheck import activations as registry
from deltacheck import regions, results, strategies
from deltacheck.activations import declared_activations
from deltacheck.case import LOSSES, Case
from deltacheck.check import CaseResult, check_case
from deltacheck.compare import ERROR, FAIL, PASS
from deltacheck.errors import DeltacheckError
from deltacheck.oracles.base import Gradients
from deltacheck.reproduce import reproduce_command


@dataclass(frozen=True)
class Profile:
    """How hard a run tries: the number of cases and whether the seed is fixed."""

    name: str
    examples: int
    fixed_seed: int | None


PROFILES = {
    "quick": Profile("quick", examples=600, fixed_seed=None),
    "ci": Profile("ci", examples=600, fixed_seed=0),
    "thorough": Profile("thorough", examples=5000, fixed_seed=None),
}


SLICE_CASES = 50  # cases per slice: the unit of work of workers and shards
MAX_FAILURES = 50  # failures kept with their values (minimal ones always); all are in "cases"


@dataclass(frozen=True)
class Slice:
    """One independently seeded part of a loss's budget."""

    index: int  # position in the whole campaign
    loss: str
    number: int  # position among the slices of its loss
    budget: int


def plan(examples: int, losses: Sequence[str]) -> list[Slice]:
    """Every slice of a campaign of ``examples`` cases shared out among ``losses``."""
    slices: list[Slice] = []
    for i, loss in enumerate(losses):
        budget = examples // len(losses) + (1 if i < examples % len(losses) else 0)
        for number, start in enumerate(range(0, budget, SLICE_CASES)):
            slices.append(Slice(index=len(slices), loss=loss, number=number,
                                budget=min(SLICE_CASES, budget - start)))
    return slices


def planned(examples: int, losses: Sequence[str], shard: tuple[int, int] | None) -> list[Slice]:
    """The slices a run checks: every slice of ``plan``, or only the K-th of N shares."""
    slices = plan(examples, losses)
    if shard is not None:
        k, n = shard
        slices = [s for s in slices if s.index % n == k - 1]
    return slices


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N) with 1 ≤ K ≤ N."""
    k, sep, n = text.partition("/")
    try:
        shard = (int(k), int(n)) if sep else None
    except ValueError:
        shard = None
    if shard is None or not 1 <= shard[0] <= shard[1]:
        raise DeltacheckError(f"--shard {text!r} must be K/N with 1 ≤ K ≤ N, e.g. 2/4")
    return shard


@dataclass
class SliceOutcome:
    """What one slice found; ids count from 0 within the slice until they are assembled."""

    index: int
    records: list[dict[str, Any]]
    failures: list[dict[str, Any]]
    minimal: list[CaseResult]
    failed_count: int
    shrink_steps: int
    disagreed: bool = False  # a generated case failed: the slice a minimal network comes from


@dataclass
class Config:
    """Everything a campaign needs; the CLI builds one from its options."""

    impl: Callable[..., Any]
    impl_spec: str
    profile: str = "quick"
    examples: int | None = None
    seed: int | None = None
    losses: Sequence[str] = LOSSES
    activations: Sequence[str] | None = None
    oracles: Sequence[str] = ("torch", "jax", "fd")
    dtype: str = "float64"
    max_layers: int = 5
    max_width: int = 8
    max_batch: int = 6
    user_activations: Sequence[str] = ()  # the --activation specs, for the repro command
    replay: Case | None = None
    replay_path: str | None = None  # the replayed file, which its reproduce command names
    failures_dir: str = "deltacheck-reports/results-cases"  # named in repro commands; the
    # caller saves the cases there after the run (reproduce.save_cases)
    workers: int = 1  # processes checking slices; the results do not depend on it
    shard: tuple[int, int] | None = None  # (K, N): run only the K-th of N shares of slices

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise DeltacheckError(f"--workers {self.workers!r} must be a whole number ≥ 1 or "
                                  f"'auto'")
        if self.profile not in PROFILES:
            raise DeltacheckError(f"--profile {self.profile!r} must be one of "
                                  f"{', '.join(PROFILES)}")
        if self.examples is not None and self.examples < 1:
            raise DeltacheckError(f"--examples {self.examples} must be at least 1")
        if self.replay is None and self.examples is not None and self.examples < len(self.losses):
            raise DeltacheckError(f"--examples {self.examples} is fewer than the "
                                  f"{len(self.losses)} losses ({', '.join(self.losses)}), so "
                                  f"some would not be checked at all; give --examples "
                                  f"{len(self.losses)} or more, or fewer --losses")
        if self.replay is None and "ce" in self.losses and self.max_width < 2:
            raise DeltacheckError(f"--max-width {self.max_width} leaves ce with one class, where "
                                  f"E ≡ 0; use --max-width 2 or more, or drop ce from --losses")


@dataclass
class Outcome:
    """The results document and what the console needs to say."""

    document: dict[str, Any]
    exit_code: int
    minimal: list[CaseResult] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the document holds the cases checked until then


class Interrupted(Exception):
    """Ctrl-C during the slices: carries the outcomes of what was checked until then."""

    def __init__(self, outcomes: list[SliceOutcome]) -> None:
        super().__init__("interrupted")
        self.outcomes = outcomes


class _Disagreement(AssertionError):
    """Raised inside the Hypothesis test so that it shrinks the failing case."""


def _log10_err(err: float, rtol: float) -> float:
    if not math.isfinite(err):
        return 50.0
    return max(-30.0, math.log10(err / rtol)) if err > 0 else -30.0


class Campaign:
    """One run: the cases, their records, the failures and the minimal networks."""

    def __init__(self, config: Config, progress: Callable[[str, int, int, int], None]) -> None:
        self.config = config
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.minimal: list[CaseResult] = []
        self._strategies: dict[tuple[str, tuple[str, ...]], Any] = {}
        self.failed_count = 0
        self.shrink_steps = 0
        self.stop_at_failure = False  # the selftest needs only the first failure of a slice
        self.seed = config.seed
        if self.seed is None:
            fixed = PROFILES[config.profile].fixed_seed
            self.seed = fixed if fixed is not None else random.SystemRandom().randrange(2**32)

    def activations(self) -> list[str]:
        """The activations to draw: the selected ones that the implementation supports."""
        chosen = list(self.config.activations or sorted(registry.REGISTRY))
        unknown = [a for a in chosen if a not in registry.REGISTRY]
        if unknown:
            raise DeltacheckError(f"--activations has unknown {', '.join(unknown)}; registered: "
                                  f"{', '.join(sorted(registry.REGISTRY))} (add your own with "
                                  f"--activation MODULE:NAME)")
        declared = declared_activations(self.config.impl)
        if declared is not None:
            supported = [a for a in chosen if a in declared]
            if not supported:
                raise DeltacheckError(f"--impl supports only {', '.join(sorted(declared))}; pick "
                                      f"--activations among them")
            chosen = supported
        return chosen

    def check(self, case: Case, phase: str, *, earlier: Gradients | None = None) -> CaseResult:
        """Check one case and keep its record (and its values, if it failed).

        A minimal or replayed case runs the implementation twice, to tell a nondeterministic
        implementation (dropout left on) from a wrong one.
        """
        result = check_case(case, self.config.impl, self.config.oracles,
                            repeat=phase in ("minimal", "replay"), earlier=earlier)
        self.records.append(results.case_json(len(self.records), result, phase))
        if result.verdict in (FAIL, ERROR):
            self.failed_count += 1
            if len(self.failures) < MAX_FAILURES or phase in ("minimal", "replay"):
                # every case is in the JSON's case list; these also carry their values
                self.failures.append(results.failure_json(
                    len(self.records) - 1, result, minimal=phase == "minimal",
                    repro=self.repro(case)))
        return result

    def repro(self, case: Case) -> str:
        """A command that re-runs exactly this case."""
        return reproduce_command(self.config, case)

    def run_slice(self, piece: Slice, acts: list[str]) -> SliceOutcome:
        """Run one slice from scratch and hand back what it found."""
        self.records, self.failures, self.minimal = [], [], []
        self.failed_count = self.shrink_steps = 0
        disagreed = self.run_loss(piece.loss, piece.budget, acts, number=piece.number,
                                  shrink=False)
        return self.so_far(piece, disagreed=disagreed)

    def so_far(self, piece: Slice, *, disagreed: bool = False) -> SliceOutcome:
        """What the slice being run has found until now (all of it, once it has run)."""
        return SliceOutcome(index=piece.index, records=self.records, failures=self.failures,
                            minimal=self.minimal, failed_count=self.failed_count,
                            shrink_steps=self.shrink_steps, disagreed=disagreed)

    def shrink_into(self, outcome: SliceOutcome, piece: Slice, acts: list[str]) -> None:
        """Run a failing slice again, shrink its first failure, add the minimal case to it.

        The same seed draws the same cases, so this finds the failure the slice met first;
        only the minimal case is recorded. Shrinking after the slices rather than inside them
        keeps one minimal network per loss however the slices were shared out.
        """
        self.records, self.failures, self.minimal = [], [], []
        self.failed_count = self.shrink_steps = 0
        self.run_loss(piece.loss, piece.budget, acts, number=piece.number, shrink=True)
        offset = len(outcome.records)
        outcome.records += [{**rec, "id": rec["id"] + offset} for rec in self.records]
        outcome.failures += [{**f, "id": f["id"] + offset} for f in self.failures]
        outcome.minimal += self.minimal
        outcome.failed_count += self.failed_count
        outcome.shrink_steps += self.shrink_steps

    def strategy(self, loss: str, acts: list[str]) -> Any:
        """The cases of one loss, built once per campaign: building one costs ~15 ms a slice."""
        key = (loss, tuple(acts))
        if key not in self._strategies:
            cfg = self.config
            # now and then sizes well past the bounds: they break fixed buffers and chunking
            self._strategies[key] = strategies.cases(
                min_batch=1, max_batch=cfg.max_batch, dtype=cfg.dtype, max_layers=cfg.max_layers,
                max_width=cfg.max_width, activations=acts, losses=[loss],
                wide_width=max(2 * cfg.max_width, 16), wide_batch=max(2 * cfg.max_batch, 16))
        return self._strategies[key]

    def run_loss(self, loss: str, budget: int, acts: list[str], number: int = 0, *,
                 shrink: bool = True) -> bool:
        """Generate until a case fails, then finish the budget (or, ``shrink``, shrink it).

        Returns whether a generated case failed.
        """
        strategy = self.strategy(loss, acts)
        state: dict[str, Any] = {"failing": None, "checked": 0}

        def test(case: Case) -> None:  # one line: Hypothesis reads its source on every run
            self._drawn(case, loss, budget, state, shrink=shrink)

        run = hypothesis_seed(self.seed + LOSSES.index(loss) + 3 * number)(settings(
            max_examples=budget, deadline=None, database=None, derandomize=False,
            phases=(Phase.generate, Phase.target, *([Phase.shrink] if shrink else [])),
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
            print_blob=False)(given(strategy)(test)))
        try:
            run()
        except Exception:
            if state["failing"] is None:  # not a disagreement: a bug of deltacheck's own
                raise
            if shrink:  # Hypothesis replays the shrunk example last: "failing" is minimal
                self.minimal.append(self.check(state["failing"].case, "minimal",
                                               earlier=state["failing"].impl_values))
                return True
        remaining = budget - state["checked"]
        if state["failing"] is not None and remaining > 0 and not self.stop_at_failure:
            self._continue(loss, strategy, remaining, budget - remaining, number)
        return state["failing"] is not None

    def _drawn(self, case: Case, loss: str, budget: int, state: dict[str, Any], *,
               shrink: bool) -> None:
        """Check a case Hypothesis drew for ``run_loss``; steer it, and raise on a failure."""
        if state["failing"] is not None and not shrink:
            # Once a case has failed, Hypothesis stops enforcing max_examples and its target
            # phase may go on calling: those calls must neither be checked nor recorded.
            raise _Disagreement(state["failing"].first_message())
        if shrink:  # finding and shrinking again: judge, but keep only the minimal
            result = check_case(case, self.config.impl, self.config.oracles)
            self.shrink_steps += state["failing"] is not None
        else:
            result = self.check(case, "generate")
            state["checked"] += 1
            self.progress(loss, state["checked"], budget, self.failed_count)
        for name, r in result.oracles.items():
            target(_log10_err(r.err, r.rtol), label=f"log10(err/rtol) {name}")
        # an overflow bug keeps its error at rounding level until e^a overflows: only a
        # pull toward large pre-activations finds the threshold
        target(regions.log_magnitude(case, result.forward and result.forward.a),
               label="log10(1 + max |a|)")
        if result.verdict == FAIL:
            state["failing"] = result
            raise _Disagreement(result.first_message())

    def _continue(self, loss: str, strategy: Any, remaining: int, done: int,
                  number: int) -> None:
        checked = {"n": done}

        def test(case: Case) -> None:
            result = self.check(case, "continue")
            checked["n"] += 1
            self.progress(loss, checked["n"], done + remaining, self.failed_count)
            for name, r in result.oracles.items():
                target(_log10_err(r.err, r.rtol), label=f"log10(err/rtol) {name}")

        # a seed range of its own, apart from every slice's first pass
        run = hypothesis_seed(self.seed + 2**32 + LOSSES.index(loss) + 3 * number)(settings(
            max_examples=remaining, deadline=None, database=None, phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
            print_blob=False)(given(strategy)(test)))
        run()


def assemble(outcomes: Sequence[SliceOutcome]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]], list[CaseResult]]:
    """Slices' records and failures in slice order, numbered as one run; the failures capped."""
    records: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    minimal: list[CaseResult] = []
    for outcome in sorted(outcomes, key=lambda o: o.index):
        offset = len(records)
        records += [{**rec, "id": rec["id"] + offset, "slice": outcome.index}
                    for rec in outcome.records]
        for f in outcome.failures:
            if f["minimal"] or sum(not g["minimal"] for g in failures) < MAX_FAILURES:
                failures.append({**f, "id": f["id"] + offset})
        minimal += outcome.minimal
    return records, failures, minimal


def _run_slices(config: Config, campaign: Campaign, slices: list[Slice], acts: list[str],
                progress: Callable[[str, int, int, int], None]) -> list[SliceOutcome]:
    if config.workers > 1 and len(slices) > 1:
        from deltacheck import parallel

        return parallel.run_slices(config, campaign.seed, slices, acts, progress)
    outcomes: list[SliceOutcome] = []
    totals = {loss: sum(s.budget for s in slices if s.loss == loss) for loss in config.losses}
    done = dict.fromkeys(totals, 0)

    def tally(loss: str, n: int, total: int, failed: int) -> None:
        """Progress over the loss's slices, not only the current one."""
        progress(loss, done[loss] + n, totals[loss],
                 sum(o.failed_count for o in outcomes) + failed)

    campaign.progress = tally
    for piece in slices:
        try:
            outcomes.append(campaign.run_slice(piece, acts))
        except KeyboardInterrupt:  # keep the cases of the slice cut short too
            raise Interrupted([*outcomes, campaign.so_far(piece)]) from None
        done[piece.loss] += piece.budget
    return outcomes


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """While cases are checked, the garbage collector leaves alone every object made before.

    torch and jax alone hold some 270,000 objects, which each full collection would walk
    again (about 3% of a campaign's time), and young objects are collected a tenth as often.
    Both are undone afterwards, so nothing is kept alive that would otherwise be freed. Does
    nothing when the caller froze objects itself.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(10 * thresholds[0], *thresholds[1:])  # and young objects less often
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def settle_imports() -> None:
    """Import every module of deltacheck (those whose dependencies are installed).

    Hypothesis now and then draws a number that appears as a constant in a module of the
    user's own code (any module not under site-packages) that has been imported by then: with
    an editable install, deltacheck's own modules count. So the cases of a seed depend on what
    has been imported, unless every process imports the same before it draws: this. (Not the
    pytest plugin, which would import pytest, nor ``__main__``.)
    """
    import importlib
    from pathlib import Path

    import deltacheck
    from deltacheck import oracles, reference_impl

    packages = [deltacheck, oracles, reference_impl]
    try:
        from deltacheck import reports

        packages.append(reports)
    except ImportError:  # the report's jinja2 is not installed
        pass
    for package in packages:
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            if path.stem in ("__init__", "__main__", "pytest_plugin"):
                continue
            try:
                importlib.import_module(f"{package.__name__}.{path.stem}")
            except ImportError:  # a module for an optional dependency
                continue


def run(config: Config, progress: Callable[[str, int, int, int], None] | None = None) -> Outcome:
    """Run a campaign (or replay one case) and build its results document."""
    progress = progress or (lambda loss, done, total, failed: None)
    settle_imports()
    campaign = Campaign(config, progress)
    started = time.time()
    slices: list[Slice] = []
    total = config.examples or PROFILES[config.profile].examples
    acts = None if config.replay is not None else campaign.activations()
    interrupted = False  # Ctrl-C: stop, and keep every case checked until then
    if acts is None:
        try:
            result = campaign.check(config.replay, "replay")
            if result.verdict in (FAIL, ERROR):
                campaign.minimal.append(result)
                campaign.failures[-1]["minimal"] = True
        except KeyboardInterrupt:
            interrupted = True
        records, failures, minimal = campaign.records, campaign.failures, campaign.minimal
        shrink_steps = 0
    else:
        slices = planned(total, list(config.losses), config.shard)
        try:
            with heap_frozen():
                outcomes = _run_slices(config, campaign, slices, acts, progress)
        except Interrupted as stop:
            outcomes, interrupted = stop.outcomes, True
        try:
            for loss in [] if interrupted else config.losses:
                # one minimal network per loss, from its first failing slice
                first = next((o for o, s in zip(outcomes, slices, strict=True)
                              if s.loss == loss and o.disagreed), None)
                if first is not None:
                    campaign.shrink_into(first, slices[outcomes.index(first)], acts)
        except KeyboardInterrupt:  # while shrinking: the cases checked are all kept
            interrupted = True
        records, failures, minimal = assemble(outcomes)
        shrink_steps = sum(o.shrink_steps for o in outcomes)
    run_info = {
        "impl": config.impl_spec, "profile": config.profile, "seed": campaign.seed,
        "dtype": config.dtype, "examples": total,
        "losses": list(config.losses), "activations": acts,
        "user_activations": list(config.user_activations),
        "oracles": list(config.oracles), "replay": config.replay is not None,
        "shrink_steps": shrink_steps,
        "max_layers": config.max_layers, "max_width": config.max_width,
        "max_batch": config.max_batch, "workers": config.workers,
        "shard": None if config.shard is None else "{}/{}".format(*config.shard),
        "slices": [s.index for s in slices], "slice_cases": SLICE_CASES,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "wall_time_s": round(time.time() - started, 3), "interrupted": interrupted,
    }
    doc = results.document(run=run_info, cases=records, failures=failures,
                           oracle_names=config.oracles, dtype=config.dtype)
    doc["minimal_failures"] = [f["id"] for f in failures if f["minimal"]]
    exit_code = 130 if interrupted else 0 if doc["summary"]["verdict"] in (PASS,) else 1
    return Outcome(document=doc, exit_code=exit_code, minimal=minimal, interrupted=interrupted)
