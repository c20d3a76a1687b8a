"""``deltacheck selftest``: every seeded bug through a campaign."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from deltacheck import campaign
from deltacheck.commands import options as o
from deltacheck.core.case import DTYPES
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.words import plural
from deltacheck.results import output


def add_parser(sub: Any) -> None:
    selftest = sub.add_parser("selftest", help="run every seeded bug through a campaign: exit 0 "
                              "only if each one is caught")
    selftest.add_argument("--profile", default="ci", choices=sorted(campaign.PROFILES),
                          help="the campaign each bug meets (default: %(default)s)")
    selftest.add_argument("--examples", type=o.positive,
                          help="cases per bug at most (overrides the profile)")
    selftest.add_argument("--seed", type=o.seed, help="one Hypothesis seed for every bug")
    selftest.add_argument("--dtype", choices=DTYPES, default="float64")
    o.oracle_option(selftest)
    selftest.add_argument("--bugs", type=o.names_arg, help="comma-separated seeded bug names "
                          "(default: all; see deltacheck/campaign/bugs.py)")
    selftest.add_argument("--layers", nargs="?", const="examples/layers/slips.py",
                          metavar="SLIPS.py", help="run the seeded layer slips instead (SLIPS "
                          "of the given module; default: %(const)s)")
    selftest.add_argument("--models", nargs="?", const="examples/models/slips.py",
                          metavar="SLIPS.py", help="run the seeded model composition slips "
                          "instead (SLIPS of the given module; default: %(const)s)")
    selftest.add_argument("--functions", nargs="?", const="examples/functions/slips.py",
                          metavar="SLIPS.py", help="run the seeded custom-backward slips "
                          "(torch.autograd.Function, jax.custom_vjp) instead (default: "
                          "%(const)s)")
    selftest.add_argument("--json", type=Path, default=o.DEFAULT_DIR / "selftest.json",
                          help="the kill table as JSON; run reports beside it show its kill rate "
                          "(default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    from deltacheck.campaign import selftest

    o.check_writable("--json", args.json)
    o.check_oracles(args.oracles)
    parts = [f"--{name}" for name in ("layers", "functions", "models") if getattr(args, name)]
    if len(parts) > 1:
        raise DeltacheckError(f"{' and '.join(parts)}: run one selftest part at a time")
    if args.layers or args.functions:
        return _layers(args)
    if args.models:
        return _models(args)
    chosen = selftest.select(args.bugs)

    def progress(kill: selftest.Kill) -> None:
        print(f"  {kill.bug.name}: {'caught' if kill.caught else 'MISSED'} after "
              f"{plural(kill.cases, 'case')}", file=sys.stderr)

    doc = selftest.run(profile=args.profile, seed=args.seed, examples=args.examples,
                       dtype=args.dtype, oracles=args.oracles, bugs=chosen, progress=progress)
    out = selftest.table(doc) + output.write_outputs(doc, json_path=args.json)
    print("\n".join(out))
    return 0 if doc["summary"]["verdict"] == "pass" else 1


def _layers(args: argparse.Namespace) -> int:
    from deltacheck.layers import selftest as layer_selftest
    from deltacheck.layers.runner import Settings

    part = "functions" if args.functions else "layers"
    slips = layer_selftest.load_slips(args.functions or args.layers, f"--{part}")
    config = Settings(examples=args.examples or 100, seed=args.seed or 0, dtype=args.dtype,
                      oracles=tuple(args.oracles), shrink=False)
    doc = layer_selftest.run(slips, config, progress=lambda line: print(line, file=sys.stderr))
    json_path = args.json.with_name(f"selftest-{part}.json")
    print("\n".join(layer_selftest.table(doc) + output.write_outputs(doc, json_path=json_path)))
    return 0 if doc["summary"]["verdict"] == "pass" else 1


def _models(args: argparse.Namespace) -> int:
    from deltacheck.models import selftest as model_selftest
    from deltacheck.models.runner import Settings

    slips = model_selftest.load_slips(args.models)
    config = Settings(examples=args.examples or 6, seed=args.seed or 0,
                      oracles=tuple(args.oracles))
    doc = model_selftest.run(slips, config, progress=lambda line: print(line, file=sys.stderr))
    json_path = args.json.with_name("selftest-models.json")
    print("\n".join(model_selftest.table(doc) + output.write_outputs(doc, json_path=json_path)))
    return 0 if doc["summary"]["verdict"] == "pass" else 1
