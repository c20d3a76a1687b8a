"""Options and checks that several commands share: the implementation's conventions, the
losses they allow, and output paths and oracles checked before any work is done."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from deltacheck import oracles
from deltacheck.core.conventions import (
    OUTPUTS,
    REDUCTIONS,
    TARGETS,
    WEIGHT_LAYOUTS,
    Conventions,
    parse_checks,
)
from deltacheck.core.errors import DeltacheckError

DEFAULT_DIR = Path("deltacheck-reports")


def names_arg(arg: str, allowed: Sequence[str] | None = None) -> list[str]:
    names = [n.strip() for n in arg.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name, comma-separated")
    if allowed is not None:
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from "
                                             f"{', '.join(allowed)}")
    return names


def convention_options(run: argparse.ArgumentParser) -> None:
    """The implementation's conventions, for code whose attributes cannot be edited."""
    conv = run.add_argument_group("the implementation's conventions (default: its attributes "
                                  "of the same names, else the protocol's)")
    conv.add_argument("--weight-layout", choices=WEIGHT_LAYOUTS,
                      help="out_in: weights[l] is (n[l+1], n[l]); in_out: (n[l], n[l+1]) "
                           "(default: its attribute, else out_in)")
    conv.add_argument("--reduction", choices=REDUCTIONS,
                      help="sum: loss and gradients summed over the batch; mean: averaged "
                           "(default: its attribute, else sum)")
    conv.add_argument("--targets", choices=TARGETS,
                      help="probabilities: t has shape (N, K); labels: integer classes (N,), "
                           "ce (default: its attribute, else probabilities)")
    conv.add_argument("--provides", type=lambda a: names_arg(a, OUTPUTS),
                      help=f"comma-separated subset of {','.join(OUTPUTS)} that it returns "
                           f"(default: its attribute, else all)")
    run.add_argument("--checks", type=checks_arg, default=frozenset(OUTPUTS),
                     help="the quantities that make the verdict: 'grads' or a comma list of "
                          f"{','.join(OUTPUTS)}; the others are reported 'not checked' "
                          "(default: all)")


def checks_arg(arg: str) -> frozenset[str]:
    """--checks as a set of quantities; argparse turns a mistake into one line, exit 2."""
    try:
        return parse_checks(arg)
    except DeltacheckError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--checks ")) from None


def losses_for(asked: Sequence[str] | None, conventions: Conventions) -> list[str]:
    """The losses to check: those asked for, within those the implementation declares."""
    declared_losses = conventions.loss_names
    if asked is None:
        return list(declared_losses)
    unsupported = [name for name in asked if name not in declared_losses]
    if unsupported and (conventions.losses is not None or conventions.targets == "labels"):
        raise DeltacheckError(f"--losses {','.join(asked)}: the implementation supports only "
                              f"{','.join(declared_losses)}; pick among them")
    return list(asked)


def given_conventions(args: argparse.Namespace) -> list[str]:
    """The convention options given on the command line, for the reproduce command."""
    words = []
    for name in ("weight_layout", "reduction", "targets"):
        if getattr(args, name) is not None:
            words += ["--" + name.replace("_", "-"), getattr(args, name)]
    if args.provides is not None:
        words += ["--provides", ",".join(args.provides)]
    return words


def check_distinct(outputs: Sequence[tuple[str, Path]]) -> None:
    seen: dict[Path, str] = {}
    for option, path in outputs:
        where = path.resolve()
        if where in seen:
            raise DeltacheckError(f"{seen[where]} and {option} both write {str(path)!r}; give "
                                  f"each output its own path")
        seen[where] = option


