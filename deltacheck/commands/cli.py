"""The command line: parses arguments and calls the library. Exit 0 agree, 1 disagree, 2 bad usage."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from deltacheck import campaign, oracles
from deltacheck.audit import console as audit_console
from deltacheck.audit import runner as audit
from deltacheck.campaign import reproduce
from deltacheck.commands.options import (
    check_distinct,
    check_oracles,
    check_writable,
    convention_options,
    given_conventions,
    losses_for,
    names_arg,
)
from deltacheck.core import activations as registry
from deltacheck.core.case import DEFAULT_LOSSES, DTYPES, LOSSES, Case
from deltacheck.core.conventions import declared
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_activation, load_implementation
from deltacheck.core.verdicts import PASS
from deltacheck.results import console, output

DEFAULT_DIR = Path("deltacheck-reports")
DEFAULT_IMPL = "deltacheck.reference_impl:backprop"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, naming the argument and the fix; no usage dump, no traceback.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in [low, high)."""
    def parse(arg: str) -> int:
        try:
            value = int(arg)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{arg!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        if high is not None and value >= high:
            raise argparse.ArgumentTypeError(f"{value} must be below {high}")
        return value
    return parse


_positive = _whole(1)
_seed = _whole(0, 2**32 - 2000)  # each loss and pass adds an offset to the seed


def version() -> str:
    """The installed deltacheck's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("deltacheck")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


def _output_options(command: argparse.ArgumentParser, json_what: str) -> None:
    """--report, --json and --junit-xml, the last two beside the report unless given."""
    command.add_argument("--report", type=Path, default=None,
                         help=f"HTML report path (default: {DEFAULT_DIR / 'report.html'})")
    command.add_argument("--json", type=Path, default=None,
                         help=f"{json_what} path (default: results.json beside the report)")
    command.add_argument("--junit-xml", type=Path, default=None,
                         help="JUnit XML path (default: junit.xml beside the report)")


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deltacheck`` command."""
    top = _Parser(prog="deltacheck", description="Verify hand-written backpropagation.")
    top.add_argument("--version", action="version", version=f"deltacheck {version()}")
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = sub.add_parser("run", help="check an implementation on Hypothesis-drawn networks")
    run.add_argument("--impl", default=DEFAULT_IMPL,
                     help="MODULE:NAME or path/to/file.py:NAME (default: %(default)s)")
    run.add_argument("--profile", default="quick", choices=sorted(campaign.PROFILES),
                     help="quick (default), ci (fixed seed 0) or thorough (5000 cases)")
    run.add_argument("--examples", type=_positive, help="number of cases (overrides the profile)")
    run.add_argument("--seed", type=_seed, help="Hypothesis seed (printed and saved in the JSON)")
    run.add_argument("--losses", type=lambda a: names_arg(a, LOSSES), default=None,
                     help=f"comma-separated subset of {','.join(LOSSES)} (default: those the "
                          f"implementation declares, else {','.join(DEFAULT_LOSSES)})")
    run.add_argument("--activations", type=names_arg,
                     help="comma-separated activation names to draw (default: all registered)")
    run.add_argument("--activation", action="append", default=[], metavar="MODULE:NAME",
                     help="add a user's activation to the registry (repeatable)")
    run.add_argument("--oracles", type=lambda a: names_arg(a, oracles.NAMES),
                     default=list(oracles.NAMES), help="comma-separated subset of torch,jax,fd")
    run.add_argument("--dtype", choices=DTYPES,
                     help="the implementation's dtype (default float64; a replay uses its case's)")
    run.add_argument("--max-layers", type=_positive, default=5)
    run.add_argument("--max-width", type=_positive, default=8)
    run.add_argument("--max-batch", type=_positive, default=6)
    run.add_argument("--replay", metavar="CASE.json",
                     help="check only this saved case (as printed after a failure)")
    convention_options(run)
    _output_options(run, "JSON results")
    _scale_options(run)
    _merge_parser(sub)
    _audit_parser(sub)
    _demo_parser(sub)
    _selftest_parser(sub)
    return top


def _workers(arg: str) -> int:
    if arg.strip().lower() == "auto":
        from deltacheck.campaign.parallel import cores

        return cores()
    return _positive(arg)


def _shard(arg: str) -> tuple[int, int]:
    try:
        return campaign.parse_shard(arg)
    except DeltacheckError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shard {arg!r} ")) from None


def _scale_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--workers", type=_workers, default=1, metavar="N",
                     help="check cases in N processes, or 'auto' for one per core; the results "
                          "are the same as with 1 (default: 1)")
    run.add_argument("--shard", type=_shard, metavar="K/N",
                     help="run only the K-th of N disjoint shares of the campaign; join the "
                          "shards' JSON with 'deltacheck merge'")


