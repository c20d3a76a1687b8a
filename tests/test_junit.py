"""JUnit XML: one test case per (loss, activation, oracle); failures carry the minimal case."""

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from deltacheck.results import junit
from deltacheck.results.reading import attributed_to

FIXTURE = json.loads((Path(__file__).parent / "data" / "results_fixture.json").read_text())


def test_one_testcase_per_group():
    root = ET.fromstring(junit.render(FIXTURE))
    names = [tc.get("name") for tc in root.iter("testcase")]
    expected = {(c["arch"]["loss"], act, o) for c in FIXTURE["cases"] for o, r in c["oracles"].items()
                for act in ([attributed_to(c["arch"]["activations"], r)]
                            if r["verdict"] in ("fail", "error")
                            else c["arch"]["activations"] or ["(none)"])}
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


def test_a_failure_counts_only_under_the_activation_it_first_goes_wrong_in():
    failing = {("deltas", 1), ("deltas", 0)}  # δ[2] is the output: δ[1] is the first wrong
    quantities = [{"q": "loss", "layer": None, "verdict": "pass"}] + [
        {"q": q, "layer": l, "verdict": "fail" if (q, l) in failing else "pass"}
        for q in ("deltas", "grad_weights", "grad_biases") for l in range(3)]
    bad = {"id": 999, "phase": "generate", "verdict": "fail", "message": "δ[1] is wrong",
           "arch": {"widths": [2, 3, 3, 2], "activations": ["tanh", "mish_like"],
                    "loss": "mse", "dtype": "float64", "batch": 2},
           "oracles": {"torch": {"verdict": "fail", "err": 1.0, "rtol": 1e-12,
                                 "not_judged": 0, "quantities": quantities}}}
    root = ET.fromstring(junit.render({**FIXTURE, "cases": [bad], "failures": []}))
    names = {tc.get("name"): tc.find("failure") is not None for tc in root.iter("testcase")}
    assert names == {"mse / mish_like / torch": True}  # the tanh layer is not blamed
