"""A whole ``deltacheck layer`` run as one ``deltacheck-layer/1`` document, its console table,
verdict line and JUnit XML (a test per layer)."""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.verdicts import FAIL, PASS, worst
from deltacheck.core.words import plural
from deltacheck.layers import parallel
from deltacheck.layers.discovery import Found
from deltacheck.layers.runner import Settings, check_layer_spec

SCHEMA = "deltacheck-layer/1"


def run_layers(found: Found, config: Settings,
               progress: Callable[[str], None] | None = None, *,
               shard: tuple[int, int] | None = None, workers: int = 1,
               respec: tuple[str, str | None, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Check every layer ``found`` names (those of ``shard`` K/N only; in ``workers``
    processes that load the layers again from ``respec``, the spec, kind and params); the
    document (interrupted: what was checked)."""
    started, start = dt.datetime.now().astimezone().isoformat(timespec="seconds"), \
        time.perf_counter()
    indices = parallel.shard_indices(len(found.layers), shard)
    done: dict[int, dict[str, Any]] = {}
    interrupted = False
    if workers > 1 and len(indices) > 1 and respec is not None:
        done, interrupted = parallel.check_in_processes(found, indices, config, workers, respec,
                                                        progress)
    else:
        for i in indices:
            try:
                done[i] = check_layer_spec(found.layers[i], config, progress)
            except KeyboardInterrupt:
                interrupted = True
                break
    records = [{**done[i], "index": i} for i in sorted(done)]
    doc = {"schema": SCHEMA,
           "run": {"source": found.source, "started": started, "seed": config.seed,
                   "examples": config.examples, "dtype": config.dtype,
                   "oracles": list(config.oracles), "interrupted": interrupted,
                   "layers_total": len(found.layers), "shard": list(shard) if shard else None,
                   "indices": indices, "wall_time_s": round(time.perf_counter() - start, 3)},
           "environment": {"python": platform.python_version(), "numpy": np.__version__,
                           "platform": sys.platform},
           "tolerances": tolerances.as_dicts(), "layers": records,
           "unplaced": unplaced_hints(found.source, found.unplaced)}
    doc["summary"] = summary(records, interrupted)
    return doc


def summary(records: Sequence[dict[str, Any]], interrupted: bool = False) -> dict[str, Any]:
    """The verdict over all layers (an interrupted run never passes) and the counts."""
    verdict = worst([r["verdict"] for r in records]) if records else FAIL
    if interrupted and verdict == PASS:
        verdict = FAIL
    return {"verdict": str(verdict), "layers": len(records),
            "failed": [r["name"] for r in records if r["verdict"] == FAIL],
            "cases": sum(r["cases"] for r in records), "interrupted": interrupted}


def exit_code(doc: dict[str, Any]) -> int:
    """0 all agree, 1 a disagreement, 130 interrupted."""
    if doc["summary"]["interrupted"]:
        return 130
    return 0 if doc["summary"]["verdict"] != FAIL else 1


def console_lines(doc: dict[str, Any]) -> list[str]:
    """The layer × verdict table, the unplaced names and each failing layer's minimal case."""
    lines = [f"{'layer':<50} {'kind':<18} {'cases':>5}  {'worst err':>9}  verdict"]
    for r in doc["layers"]:
        err = max((float(e) for e in r["worst_err"].values()), default=0.0)
        lines.append(f"{r['name']:<50} {r['kind']:<18} {r['cases']:>5}  {err:>9.1e}  "
                     f"{r['verdict']}")
    for r in doc["layers"]:  # a declared forward that a framework cannot run or differentiate
        lines += [f"{r['name']}: not judged by {oracle}: {why}"
                  for oracle, why in r.get("oracles_skipped", {}).items()]
    for r in doc["layers"]:
        if r["failures"]:
            f = r["failures"][-1]
            lines += [f"{r['name']}: minimal failing case {f['case']['describe']}",
                      f"  {f['message']}", f"  diagnosis: {f['diagnosis']['cause']}: "
                      f"{f['diagnosis']['text']}", f"  reproduce: {f['repro']}"]
            if f.get("replay"):
                lines.append(f"  replay this case: {f['replay']}")
    for u in doc["unplaced"]:
        lines.append(f"not placed: {u['name']} (name it with {u['hint']})")
    return lines


def verdict_line(doc: dict[str, Any]) -> str:
    """The last line: all agree, or the failing layers with the gradient and the cause."""
    s = doc["summary"]
    if s["interrupted"]:
        return f"interrupted after {plural(s['layers'], 'layer')}: not a pass"
    if s["verdict"] != FAIL:
        # the oracles that judged something (a function's autograd is its own framework's)
        used = [o for o in doc["run"]["oracles"]
                if any(o in r["judged_by"] for r in doc["layers"])] or doc["run"]["oracles"]
        return f"all agree: {plural(s['layers'], 'layer')}, {plural(s['cases'], 'case')}, oracles " \
               f"{', '.join(used)}"
    bad = [r for r in doc["layers"] if r["verdict"] == FAIL]
    named = "; ".join(f"{r['name']} ({r['failures'][-1]['gradient'] or 'out'}: "
                      f"{r['failures'][-1]['diagnosis']['cause']})" for r in bad)
    return f"DISAGREEMENT in {len(bad)} of {plural(s['layers'], 'layer')}: {named}"


def junit(doc: dict[str, Any]) -> str:
    """JUnit XML: one test case per layer."""
    suite = ET.Element("testsuite", name="deltacheck-layer", timestamp=doc["run"]["started"],
                       time=str(doc["run"]["wall_time_s"]))
    for r in doc["layers"]:
        tc = ET.SubElement(suite, "testcase", classname=f"deltacheck.layer.{r['kind']}",
                           name=r["name"], time=str(r["wall_time_s"]))
        if r["failures"]:
            f = r["failures"][-1]
            ET.SubElement(tc, "failure", message=f"{f['diagnosis']['cause']}: {f['message']}",
                          type="Disagreement").text = (
                f"minimal case: {f['case']['describe']}\n{f['diagnosis']['text']}\n"
                f"reproduce: {f['repro']}")
        elif r["verdict"] != PASS:
            ET.SubElement(tc, "skipped", message="no entry could be judged")
    suite.set("tests", str(len(doc["layers"])))
    suite.set("failures", str(sum(r["verdict"] == FAIL for r in doc["layers"])))
    suite.set("errors", "0")
    suite.set("skipped", str(len(suite.findall("testcase/skipped"))))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def unplaced_hints(source: str, names: list[str]) -> list[dict[str, str]]:
    """How to check each name the file defines but no kind took: a forward with its backward
    (``X_forward`` with ``X_backward`` when both are there), one name otherwise."""
    hints = []
    for name in names:
        stem, _, role = name.rpartition("_")
        if role == "backward" and f"{stem}_forward" in names:
            continue  # named with its forward
        pair = f"{stem}_backward" if role == "forward" and f"{stem}_backward" in names \
            else "BACKWARD"
        hints.append({"name": name, "hint": f"{source}:{name},{pair} --as KIND"})
    return hints
