"""``deltacheck merge``: one report from the JSON results of a campaign's shards."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from deltacheck.commands import options as o
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.verdicts import PASS
from deltacheck.core.words import plural
from deltacheck.results import console, output

EXIT_CODES = ((0, "every case of every shard agrees"), (1, "a disagreement"),
              (2, "bad usage or input, files of different campaigns, or a shard missing or "
                  "given twice"), o.INTERRUPTED)


def add_parser(sub: Any) -> None:
    merge = o.command(sub, "merge", summary="one report from the JSON results of 'run --shard K/N' "
                      "or of 'layer --shard K/N'",
                      description="Join the JSON results of a campaign's shards (run --shard "
                                  "K/N, or layer --shard K/N) into one report, JSON and JUnit "
                                  "file.",
                      exit_codes=EXIT_CODES)
    merge.add_argument("results", nargs="+", metavar="RESULTS.json",
                       help="the --json file of every shard")
    o.output_options(merge, "merged JSON results")


def run(args: argparse.Namespace) -> int:
    from deltacheck.campaign import merge

    o.output_paths(args)
    outputs = (("--report", args.report), ("--json", args.json), ("--junit-xml", args.junit_xml))
    o.check_distinct(outputs)
    given = {Path(p).resolve() for p in args.results}
    for option, path in outputs:
        if path.resolve() in given:
            raise DeltacheckError(f"{option} {str(path)!r} is one of the files being merged; "
                                  f"write the merged results elsewhere")
        o.check_writable(option, path)
    if any(_schema(p) == "deltacheck-layer/1" for p in args.results):
        return _layers(args)
    doc = merge.merge([merge.load(p) for p in args.results], list(args.results))
    out = console.summary_lines(doc) + output.write_outputs(
        doc, json_path=args.json, report_path=args.report, junit_path=args.junit_xml)
    out.append(f"merged: {plural(len(args.results), 'file')}, "
               f"{plural(doc['summary']['cases'], 'case')}")
    out.append(console.verdict_line(doc))
    print("\n".join(out))
    return 0 if doc["summary"]["verdict"] == PASS else 1


def _schema(path: str) -> str | None:
    """The schema a JSON file names, or None (what is wrong with it is said when it loads)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc.get("schema") if isinstance(doc, dict) else None


def _layers(args: argparse.Namespace) -> int:
    """The shards of a ``deltacheck layer --shard K/N`` run joined into one report."""
    from deltacheck.layers import document as layer_doc
    from deltacheck.layers import merge as layer_merge

    docs = [layer_merge.check(json.loads(Path(p).read_text(encoding="utf-8")), p)
            for p in args.results]
    doc = layer_merge.merge(docs, list(args.results))
    written = output.write_outputs(doc, json_path=args.json, report_path=args.report)
    written.append(f"junit:  {output.write_text(args.junit_xml, layer_doc.junit(doc))}")
    print("\n".join(layer_doc.console_lines(doc) + written + [
        f"merged: {plural(len(args.results), 'file')}, {plural(doc['summary']['cases'], 'case')}",
        layer_doc.verdict_line(doc)]))
    return layer_doc.exit_code(doc)
