"""``deltacheck audit``: audit activation functions."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from deltacheck.audit import console as audit_console
from deltacheck.audit import runner as audit
from deltacheck.commands import options as o
from deltacheck.results import output

EXIT_CODES = ((0, "every activation passes"), (1, "an activation fails"), o.BAD_USAGE,
              o.INTERRUPTED)


def add_parser(sub: Any) -> None:
    audit_cmd = o.command(sub, "audit", summary="audit an activation function: h', kinks, "
                          "frameworks, finite range, whole networks",
                          description="Audit activation functions: the hand-written h' against "
                                      "autograd and finite differences, the kinks, one "
                                      "definition under numpy, torch and jax, where h and h' "
                                      "stay finite, and whole networks that use it.",
                          exit_codes=EXIT_CODES)
    audit_cmd.add_argument("specs", nargs="+", metavar="SPEC",
                           help="MODULE:NAME, path/to/file.py:NAME or a built-in name")
    audit_cmd.add_argument("--examples", type=o.whole(0), default=audit.AuditConfig.examples,
                           help="network cases, split over mse, bce, ce (default: %(default)s)")
    audit_cmd.add_argument("--batches", type=o.whole(0), default=audit.AuditConfig.batches,
                           help="Hypothesis batches of 64 points for the derivative check "
                                "(default: %(default)s)")
    audit_cmd.add_argument("--seed", type=o.seed,
                           help="seed of the drawn points and network cases, printed and saved "
                                "in the JSON (default: drawn)")
    o.oracle_option(audit_cmd)
    o.report_options(audit_cmd, "audit")


def run(args: argparse.Namespace) -> int:
    _, json_path = o.report_paths(args, "audit")
    config = audit.AuditConfig(oracles=args.oracles, batches=args.batches,
                               examples=args.examples, seed=args.seed,
                               failures_dir=str(json_path.with_name(f"{json_path.stem}-cases")))
    doc = audit.run(args.specs, config, progress=lambda line: print(line, file=sys.stderr))
    out = audit_console.lines(doc) + output.write_outputs(
        doc, json_path=args.json, report_path=args.report)
    out += [audit_console.seconds(doc), audit_console.verdict_line(doc)]
    print("\n".join(out))
    return audit.exit_code(doc)
