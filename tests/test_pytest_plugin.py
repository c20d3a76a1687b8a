"""pytest --deltacheck-report gathers the property tests' comparisons into one report."""

import json

pytest_plugins = ["pytester"]


def test_report_gathers_comparisons(pytester):
    pytester.makepyfile("""
        from hypothesis import given, settings
        from deltacheck import reference_impl
        from deltacheck import strategies as ds
        from deltacheck import testing as dt

        @settings(max_examples=5, database=None, deadline=None)
        @given(ds.cases(max_layers=2))
        def test_agrees(case):
            dt.assert_agrees(case, reference_impl.backprop, oracles=["torch", "fd"])
    """)
    result = pytester.runpytest("--deltacheck-report=out/r.html")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["deltacheck report: out/r.html (* cases)"])
    doc = json.loads((pytester.path / "out" / "r.json").read_text())
    assert doc["summary"]["verdict"] == "pass" and doc["summary"]["cases"] >= 5
    assert "<svg" in (pytester.path / "out" / "r.html").read_text()


def test_no_option_no_report(pytester):
    pytester.makepyfile("def test_nothing():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "out").exists()