def _merge_parser(sub: Any) -> None:
    merge = sub.add_parser("merge", help="one report from the JSON results of 'run --shard K/N'")
    merge.add_argument("results", nargs="+", metavar="RESULTS.json",
                       help="the --json file of every shard")
    _output_options(merge, "merged JSON results")


def _selftest_parser(sub: Any) -> None:
    selftest = sub.add_parser("selftest", help="run every seeded bug through a campaign: exit 0 "
                              "only if each one is caught")
    selftest.add_argument("--profile", default="ci", choices=sorted(campaign.PROFILES),
                          help="the campaign each bug meets (default: %(default)s)")
    selftest.add_argument("--examples", type=_positive,
                          help="cases per bug at most (overrides the profile)")
    selftest.add_argument("--seed", type=_seed, help="one Hypothesis seed for every bug")
    selftest.add_argument("--dtype", choices=DTYPES, default="float64")
    selftest.add_argument("--oracles", type=lambda a: names_arg(a, oracles.NAMES),
                          default=list(oracles.NAMES), help="comma-separated subset of "
                          "torch,jax,fd")
    selftest.add_argument("--bugs", type=names_arg, help="comma-separated seeded bug names "
                          "(default: all; see deltacheck/campaign/bugs.py)")
    selftest.add_argument("--json", type=Path, default=DEFAULT_DIR / "selftest.json",
                          help="the kill table as JSON; run reports beside it show its kill rate "
                          "(default: %(default)s)")


def _audit_parser(sub: Any) -> None:
    audit_cmd = sub.add_parser("audit", help="audit an activation function: h', kinks, "
                               "frameworks, finite range, whole networks")
    audit_cmd.add_argument("specs", nargs="+", metavar="SPEC",
                           help="MODULE:NAME, path/to/file.py:NAME or a built-in name")
    audit_cmd.add_argument("--examples", type=_whole(0), default=audit.AuditConfig.examples,
                           help="network cases, split over mse, bce, ce (default: %(default)s)")
    audit_cmd.add_argument("--batches", type=_whole(0), default=audit.AuditConfig.batches,
                           help="Hypothesis batches of 64 points for the derivative check "
                                "(default: %(default)s)")
    audit_cmd.add_argument("--seed", type=_seed, help="seed (printed and saved in the JSON)")
    audit_cmd.add_argument("--oracles", type=lambda a: names_arg(a, oracles.NAMES),
                           default=list(oracles.NAMES),
                           help="comma-separated subset of torch,jax,fd")
    audit_cmd.add_argument("--report", type=Path, default=DEFAULT_DIR / "audit.html",
                           help="HTML report path (default: %(default)s)")
    audit_cmd.add_argument("--json", type=Path, default=DEFAULT_DIR / "audit.json",
                           help="JSON path (default: %(default)s)")


def output_paths(args: argparse.Namespace) -> None:
    """Fill in the outputs not given: JSON and JUnit go beside the report, wherever it is."""
    if args.report is None:
        args.report = DEFAULT_DIR / "report.html"
    folder = args.report.parent
    if args.json is None:
        args.json = folder / "results.json"
    if args.junit_xml is None:
        args.junit_xml = folder / "junit.xml"


def _replay_case(arg: str) -> Case:
    path = Path(arg)
    if not path.is_file():
        raise DeltacheckError(f"--replay {arg!r}: no such file; give a case JSON saved by a run")
    try:
        case = Case.loads(path.read_text(encoding="utf-8"))
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


def _run(args: argparse.Namespace) -> int:
    from deltacheck.campaign import parallel

    try:
        return _checked_run(args)
    finally:
        parallel.release()  # workers no campaign took (an error, a single slice)
        oracles.prepared()  # a compilation still running must not be cut short


