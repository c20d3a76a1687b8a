"""JUnit XML: one test case per (loss, activation, oracle); failures carry the minimal case."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from deltacheck import junit

FIXTURE = json.loads((Path(__file__).parent / "data" / "results_fixture.json").read_text())


def test_one_testcase_per_group():
    root = ET.fromstring(junit.render(FIXTURE))
    names = [tc.get("name") for tc in root.iter("testcase")]
    expected = {(c["arch"]["loss"], act, o) for c in FIXTURE["cases"]
                for act in (c["arch"]["activations"] or ["(none)"]) for o in c["oracles"]}
    assert sorted(names) == sorted(f"{l} / {a} / {o}" for l, a, o in expected)
    assert root.get("tests") == str(len(expected))


def test_failures_carry_message_and_minimal_case():
    root = ET.fromstring(junit.render(FIXTURE))
    failed = [tc for tc in root.iter("testcase") if tc.find("failure") is not None]
    assert root.get("failures") == str(len(failed)) and failed
    minimal = next(f for f in FIXTURE["failures"] if f["minimal"])
    group = [tc for tc in failed if tc.get("classname") == f"deltacheck.{minimal['case']['loss']}"]
    assert group
    text = group[0].find("failure").text
    assert minimal["repro"] in text and '"widths"' in text


def test_passing_run_has_no_failures():
    doc = {**FIXTURE, "cases": [c for c in FIXTURE["cases"] if c["verdict"] == "pass"],
           "failures": []}
    root = ET.fromstring(junit.render(doc))
    assert root.get("failures") == "0" and root.find(".//failure") is None
