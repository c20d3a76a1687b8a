"""A campaign's plan: its profile, its configuration, and its budget cut into seeded slices.

The budget of each loss is cut into slices of at most SLICE_CASES cases, each with its own
seed, so that a campaign is the same set of cases however it is run: in one process, in
``--workers`` processes, or as ``--shard K/N`` slices on separate machines, merged later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from deltacheck.core import activations as registry
from deltacheck.core.activations import declared_activations
from deltacheck.core.case import DEFAULT_LOSSES, Case
from deltacheck.core.conventions import GRADIENTS, OUTPUTS, Conventions
from deltacheck.core.errors import DeltacheckError
from deltacheck.judging.check import CaseResult
from deltacheck.results.numbering import numbered


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
    losses: Sequence[str] = DEFAULT_LOSSES
    conventions: Conventions = field(default_factory=Conventions)  # declared, or from options
    convention_options: Sequence[str] = ()  # those given as options, for the repro command
    checks: frozenset[str] = frozenset(OUTPUTS)  # the quantities that make the verdict
    widths: tuple[int, ...] | None = None  # --widths: exactly this network, its values drawn
    activations: Sequence[str] | None = None
    oracles: Sequence[str] = ("torch", "jax", "fd")
    dtype: str = "float64"
    max_layers: int = 5
    max_width: int = 8
    max_batch: int = 6
    user_activations: Sequence[str] = ()  # the --activation specs, for the repro command
    replay: Case | None = None
    replay_path: str | None = None  # the replayed file, which its reproduce command names
    replay_before: tuple[Case, ...] = ()  # the calls a replay makes first (a stateful failure)
    failures_dir: str = "deltacheck-reports/results-cases"  # named in repro commands; the
    # caller saves the cases there after the run (reproduce.save_cases)
    workers: int = 1  # processes checking slices; the results do not depend on it
    shard: tuple[int, int] | None = None  # (K, N): run only the K-th of N shares of slices
    case_timeout: float | None = 60.0  # seconds one call of the implementation may take

    def __post_init__(self) -> None:
        if not isinstance(self.workers, int) or self.workers < 1:
            raise DeltacheckError(f"--workers {self.workers!r} must be a whole number ≥ 1 or "
                                  f"'auto'")
        if self.case_timeout is not None and not self.case_timeout > 0:
            raise DeltacheckError(f"--case-timeout {self.case_timeout!r} must be a number of "
                                  f"seconds above 0")
        if not self.checks & self.conventions.provides & set(GRADIENTS):
            raise DeltacheckError(f"--checks {','.join(sorted(self.checks))} leaves no gradient "
                                  f"that the implementation provides "
                                  f"({', '.join(sorted(self.conventions.provides))}); check "
                                  f"grad_weights or grad_biases")
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
        if self.replay is None and self.widths is not None:
            if "ce" in self.losses and self.widths[-1] < 2:
                raise DeltacheckError(f"--widths {','.join(map(str, self.widths))} leaves ce "
                                      f"with one class, where E ≡ 0; give two or more outputs, "
                                      f"or drop ce from --losses")
        elif self.replay is None and "ce" in self.losses and self.max_width < 2:
            raise DeltacheckError(f"--max-width {self.max_width} leaves ce with one class, where "
                                  f"E ≡ 0; use --max-width 2 or more, or drop ce from --losses")


class Interrupted(Exception):
    """Ctrl-C (or a case that timed out) during the slices: carries the outcomes of what was
    checked until then; ``timed_out`` is the limit the case outlived, None for Ctrl-C."""

    def __init__(self, outcomes: list[SliceOutcome], timed_out: float | None = None) -> None:
        super().__init__("interrupted" if timed_out is None else f"timed out ({timed_out:g} s)")
        self.outcomes = outcomes
        self.timed_out = timed_out


def assemble(outcomes: Sequence[SliceOutcome]) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]], list[CaseResult]]:
    """Slices' records and failures in slice order, numbered as one run; the failures capped."""
    ordered = sorted(outcomes, key=lambda o: o.index)
    records, failures = numbered(((o.records, o.failures) for o in ordered),
                                 tags=({"slice": o.index} for o in ordered))
    return records, failures, [result for o in ordered for result in o.minimal]


def drawn_activations(config: Config) -> list[str]:
    """The activations to draw: the selected ones that the implementation supports."""
    chosen = list(config.activations or sorted(registry.REGISTRY))
    unknown = [a for a in chosen if a not in registry.REGISTRY]
    if unknown:
        raise DeltacheckError(f"--activations has unknown {', '.join(unknown)}; registered: "
                              f"{', '.join(sorted(registry.REGISTRY))} (add your own with "
                              f"--activation MODULE:NAME)")
    declared = declared_activations(config.impl)
    if declared is not None:
        supported = [a for a in chosen if a in declared]
        if not supported:
            raise DeltacheckError(f"--impl supports only {', '.join(sorted(declared))}; pick "
                                  f"--activations among them")
        chosen = supported
    return chosen


def checks_json(config: Config) -> list[str]:
    """The quantities that make the verdict, in the protocol's order (JSON ``run.checks``)."""
    return [q for q in OUTPUTS if q in config.checks]
