"""Passing cases are stored compactly, failures in full, and the HTML stays small at any count."""

import json

import pytest

from deltacheck import reference_impl
from deltacheck.diagnosis import check_case
from deltacheck.reports import common
from deltacheck.reports.common import quantities
from deltacheck.results import document as results
from tests.helpers import perturbed, random_case


def _result(rng, impl=reference_impl.backprop):
    case = random_case(rng, (3, 4, 4, 2), ("tanh", "relu"), "bce", batch=3)
    return case, check_case(case, impl, ["torch", "fd"])


def test_a_passing_case_keeps_each_quantitys_error_in_under_a_kilobyte(rng):
    _, result = _result(rng)
    assert result.verdict == "pass"
    rec = results.case_json(0, result, "generate")
    assert len(json.dumps(rec, separators=(",", ":"))) < 1000
    for name, oracle in result.oracles.items():
        compact, full = rec["oracles"][name], oracle.to_json()
        assert "quantities" not in compact
        expanded = common.quantities(compact, n_layers=3)
        assert [(q["q"], q["layer"], q["verdict"]) for q in expanded] == \
               [(q["q"], q["layer"], q["verdict"]) for q in full["quantities"]]
        for q, f in zip(expanded, full["quantities"], strict=True):
            assert q["err"] == pytest.approx(f["err"], rel=5e-3, abs=0)  # three digits
        # the report reads the compact form the same way
        assert quantities(compact, 3) == expanded
        assert compact["judged"] == sum(q["judged"] for q in full["quantities"])


def test_a_failing_case_is_kept_in_full(rng):
    def wrong(*args):
        return perturbed(reference_impl.backprop(*args), "grad_weights", 1, (0, 0), 1.5)

    _, result = _result(rng, wrong)
    assert result.verdict == "fail"
    rec = results.case_json(0, result, "generate")
    for oracle in rec["oracles"].values():
        assert "quantities" in oracle and "errs" not in oracle
        assert any("worst" in q for q in oracle["quantities"])


def test_the_html_report_stays_under_2_mb_at_any_case_count(rng):
    pytest.importorskip("jinja2")
    from deltacheck.reports import html

    _, good = _result(rng)
    _, bad = _result(rng, lambda *a: perturbed(reference_impl.backprop(*a), "deltas", 0,
                                                  (0, 0), 2.0))
    passing, failing = (results.case_json(0, good, "generate"),
                        results.case_json(0, bad, "generate"))
    failure = results.failure_json(0, bad, minimal=False, repro="deltacheck run ...")
    cases = [{**(failing if i % 4 == 0 else passing), "id": i} for i in range(10000)]
    failures = [{**failure, "id": i} for i in range(0, 200, 4)]
    run = {"impl": "x", "profile": "quick", "seed": 0, "dtype": "float64", "examples": 10000,
           "losses": ["bce"], "activations": ["tanh", "relu"], "oracles": ["torch", "fd"]}
    doc = results.document(run=run, cases=cases, failures=failures, oracle_names=["torch", "fd"],
                           dtype="float64")
    page = html.render(doc)
    assert len(page.encode()) < 2 * 2**20
    assert "2500" in page  # the failing count is there: the cases were all read
