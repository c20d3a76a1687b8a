"""``deltacheck demo``: the lecture's claims about backprop, shown by measurement."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from deltacheck.commands import options as o
from deltacheck.core.errors import DeltacheckError
from deltacheck.results import output


def add_parser(sub: Any) -> None:
    demo = sub.add_parser("demo", help="show the lecture's claims about backprop by measurement")
    demo.add_argument("--cases", type=o.positive, default=200,
                      help="Hypothesis-drawn output layers per loss/output pair (default 200)")
    demo.add_argument("--seed", type=o.seed, default=0, help="seed of every draw (default 0)")
    demo.add_argument("--impl", default=None, metavar="MODULE:NAME",
                      help="measure this implementation (MODULE:NAME or path/to/file.py:NAME) "
                           "instead of the reference: its output δ, its gradients in the SGD "
                           "loop, its numbers in the worked example")
    demo.add_argument("--skip-lessons", action="store_true",
                      help="leave out the lessons beyond y − t, the SGD loop, the worked example "
                           "and the cost (chain rule over paths, depth, slow learning, finite "
                           "differences' step, memory, canonical links): quicker")
    o.convention_options(demo)
    o.report_options(demo, "demo")


def run(args: argparse.Namespace) -> int:
    from deltacheck.demo import runner as demo

    o.report_paths(args, "demo")
    outcome = demo.run(demo.Config(cases=args.cases, seed=args.seed, student=_student(args),
                                   lessons=not args.skip_lessons),
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


def _student(args: argparse.Namespace) -> Any:
    """The implementation named by --impl, with its conventions; None for the reference."""
    if args.impl is None:
        given = [name for name in ("weight_layout", "reduction", "targets", "provides")
                 if getattr(args, name) is not None]
        if given:
            raise DeltacheckError(f"--{given[0].replace('_', '-')} describes an implementation; "
                                  f"name it with --impl MODULE:NAME")
        return None
    from deltacheck.core.conventions import declared
    from deltacheck.core.loading import load_implementation
    from deltacheck.demo.student import Student

    impl = load_implementation(args.impl)
    return Student(impl, args.impl, declared(
        impl, weight_layout=args.weight_layout, reduction=args.reduction, targets=args.targets,
        provides=args.provides))