def check_writable(option: str, path: Path) -> None:
    # Checked before the run, so that no result is computed only to be lost at the end; and
    # without creating the file, which an output that ends up not written would leave empty.
    if path.is_dir():
        raise DeltacheckError(f"{option} {str(path)!r} is a folder; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as exc:
        raise DeltacheckError(f"{option} {str(path)!r} cannot be written ({exc.strerror}); "
                              f"give a writable path") from None


def check_oracles(names: Sequence[str]) -> None:
    """Every chosen oracle's framework is installed; else say which to leave out."""
    missing = {name: oracles.unavailable_reason(name) for name in names}
    missing = {name: reason for name, reason in missing.items() if reason}
    if missing:
        left = [name for name in names if name not in missing] or ["fd"]
        raise DeltacheckError(f"--oracles: {'; '.join(missing.values())}; or leave "
                              f"{'it' if len(missing) == 1 else 'them'} out with --oracles "
                              f"{','.join(left)}")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, naming the argument and the fix; no usage dump, no traceback.
        self.exit(2, f"{self.prog}: error: {message}\n")


# What every command's exit codes share; each command words its own 0 and 1.
BAD_USAGE = (2, "bad usage or input: one line naming the argument and the fix")
INTERRUPTED = (130, "interrupted by Ctrl-C: never a pass")


class _Formatter(argparse.HelpFormatter):
    """Wraps the description as usual, and keeps the exit codes' lines as they are."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("exit codes:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def command(sub: Any, name: str, *, summary: str, description: str,
            exit_codes: Sequence[tuple[int, str]]) -> argparse.ArgumentParser:
    """A command's parser: a line in ``deltacheck -h``, a description and its exit codes."""
    width = max(len(str(code)) for code, _ in exit_codes) + 2
    epilog = "exit codes:\n" + "\n".join(f"  {str(code).ljust(width)}{meaning}"
                                          for code, meaning in exit_codes)
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=summary, description=description, epilog=epilog,
        formatter_class=_Formatter)
    return parser


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
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


positive = whole(1)
seed = whole(0, 2**32 - 2000)  # each loss and pass adds an offset to the seed


def version() -> str:
    """The installed deltacheck's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("deltacheck")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown (not installed)"


def output_options(command: argparse.ArgumentParser, json_what: str) -> None:
    """--report, --json and --junit-xml, the last two beside the report unless given."""
    command.add_argument("--report", type=Path, default=None,
                         help=f"HTML report path (default: {DEFAULT_DIR / 'report.html'})")
    command.add_argument("--json", type=Path, default=None,
                         help=f"{json_what} path (default: results.json beside the report)")
    command.add_argument("--junit-xml", type=Path, default=None,
                         help="JUnit XML path (default: junit.xml beside the report)")


def output_paths(args: argparse.Namespace) -> None:
    """Fill in the outputs not given: JSON and JUnit go beside the report, wherever it is."""
    if args.report is None:
        args.report = DEFAULT_DIR / "report.html"
    folder = args.report.parent
    if args.json is None:
        args.json = folder / "results.json"
    if args.junit_xml is None:
        args.junit_xml = folder / "junit.xml"


def writable(outputs: Sequence[tuple[str, Path]]) -> None:
    """Every output path distinct and writable, checked before any work is done."""
    check_distinct(outputs)
    for option, path in outputs:
        check_writable(option, path)


def oracle_option(command: argparse.ArgumentParser) -> None:
    """--oracles, a subset of the oracles by name (default: all)."""
    command.add_argument("--oracles", type=lambda a: names_arg(a, oracles.NAMES),
                         default=list(oracles.NAMES),
                         help=f"comma-separated subset of {','.join(oracles.NAMES)} "
                              f"(default: all)")


def report_options(command: argparse.ArgumentParser, stem: str) -> None:
    """--report and --json of a command whose JSON goes beside its report unless given."""
    command.add_argument("--report", type=Path, default=DEFAULT_DIR / f"{stem}.html",
                         help="HTML report path (default: %(default)s)")
    command.add_argument("--json", type=Path, default=None,
                         help=f"JSON path (default: {stem}.json beside the report)")


def report_paths(args: argparse.Namespace, stem: str) -> tuple[Path, Path]:
    """The report and JSON paths, the JSON beside the report unless given; both checked."""
    if args.json is None:
        args.json = args.report.parent / f"{stem}.json"
    writable((("--report", args.report), ("--json", args.json)))
    return args.report, args.json
