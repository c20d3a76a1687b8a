"""``deltacheck run``: the campaign on one implementation (or a replay of one saved case)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from deltacheck import campaign
from deltacheck.campaign import cores, reproduce
from deltacheck.commands import options as o
from deltacheck.core import activations as registry
from deltacheck.core import interrupts
from deltacheck.core.case import DEFAULT_LOSSES, DTYPES, LOSSES, Case
from deltacheck.core.conventions import declared
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_activation, load_implementation
from deltacheck.results import console, output

DEFAULT_IMPL = "deltacheck.reference_impl:backprop"
EXIT_CODES = ((0, "every case agrees with every oracle"),
              (1, "a disagreement, a case that timed out or an oracle that could not judge"),
              o.BAD_USAGE, o.INTERRUPTED)


def add_parser(sub: Any) -> None:
    """``deltacheck run``: the campaign on an implementation."""
    run = o.command(sub, "run", summary="check an implementation on Hypothesis-drawn networks",
                    description="Check a hand-written backprop (loss, δ, ∂W, ∂b) against torch, "
                                "jax and finite differences on Hypothesis-drawn networks, or "
                                "replay one saved case.", exit_codes=EXIT_CODES)
    run.add_argument("--impl", default=DEFAULT_IMPL,
                     help="MODULE:NAME or path/to/file.py:NAME (default: %(default)s)")
    run.add_argument("--profile", default="quick", choices=sorted(campaign.PROFILES),
                     help="quick: 600 cases, random seed; ci: 600 cases, seed 0; thorough: 5000 "
                          "cases, random seed (default: %(default)s)")
    run.add_argument("--examples", type=o.positive,
                     help="number of cases, split over the losses (default: the profile's)")
    run.add_argument("--seed", type=o.seed,
                     help="Hypothesis seed, printed and saved in the JSON (default: the "
                          "profile's: 0 for ci, else drawn)")
    run.add_argument("--losses", type=lambda a: o.names_arg(a, LOSSES), default=None,
                     help=f"comma-separated subset of {','.join(LOSSES)} (default: those the "
                          f"implementation declares, else {','.join(DEFAULT_LOSSES)})")
    run.add_argument("--activations", type=o.names_arg,
                     help="comma-separated activation names to draw; with --widths, one per hidden "
                          "layer, or one for all (default: those the implementation declares, "
                          "else all registered)")
    run.add_argument("--widths", type=_widths, metavar="N0,...,NL",
                     help="check exactly this network (e.g. 784,30,10): only its weights, "
                          "batch, inputs and targets are drawn (default: drawn architectures)")
    run.add_argument("--activation", action="append", default=[], metavar="MODULE:NAME",
                     help="add a user's activation to the registry; repeatable (default: none)")
    o.oracle_option(run)
    run.add_argument("--dtype", choices=DTYPES,
                     help="the implementation's dtype; a replay uses its case's (default: float64)")
    run.add_argument("--max-layers", type=o.positive, default=5, metavar="N",
                     help="most weight layers of a drawn network (default: %(default)s)")
    run.add_argument("--max-width", type=o.positive, default=8, metavar="N",
                     help="most units of a drawn layer (default: %(default)s)")
    run.add_argument("--max-batch", type=o.positive, default=6, metavar="N",
                     help="most samples of a drawn batch (default: %(default)s)")
    run.add_argument("--replay", metavar="CASE.json",
                     help="check only this saved case, as printed after a failure (default: none)")
    o.convention_options(run)
    o.output_options(run, "JSON results")
    _scale_options(run)


def _widths(arg: str) -> tuple[int, ...]:
    from deltacheck.campaign import exact

    try:
        return exact.parse_widths(arg)
    except DeltacheckError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--widths {arg!r} ")) from None


def _workers(arg: str) -> int | str:
    if arg.strip().lower() == "auto":
        return "auto"  # decided once the run's size is known
    return o.positive(arg)


def _seconds(arg: str) -> float:
    try:
        value = float(arg)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{arg!r} is not a number of seconds above 0, e.g. 60")
    return value


def _shard(arg: str) -> tuple[int, int]:
    try:
        return campaign.parse_shard(arg)
    except DeltacheckError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shard {arg!r} ")) from None


def _scale_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--workers", type=_workers, default=1, metavar="N",
                     help="check cases in N processes, or 'auto': as many as there are free "
                          "cores and the run is long enough to pay for (often 1); the results "
                          "are the same as with 1 (default: 1)")
    run.add_argument("--case-timeout", type=_seconds, default=60.0, metavar="SECONDS",
                     help="the longest one call of the implementation may take; a call that "
                          "takes longer ends the run with a failure naming its case "
                          "(default: %(default)g)")
    run.add_argument("--shard", type=_shard, metavar="K/N",
                     help="run only the K-th of N disjoint shares of the campaign; join the "
                          "shards' JSON with 'deltacheck merge' (default: the whole campaign)")


def _load_case(text: str) -> Case:
    """A saved case: in full, or (at real size, ``--widths``) the seed that regenerates it."""
    from deltacheck.campaign import exact

    if '"schema":"' + exact.SCHEMA + '"' in text[:200]:
        return exact.regenerate(json.loads(text))
    return Case.loads(text)


def _before(arg: str) -> tuple[Case, ...]:
    """The cases a saved stateful failure is replayed after (its ``before``), if any."""
    try:
        data = json.loads(Path(arg).read_text(encoding="utf-8"))
        before = data.get("before", []) if isinstance(data, dict) else []
        return tuple(Case.from_json(c) for c in before)
    except DeltacheckError as exc:
        raise DeltacheckError(f"--replay {arg!r}: a case in 'before': {exc}") from None
    except (AttributeError, TypeError):
        raise DeltacheckError(f"--replay {arg!r}: 'before' must be a list of cases saved by "
                              f"a run") from None


def _replay_case(arg: str) -> Case:
    path = Path(arg)
    if not path.is_file():
        raise DeltacheckError(f"--replay {arg!r}: no such file; give a case JSON saved by a run")
    try:
        case = _load_case(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise DeltacheckError(f"--replay {arg!r} is not UTF-8 text; give a case JSON saved by "
                              f"a run") from None
    except OSError as exc:
        raise DeltacheckError(f"--replay {arg!r} cannot be read ({exc.strerror}); give a "
                              f"readable case JSON") from None
    except DeltacheckError as exc:
        raise DeltacheckError(f"--replay {arg!r}: {exc}") from None
    unknown = [a for a in case.activations if a not in registry.REGISTRY]
    if unknown:
        raise DeltacheckError(f"--replay {arg!r} uses the unregistered activation "
                              f"{', '.join(map(repr, sorted(set(unknown))))}; add it with "
                              f"--activation MODULE:NAME")
    return case


def run(args: argparse.Namespace) -> int:
    from deltacheck.campaign.session import Session

    # leaving it ends the workers no campaign took (an error, a single slice) and waits for a
    # compilation still running, which must not be cut short
    with Session() as session:
        return _checked_run(args, session)


def _checked_run(args: argparse.Namespace, session: Any) -> int:
    impl = load_implementation(args.impl)
    interrupts.checkpoint()  # each step of start-up is a place to stop
    if args.workers == "auto" or (args.workers > 1 and not args.replay):
        # the other workers import torch and jax and warm up while this process does; no
        # more of them than there are slices to share out
        total = args.examples or campaign.PROFILES[args.profile].examples
        losses = o.losses_for(args.losses, declared(impl, targets=args.targets))
        slices = campaign.planned(total, losses, args.shard)
        if args.workers == "auto":
            args.workers, why = (1, "a replay") if args.replay else cores.auto_workers(
                sum(s.budget for s in slices), len(slices))
            print(f"workers: {args.workers} ({why})", file=sys.stderr)
        if args.workers > 1 and not args.replay:
            session.start_workers(min(args.workers, len(slices)), args.oracles)
    o.output_paths(args)
    user_acts = [load_activation(spec) for spec in args.activation]
    outputs = (("--report", args.report), ("--json", args.json), ("--junit-xml", args.junit_xml))
    o.writable(outputs)
    names = [act.name for act in user_acts]
    for name in names:
        if name in registry.BUILTIN_NAMES or names.count(name) > 1:
            raise DeltacheckError(f"--activation: the name {name!r} is taken (a built-in or given "
                                  f"twice); give the activation another name")
    if not args.replay:  # jax compiles on a thread while torch imports; a replay's case may
        session.start_compiling(args.oracles)  # not be in the bucket it compiles
    interrupts.checkpoint()
    o.check_oracles(args.oracles)
    interrupts.checkpoint()
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(registry.registered(user_acts))
        except ValueError as exc:  # the registry is numpy-only and raises plain ValueError
            raise DeltacheckError(f"--activation: {exc}") from None
        _unregistered(impl)
        replay = _replay_case(args.replay) if args.replay else None
        if replay and args.dtype and args.dtype != replay.dtype:
            raise DeltacheckError(f"--dtype {args.dtype}: the --replay case is {replay.dtype}; "
                                  f"leave --dtype out when replaying (the case fixes it)")
        conventions = declared(impl, weight_layout=args.weight_layout, reduction=args.reduction,
                               targets=args.targets, provides=args.provides)
        losses = o.losses_for(args.losses, conventions)
        config = campaign.Config(
            impl=impl, impl_spec=args.impl, profile=args.profile, examples=args.examples,
            seed=args.seed, losses=[replay.loss] if replay else losses, conventions=conventions,
            convention_options=o.given_conventions(args), checks=args.checks,
            activations=args.activations, oracles=args.oracles,
            dtype=replay.dtype if replay else args.dtype or "float64", max_layers=args.max_layers,
            max_width=args.max_width, max_batch=args.max_batch,
            widths=None if replay else args.widths,
            user_activations=args.activation, replay=replay, replay_path=args.replay,
            replay_before=_before(args.replay) if replay else (),
            failures_dir=str(reproduce.cases_dir(args.json)),
            workers=1 if replay else args.workers, shard=None if replay else args.shard,
            case_timeout=args.case_timeout)
        progress = console.Progress()
        outcome = campaign.run(config, progress, session=session,
                               on_stuck=lambda stuck: _stuck(args, config, stuck))
        progress.finish()
    with interrupts.deferred():  # a Ctrl-C now waits until the outputs are whole
        return _finish(args, config, outcome)


def _unregistered(impl: Any) -> None:
    """Say which activations the implementation declares that no run can draw: unknown names."""
    unknown = sorted((registry.declared_activations(impl) or set()) - set(registry.REGISTRY))
    if unknown:
        print(f"deltacheck: warning: --impl declares {', '.join(map(repr, unknown))}, which "
              f"{'is' if len(unknown) == 1 else 'are'} not registered and will not be drawn; "
              f"add each with --activation MODULE:NAME", file=sys.stderr)


def _stuck(args: argparse.Namespace, config: campaign.Config, outcome: campaign.Outcome) -> None:
    """A call hangs where it cannot be stopped: write what was checked, and end here."""
    code = _finish(args, config, outcome)
    interrupts.stop_helpers()  # worker processes, the fork server
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _finish(args: argparse.Namespace, config: campaign.Config, outcome: campaign.Outcome) -> int:
    """Save the failing cases, write the outputs, print the summary; the exit code."""
    doc = outcome.document
    if not args.replay:  # a replay's reproduce command names the file it replayed
        reproduce.save_cases(doc, config.failures_dir)
    from deltacheck.campaign import selftest

    rate = selftest.last_kill_rate(args.report.parent / "selftest.json")
    if rate is not None:  # how sharp the gate was when it was last tested
        doc["selftest"] = rate
        doc["environment"]["last selftest"] = selftest.describe(rate)
    written = output.write_outputs(doc, json_path=args.json, report_path=args.report,
                                   junit_path=args.junit_xml)
    if outcome.interrupted:  # Ctrl-C: one line, and the outputs of what was checked
        where = args.report if args.report.exists() else args.json
        print(f"deltacheck: {console.interrupted_text(doc)}; results so far: {where}",
              file=sys.stderr)
        return outcome.exit_code
    out = console.summary_lines(doc) + console.timeout_lines(doc) + written
    out.append(console.counts_line(doc))
    out += console.warning_lines(doc)
    if rate is not None:
        out.append(f"selftest: {selftest.describe(rate)}")
    if args.replay:
        out.append(f"replay: {args.replay} ({doc['run']['wall_time_s']:.1f} s)")
    else:
        out.append(f"seed:   {doc['run']['seed']} ({doc['run']['wall_time_s']:.1f} s)")
    out.append(console.verdict_line(doc))
    print("\n".join(out))
    return outcome.exit_code
