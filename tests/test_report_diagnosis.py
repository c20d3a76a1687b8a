"""The diagnosis in the outputs: HTML box and recurrence table, folding by kind, the matrix's
attribution to one activation, the console's verdict line and JUnit's message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import unescape

import numpy as np
import pytest

from deltacheck.diagnosis import check_case
from deltacheck.reports import failures, summaries
from deltacheck.reports import html as report
from deltacheck.results import console, junit
from deltacheck.results import document as results
from tests.impls.slips import SLIPS


def _slip(name):
    return next(s for s in SLIPS if s.name == name)


def _document(names, *, seed=1):
    """A results document with one failing case per named slip (the first one minimal)."""
    pytest.importorskip("torch")
    cases, kept = [], []
    for i, name in enumerate(names):
        slip = _slip(name)
        result = check_case(slip.case(np.random.default_rng(seed + i)), slip.backprop, ("torch",))
        phase = "minimal" if i == 0 else "generate"
        cases.append(results.case_json(i, result, phase))
        kept.append(results.failure_json(i, result, minimal=i == 0, repro=f"repro {i}"))
    doc = results.document(run={"oracles": ["torch"], "seed": 0, "dtype": "float64"},
                           cases=cases, failures=kept,
                           oracle_names=["torch"], dtype="float64")
    return doc


def test_each_failure_opens_with_its_diagnosis_and_recurrence_table():
    doc = _document(["h' evaluated at z"])
    d = doc["failures"][0]["diagnosis"]
    assert d["first_wrong"] == {"q": "hidden_delta", "layer": 1}
    assert d["kind"] == "activation_derivative" and set(d) >= {"detail", "layers"}
    html = unescape(report.render(doc))
    box = html.index('class="diagnosis"')
    assert box < html.index("Reproduce")  # at the top of the failure
    assert "activation_derivative" in html[box:box + 400]
    assert 'class="recurrence"' in html and "h'(z)" in html
    # at the worst δ entry: a, h'(a) and the implied h'
    assert "At δ[1][" in html and "h'(a) = " in html and "implied h' = " in html
    verdict = html[html.index('id="verdict"'):html.index('id="matrix"')]
    assert "Diagnosis</b> activation_derivative at δ[1] (hidden, sigmoid)" in verdict


def test_failures_beyond_the_first_few_fold_by_kind():
    names = ["∂b zero", "output δ halved", "E doubled", "h' missing", "∂W a mean",
             "∂b a mean", "output δ = t − y"]
    doc = _document(names)
    kinds = [f["diagnosis"]["kind"] for f in doc["failures"]]
    section = failures.section(doc["failures"], doc["cases"], ["torch"])
    assert len(section["shown"]) == failures.OPEN_FAILURES
    grouped = {g["kind"]: [f["id"] for f in g["failures"]] for g in section["groups"]}
    assert grouped == {"activation_derivative": [3], "factor": [4, 5], "sign": [6]}, kinds
    html = report.render(doc)
    assert html.count('class="kind-group"') == 3
    assert "<b>factor</b>: 2 more failures with this diagnosis" in html


def test_a_failing_case_is_blamed_on_the_activation_where_it_first_goes_wrong():
    # (tanh, relu): the relu layer's δ is right, the tanh one (layer 0) is the first wrong
    doc = _document(["sigmoid's h' for tanh"])
    case = doc["cases"][0]
    assert case["arch"]["activations"] == ["tanh", "relu"] and case["verdict"] == "fail"
    acts = ["relu", "tanh", "(none)"]
    rows = summaries.matrix(doc["cases"], ["mse"], acts, ["torch"])
    cells = dict(zip(acts, rows[0]["cells"], strict=True))
    assert cells["tanh"]["cls"] == "bad" and cells["tanh"]["n"] == 1
    assert cells["relu"]["n"] == 0  # not red beside the wrong tanh
    assert summaries.matrix_columns(doc["cases"], acts) == acts


def test_output_failures_get_their_own_matrix_column():
    doc = _document(["output δ halved"])
    acts = ["tanh", "(none)"]
    columns = summaries.matrix_columns(doc["cases"], acts)
    assert columns == ["tanh", "output", "(none)"]
    cells = summaries.matrix(doc["cases"], ["mse"], columns, ["torch"])[0]["cells"]
    assert [c["n"] for c in cells] == [0, 1, 0]
    assert "<th>output</th>" in report.render(doc)


def test_console_and_junit_carry_the_diagnosis():
    doc = _document(["∂W from a instead of z"])
    line = console.verdict_line(doc)
    assert line.startswith("DISAGREEMENT") and "assembly at ∂W[2]" in line
    assert any(s.startswith("  diagnosis: assembly") for s in console.summary_lines(doc))
    root = ET.fromstring(junit.render(doc))
    failure = root.find(".//failure")
    assert "diagnosis: assembly at ∂W[2]" in failure.get("message")
    assert "diagnosis: assembly" in failure.text
