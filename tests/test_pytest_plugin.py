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
    # in a process of its own: an in-process run would drop the modules it imported (torch among
    # them) from sys.modules afterwards, and importing them again crashes the collector later
    result = pytester.runpytest_subprocess("--deltacheck-report=out/r.html")
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


def test_report_gathers_every_xdist_workers_comparisons(pytester):
    import pytest

    pytest.importorskip("xdist")
    pytester.makepyfile(**{f"test_part{k}": f"""
        import pytest
        from deltacheck import reference_impl
        from deltacheck import testing as dt
        from tests_helpers_case import small_case

        @pytest.mark.parametrize("seed", range(3))
        def test_agrees(seed):
            dt.assert_agrees(small_case({k} * 10 + seed), reference_impl.backprop,
                             oracles=["torch", "fd"])
    """ for k in range(2)})
    pytester.makepyfile(tests_helpers_case="""
        import numpy as np
        from deltacheck import Case

        def small_case(seed):
            rng = np.random.default_rng(seed)
            return Case(widths=(2, 3, 2), activations=("tanh",), loss="mse", dtype="float64",
                        weights=(rng.normal(size=(3, 2)), rng.normal(size=(2, 3))),
                        biases=(rng.normal(size=3), rng.normal(size=2)),
                        x=rng.normal(size=(2, 2)), t=rng.normal(size=(2, 2)))
    """)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "xdist",
                                           "--deltacheck-report=out/r.html")
    result.assert_outcomes(passed=6)
    doc = json.loads((pytester.path / "out" / "r.json").read_text())
    assert doc["summary"]["cases"] == 6  # three from each file, whichever worker ran them
    assert [c["id"] for c in doc["cases"]] == list(range(6))
    assert doc["run"]["workers"] == 2
