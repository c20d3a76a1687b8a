"""``deltacheck model``: check a course-style model class against its composed layers."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from deltacheck.commands import options as o
from deltacheck.core.errors import DeltacheckError
from deltacheck.layers import document as layer_doc
from deltacheck.models.compose import LAYER_KINDS
from deltacheck.models.runner import Settings, console_lines, run_model, verdict_line
from deltacheck.results import output


def add_parser(sub: Any) -> None:
    model = sub.add_parser("model", help="check a model made of layers (a class with params "
                           "and loss(X, y)) against its composed reference layers")
    model.add_argument("spec", metavar="SPEC", help="MODULE:Class or FILE.py:Class")
    model.add_argument("--composition", type=o.names_arg, metavar="KINDS",
                       help="the layers in order, for a class other than FullyConnectedNet, "
                            f"ThreeLayerConvNet, TwoLayerNet: {', '.join(LAYER_KINDS)}")
    model.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE",
                       help="a constructor argument (a Python literal), e.g. input_dim=4 or "
                            "hidden_dims=[3,2]; it is kept in every case")
    model.add_argument("--l2", type=float, default=0.5,
                       help="the L2 term is L2 · reg · ΣW² (default: the course's 0.5)")
    model.add_argument("--examples", type=o.positive, default=6,
                       help="cases (default: 6, each normalization with and without dropout)")
    model.add_argument("--seed", type=o.seed, default=0, help="the seed of the draws")
    o.oracle_option(model)
    model.add_argument("--report", type=Path, default=None,
                       help=f"HTML report path (default: {o.DEFAULT_DIR / 'model.html'})")
    model.add_argument("--json", type=Path, default=None,
                       help="JSON path (default: model.json beside the report)")
    model.add_argument("--junit-xml", type=Path, default=None,
                       help="JUnit XML path (default: model-junit.xml beside the report)")


def parse_arg(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE a Python literal (a bare word stays a string)."""
    import ast

    key, eq, value = text.partition("=")
    if not eq or not key.isidentifier():
        raise DeltacheckError(f"--arg {text!r} must look like KEY=VALUE, e.g. input_dim=4")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def run(args: argparse.Namespace) -> int:
    from deltacheck.models.api import resolve

    report = args.report or o.DEFAULT_DIR / "model.html"
    json_path = args.json or report.parent / "model.json"
    junit_path = args.junit_xml or report.parent / "model-junit.xml"
    o.writable((("--report", report), ("--json", json_path), ("--junit-xml", junit_path)))
    o.check_oracles(args.oracles)
    if args.l2 <= 0:
        raise DeltacheckError(f"--l2 {args.l2}: give a positive factor (the course's is 0.5)")
    constructor = dict(parse_arg(a) for a in args.arg)
    cls, source = resolve(args.spec)
    words = ["deltacheck", "model", args.spec]
    words += ["--composition", ",".join(args.composition)] if args.composition else []
    words += [w for a in args.arg for w in ("--arg", a)]
    words += ["--l2", str(args.l2)] if args.l2 != 0.5 else []
    words += ["--examples", str(args.examples), "--oracles", ",".join(args.oracles)]
    config = Settings(examples=args.examples, seed=args.seed, oracles=tuple(args.oracles),
                      composition=args.composition, args=constructor, l2=args.l2,
                      repro=shlex.join(words))
    doc = run_model(cls, source, config,
                    progress=lambda line: print(line, file=sys.stderr, flush=True))
    written = output.write_outputs(doc, json_path=json_path, report_path=report)
    written.append(f"junit:  {output.write_text(junit_path, layer_doc.junit(doc))}")
    lines = console_lines(doc) + written
    lines += [f"seed:   {args.seed} ({doc['run']['wall_time_s']:.1f} s)", verdict_line(doc)]
    print("\n".join(lines))
    return layer_doc.exit_code(doc)
