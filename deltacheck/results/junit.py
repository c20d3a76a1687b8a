"""JUnit XML: one test case per (loss, activation, oracle) group, as CI systems display them."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from deltacheck.core.verdicts import ERROR, FAIL, NOT_JUDGED
from deltacheck.core.words import plural
from deltacheck.results.groups import groups_text
from deltacheck.results.reading import attributed_to, line_of

NO_HIDDEN = "(none)"


def _groups(doc: Mapping[str, Any]) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Records by (loss, activation, oracle); a failure only under the activation to blame."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for case in doc["cases"]:
        arch = case["arch"]
        for oracle, rec in case["oracles"].items():
            blamed = attributed_to(arch["activations"], rec) \
                if rec["verdict"] in (FAIL, ERROR) else None
            for act in [blamed] if blamed else sorted(set(arch["activations"])) or [NO_HIDDEN]:
                groups[(arch["loss"], act, oracle)].append({**rec, "case": case})
    return groups


def render(doc: Mapping[str, Any]) -> str:
    """The JUnit XML text of a results document."""
    minimal = {f["case"]["loss"]: f for f in doc["failures"] if f["minimal"]}
    in_full = {f["id"]: f for f in doc["failures"]}
    suite = ET.Element("testsuite", name="deltacheck", timestamp=doc["run"].get("started", ""),
                       time=str(doc["run"].get("wall_time_s", 0)))
    summary = doc.get("summary") or {}
    groups = summary.get("groups") or []
    if groups:  # every failure of the run, grouped as the console's last line groups them
        props = ET.SubElement(suite, "properties")
        for g in groups:
            ET.SubElement(props, "property", name=f"failures: {g['label']}",
                          value=f"{plural(g['cases'], 'case')}, first case {g['first_case']}")
    grouped = [f"all failures: {groups_text(groups, shown=len(groups))}"] if groups else []
    failures = 0
    for (loss, act, oracle), recs in sorted(_groups(doc).items()):
        tc = ET.SubElement(suite, "testcase", classname=f"deltacheck.{loss}",
                           name=f"{loss} / {act} / {oracle}", time="0")
        bad = [r for r in recs if r["verdict"] in (FAIL, ERROR)]
        if bad:
            failures += 1
            first = bad[0]
            message = (first.get("message")
                       or next((q["message"] for q in first["quantities"] if q.get("message")),
                               first["case"].get("message", "disagreement")))
            diagnosed = in_full.get(first["case"]["id"], minimal.get(loss, {})).get("diagnosis")
            if diagnosed:
                message = f"{message}; diagnosis: {line_of(diagnosed)}"
            detail = [f"{len(bad)} of {plural(len(recs), 'case')} disagree; first: case "
                      f"{first['case']['id']}"]
            if loss in minimal:
                m = minimal[loss]
                detail += [f"minimal failing network for {loss}: {m['message']}"]
                if m.get("diagnosis"):
                    detail += [f"diagnosis: {line_of(m['diagnosis'])}"]
                detail += [f"reproduce: {m['repro']}",
                           "case: " + json.dumps(m["case"], separators=(",", ":"))]
            ET.SubElement(tc, "failure", message=message, type="Disagreement").text = \
                "\n".join(detail + grouped)
        elif all(r["verdict"] == NOT_JUDGED for r in recs):
            ET.SubElement(tc, "skipped", message="every entry sat on or near a kink")
        else:
            tc.append(ET.Comment(f"{plural(len(recs), 'case')} agree"))
    errors = _incomplete(suite, summary)
    failures += _timed_out(suite, doc)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", str(len(suite.findall("testcase/skipped"))))
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _timed_out(suite: ET.Element, doc: Mapping[str, Any]) -> int:
    """A failing test case for a call that outlived its limit: the run stopped there."""
    hung = next((f for f in doc.get("failures") or [] if f.get("timed_out") is not None), None)
    if hung is None:
        return 0
    left = int((doc.get("summary") or {}).get("not_checked", 0))
    tc = ET.SubElement(suite, "testcase", classname="deltacheck.run", name="case time limit",
                       time=str(hung["timed_out"]))
    ET.SubElement(tc, "failure", type="TimedOut", message=(
        f"case {hung['id']}: {hung['message']}; the run stopped there, "
        f"{plural(left, 'asked case')} not checked")).text = f"reproduce: {hung['repro']}"
    return 1


def _incomplete(suite: ET.Element, summary: Mapping[str, Any]) -> int:
    """An errored test case when the run was interrupted: CI must not read it as complete."""
    if not summary.get("interrupted"):
        return 0
    asked, left = int(summary.get("asked", 0)), int(summary.get("not_checked", 0))
    tc = ET.SubElement(suite, "testcase", classname="deltacheck.run", name="run complete",
                       time="0")
    message = (f"interrupted after {asked - left:,} of {plural(asked, 'case')}: "
               f"{plural(left, 'asked case')} {'was' if left == 1 else 'were'} not checked")
    ET.SubElement(tc, "error", type="Interrupted", message=message).text = \
        "The run was stopped (Ctrl-C) before every case was checked."
    return 1