def _checked_run(args: argparse.Namespace) -> int:
    from deltacheck.campaign import parallel

    impl = load_implementation(args.impl)
    if args.workers > 1 and not args.replay:
        # the other workers import torch and jax and warm up while this process does; no
        # more of them than there are slices to share out
        total = args.examples or campaign.PROFILES[args.profile].examples
        losses = losses_for(args.losses, declared(impl, targets=args.targets))
        slices = campaign.planned(total, losses, args.shard)
        parallel.prestart(min(args.workers, len(slices)), args.oracles)
    output_paths(args)
    user_acts = [load_activation(spec) for spec in args.activation]
    outputs = (("--report", args.report), ("--json", args.json), ("--junit-xml", args.junit_xml))
    check_distinct(outputs)
    for option, path in outputs:
        check_writable(option, path)
    names = [act.name for act in user_acts]
    for name in names:
        if name in registry.BUILTIN_NAMES or names.count(name) > 1:
            raise DeltacheckError(f"--activation: the name {name!r} is taken (a built-in or given "
                                  f"twice); give the activation another name")
    if not args.replay:  # jax compiles on a thread while torch imports; a replay's case may
        oracles.prepare(args.oracles)  # not be in the bucket it compiles
    check_oracles(args.oracles)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(registry.registered(user_acts))
        except ValueError as exc:  # the registry is numpy-only and raises plain ValueError
            raise DeltacheckError(f"--activation: {exc}") from None
        replay = _replay_case(args.replay) if args.replay else None
        if replay and args.dtype and args.dtype != replay.dtype:
            raise DeltacheckError(f"--dtype {args.dtype}: the --replay case is {replay.dtype}; "
                                  f"leave --dtype out when replaying (the case fixes it)")
        conventions = declared(impl, weight_layout=args.weight_layout, reduction=args.reduction,
                               targets=args.targets, provides=args.provides)
        losses = losses_for(args.losses, conventions)
        config = campaign.Config(
            impl=impl, impl_spec=args.impl, profile=args.profile, examples=args.examples,
            seed=args.seed, losses=[replay.loss] if replay else losses, conventions=conventions,
            convention_options=given_conventions(args),
            activations=args.activations, oracles=args.oracles,
            dtype=replay.dtype if replay else args.dtype or "float64", max_layers=args.max_layers,
            max_width=args.max_width, max_batch=args.max_batch,
            user_activations=args.activation, replay=replay, replay_path=args.replay,
            failures_dir=str(reproduce.cases_dir(args.json)),
            workers=1 if replay else args.workers, shard=None if replay else args.shard)
        progress = console.Progress()
        outcome = campaign.run(config, progress)
        progress.finish()
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
        print(f"deltacheck: interrupted after {doc['summary']['cases']} cases; their results: "
              f"{args.report if args.report.exists() else args.json}", file=sys.stderr)
        return outcome.exit_code
    out = console.summary_lines(doc) + written
    if rate is not None:
        out.append(f"selftest: {selftest.describe(rate)}")
    if args.replay:
        out.append(f"replay: {args.replay} ({doc['run']['wall_time_s']:.1f} s)")
    else:
        out.append(f"seed:   {doc['run']['seed']} ({doc['run']['wall_time_s']:.1f} s)")
    out.append(console.verdict_line(doc))
    print("\n".join(out))
    return outcome.exit_code


def _merge(args: argparse.Namespace) -> int:
    from deltacheck.campaign import merge

    output_paths(args)
    outputs = (("--report", args.report), ("--json", args.json), ("--junit-xml", args.junit_xml))
    check_distinct(outputs)
    given = {Path(p).resolve() for p in args.results}
    for option, path in outputs:
        if path.resolve() in given:
            raise DeltacheckError(f"{option} {str(path)!r} is one of the files being merged; "
                                  f"write the merged results elsewhere")
        check_writable(option, path)
    doc = merge.merge([merge.load(p) for p in args.results], list(args.results))
    out = console.summary_lines(doc) + output.write_outputs(
        doc, json_path=args.json, report_path=args.report, junit_path=args.junit_xml)
    out.append(f"merged: {len(args.results)} files, {doc['summary']['cases']} cases")
    out.append(console.verdict_line(doc))
    print("\n".join(out))
    return 0 if doc["summary"]["verdict"] == PASS else 1


