"""``deltacheck layer``: check hand-written layer backwards, a whole file or one pair."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from deltacheck.commands import options as o
from deltacheck.core.case import DTYPES
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.words import plural
from deltacheck.layers import discovery, parallel, replay
from deltacheck.layers import document as layer_doc
from deltacheck.layers.runner import PROFILES, Settings
from deltacheck.results import output

EXIT_CODES = ((0, "every layer agrees"), (1, "a layer disagrees"), o.BAD_USAGE, o.INTERRUPTED)


def add_parser(sub: Any) -> None:
    layer = o.command(sub, "layer", summary="check hand-written layer backwards (a file of "
                      "<kind>_forward/_backward pairs, or one pair with --as)",
                      description="Check hand-written layer backwards against torch autograd, "
                                  "jax.vjp and finite differences of your own forward: every "
                                  "<kind>_forward/<kind>_backward pair and loss of a file, or "
                                  "one pair named with --as.", exit_codes=EXIT_CODES)
    layer.add_argument("spec", metavar="SPEC",
                       help="FILE.py, MODULE, FILE.py:FORWARD,BACKWARD or FILE.py:LOSS")
    layer.add_argument("--as", dest="as_kind", metavar="KIND",
                       help="the kind of a named pair: affine, relu, act:NAME, batchnorm, "
                            "layernorm, dropout, conv, max_pool, spatial_batchnorm, "
                            "spatial_groupnorm, softmax_loss, svm_loss, rnn_step, rnn, "
                            "lstm_step, lstm, word_embedding, temporal_affine, "
                            "temporal_softmax_loss; or function for a torch.autograd.Function "
                            "or jax.custom_vjp named as MODULE:NAME (default: from the "
                            "function names)")
    layer.add_argument("--signature", metavar="MODULE:NAME",
                       help="with --as function: a dict {'inputs': {'x': ('N', 'D')}, "
                            "'params': {...}} giving the function's shapes (default: its "
                            "deltacheck_signature attribute)")
    layer.add_argument("--double", action="store_true",
                       help="with --as function: check the double backward too (autograd "
                            "through the custom backward against differences of it) "
                            "(default: off)")
    layer.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                       help="a convention of the layer: dropout_p=drop (p is the drop "
                            "probability), or a fixed hyperparameter, e.g. eps=1e-5; repeatable "
                            "(default: none)")
    layer.add_argument("--profile", default="quick", choices=sorted(PROFILES),
                       help="quick: 100 cases per layer, random seed; ci: 100, seed 0; thorough: "
                            "2000 (default: %(default)s)")
    layer.add_argument("--examples", type=o.positive,
                       help="cases per layer (default: the profile's)")
    layer.add_argument("--seed", type=o.seed,
                       help="Hypothesis seed, printed and saved (default: the profile's: 0 for "
                            "ci, else drawn)")
    layer.add_argument("--dtype", choices=DTYPES, default="float64",
                       help="the layers' dtype (default: %(default)s)")
    o.oracle_option(layer)
    layer.add_argument("--report", type=Path, default=None,
                       help=f"HTML report path (default: {o.DEFAULT_DIR / 'layer.html'})")
    layer.add_argument("--json", type=Path, default=None,
                       help="JSON path (default: layer.json beside the report)")
    layer.add_argument("--junit-xml", type=Path, default=None,
                       help="JUnit XML path (default: layer-junit.xml beside the report)")
    layer.add_argument("--workers", type=o.positive, default=1, metavar="N",
                       help="check the layers in N processes; the results are the same as with "
                            "1 (default: 1)")
    layer.add_argument("--shard", type=_shard, metavar="K/N",
                       help="check only the K-th of N disjoint shares of the layers; join the "
                            "shards' JSON with 'deltacheck merge' (default: every layer)")
    layer.add_argument("--replay", metavar="CASE.json",
                       help="check only this saved failing case (as printed after a failure) "
                            "of the one layer named (default: none)")


def _shard(arg: str) -> tuple[int, int]:
    from deltacheck.campaign.planning import parse_shard

    try:
        return parse_shard(arg)
    except DeltacheckError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--shard {arg!r} ")) from None


def run(args: argparse.Namespace) -> int:
    report = args.report or o.DEFAULT_DIR / "layer.html"
    json_path = args.json or report.parent / "layer.json"
    junit_path = args.junit_xml or report.parent / "layer-junit.xml"
    o.writable((("--report", report), ("--json", json_path), ("--junit-xml", junit_path)))
    o.check_oracles(args.oracles)
    if args.replay and (args.shard or args.workers > 1):
        raise DeltacheckError("--replay checks one case: leave out --shard and --workers")
    params = dict(discovery.parse_param(p) for p in args.param)
    parallel.settle()  # as every worker does before it draws: the same seed, the same cases
    if args.as_kind == "function":
        found = discovery.function_spec(args.spec, signature=args.signature,
                                        double=args.double, params=params)
    elif args.signature or args.double:
        option = "--signature" if args.signature else "--double"
        raise DeltacheckError(f"{option} applies to a custom-backward function: add "
                              f"--as function (e.g. {args.spec}:NAME --as function {option})")
    else:
        found = discovery.resolve(args.spec, as_kind=args.as_kind, params=params)
    if args.shard and not parallel.shard_indices(len(found.layers), args.shard):
        raise DeltacheckError(f"--shard {args.shard[0]}/{args.shard[1]}: {args.spec} has only "
                              f"{plural(len(found.layers), 'layer')} to share; give N ≤ "
                              f"{len(found.layers)}")
    case = replay.load_case(args.replay) if args.replay else None
    if case is not None:
        replay.one_layer(found, case)
    examples, fixed = PROFILES[args.profile]
    seed = args.seed if args.seed is not None else fixed
    if seed is None:
        import random

        seed = random.randrange(2**31)
    words = ["deltacheck", "layer", args.spec] + (["--as", args.as_kind] if args.as_kind else [])
    words += [w for p in args.param for w in ("--param", p)]
    words += (["--signature", args.signature] if args.signature else []) + \
        (["--double"] if args.double else [])
    words += ["--examples", str(args.examples or examples), "--dtype", args.dtype,
              "--oracles", ",".join(args.oracles)]
    config = Settings(examples=1 if case else args.examples or examples, seed=seed,
                      dtype=case.dtype if case else args.dtype, oracles=tuple(args.oracles),
                      repro=shlex.join(words), replay=case)
    doc = layer_doc.run_layers(found, config,
                               progress=lambda line: print(line, file=sys.stderr, flush=True),
                               shard=args.shard, workers=args.workers,
                               respec=(args.spec, args.as_kind, params))
    param_words = [w for p in args.param for w in ("--param", p)]
    param_words += (["--signature", args.signature] if args.signature else []) + \
        (["--double"] if args.double else [])  # a function's, which its replay needs too
    if case is None:
        replay.save_cases(doc, replay.cases_dir(json_path), param_words)
    else:
        doc["run"]["replay"] = args.replay
        for record in doc["layers"]:
            for failure in record["failures"]:
                failure["case"].pop("data", None)
                failure["replay"] = replay.replay_command(
                    args.spec, record, Path(args.replay), args.oracles, param_words)
    written = output.write_outputs(doc, json_path=json_path, report_path=report)
    written.append(f"junit:  {output.write_text(junit_path, layer_doc.junit(doc))}")
    lines = layer_doc.console_lines(doc) + written
    lines += [f"replay: {args.replay} ({doc['run']['wall_time_s']:.1f} s)" if case else
              f"seed:   {seed} ({doc['run']['wall_time_s']:.1f} s)", layer_doc.verdict_line(doc)]
    print("\n".join(lines))
    return layer_doc.exit_code(doc)


__all__ = ["DeltacheckError", "add_parser", "run"]