def _demo_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="show the lecture's claims about backprop by measurement")
    demo.add_argument("--cases", type=_positive, default=200,
                      help="Hypothesis-drawn output layers per loss/output pair (default 200)")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of every draw (default 0)")
    demo.add_argument("--report", type=Path, default=DEFAULT_DIR / "demo.html",
                      help="HTML report path (default: %(default)s)")
    demo.add_argument("--json", type=Path, default=DEFAULT_DIR / "demo.json",
                      help="JSON results path (default: %(default)s)")


def _demo(args: argparse.Namespace) -> int:
    from deltacheck.demo import runner as demo

    outputs = (("--report", args.report), ("--json", args.json))
    check_distinct(outputs)
    for option, path in outputs:
        check_writable(option, path)
    outcome = demo.run(demo.Config(cases=args.cases, seed=args.seed),
                       progress=lambda step: print(f"  {step}", file=sys.stderr, flush=True))
    lines = [("✓ " if ok else "✗ ") + text for ok, text in outcome.claims]
    lines += output.write_outputs(outcome.document, json_path=args.json)
    lines += output.write_outputs(outcome.report, report_path=args.report)
    run = outcome.report["details"]["run"]
    failed = sum(not ok for ok, _ in outcome.claims)
    lines.append(f"seed:   {run['seed']} ({run['wall_time_s']:.1f} s)")
    lines.append("every claim holds" if not failed else
                 f"{failed} of {len(outcome.claims)} claims do not hold")
    print("\n".join(lines))
    return outcome.exit_code


def _selftest(args: argparse.Namespace) -> int:
    from deltacheck.campaign import selftest

    check_writable("--json", args.json)
    for name in args.oracles:
        reason = oracles.unavailable_reason(name)
        if reason:
            raise DeltacheckError(f"--oracles: {reason}")
    chosen = selftest.select(args.bugs)

    def progress(kill: selftest.Kill) -> None:
        print(f"  {kill.bug.name}: {'caught' if kill.caught else 'MISSED'} after {kill.cases} "
              f"cases", file=sys.stderr)

    doc = selftest.run(profile=args.profile, seed=args.seed, examples=args.examples,
                       dtype=args.dtype, oracles=args.oracles, bugs=chosen, progress=progress)
    out = selftest.table(doc) + output.write_outputs(doc, json_path=args.json)
    print("\n".join(out))
    return 0 if doc["summary"]["verdict"] == "pass" else 1


def _audit(args: argparse.Namespace) -> int:
    outputs = (("--report", args.report), ("--json", args.json))
    check_distinct(outputs)
    for option, path in outputs:
        check_writable(option, path)
    config = audit.AuditConfig(oracles=args.oracles, batches=args.batches,
                               examples=args.examples, seed=args.seed,
                               failures_dir=str(args.report.parent / "failures"))
    doc = audit.run(args.specs, config, progress=lambda line: print(line, file=sys.stderr))
    out = audit_console.lines(doc) + output.write_outputs(
        doc, json_path=args.json, report_path=args.report)
    out += [audit_console.seconds(doc), audit_console.verdict_line(doc)]
    print("\n".join(out))
    return audit.exit_code(doc)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deltacheck`` console script."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare `deltacheck`: what it can do, not only an error
        parser().print_help(sys.stderr)
        return 2
    try:
        args = parser().parse_args(argv)
        if args.command == "run":
            return _run(args)
        if args.command == "merge":
            return _merge(args)
        if args.command == "audit":
            return _audit(args)
        if args.command == "demo":
            return _demo(args)
        if args.command == "selftest":
            return _selftest(args)
    except DeltacheckError as exc:
        print(f"deltacheck: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside a campaign (loading, writing): no traceback
        print("deltacheck: interrupted", file=sys.stderr)
        return 130
    return 2


def console_main() -> int:
    """The ``deltacheck`` command: ``main``, then a quick exit.

    Everything is written and closed by then. A fork server of ``--workers`` still starting
    up is ended rather than left to finish. Freezing the heap spares the interpreter's last
    garbage collections over torch's and jax's objects (about 0.3 s of every run); atexit hooks
    still run and objects are still released as their references go.
    """
    from deltacheck.campaign import parallel

    code = main()
    parallel.stop_server()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console_main())
