"""A run that never lies: an interrupted run is never a pass, a hanging implementation ends the
run with a failure naming its case, and huge, tiny or nan errors never crash anything."""

import json
import math
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET

import pytest

from deltacheck.campaign.slices import _log10_err
from deltacheck.commands import cli
from deltacheck.results import console, junit
from deltacheck.results.groups import failure_groups, groups_text
from tests.helpers import INTERRUPTING


def fast(*args):
    """A cheap run: finite differences only (no framework import), small networks."""
    return cli.main(["run", "--oracles", "fd", "--max-layers", "2", "--max-width", "3", *args])


def outputs(tmp_path):
    doc = json.loads((tmp_path / "results.json").read_text())
    suite = ET.fromstring((tmp_path / "junit.xml").read_text())
    return doc, suite, (tmp_path / "r.html").read_text()


def test_an_interrupted_run_is_never_a_pass(tmp_path, capsys):
    impl = tmp_path / "stops.py"
    # 8 calls are 7 cases: the first case of a slice calls once more, on another case of its
    # shapes, to see whether that changes the arrays it returned
    impl.write_text(INTERRUPTING.replace("LIMIT", "8"))
    code = fast("--impl", f"{impl}:backprop", "--examples", "30", "--seed", "1",
                "--report", str(tmp_path / "r.html"))
    err = capsys.readouterr().err
    assert code == 130
    assert f"deltacheck: interrupted after 7 of 30 cases: no verdict; results so far: " \
           f"{tmp_path / 'r.html'}" in err
    doc, suite, html = outputs(tmp_path)
    s = doc["summary"]
    assert s["verdict"] == "interrupted" and s["interrupted"] is True
    assert (s["asked"], s["checked_of_asked"], s["not_checked"]) == (30, 7, 23)
    assert "Interrupted: no verdict" in html and "All oracles agree" not in html
    assert "interrupted after 7 of 30 cases: no verdict" in html
    assert suite.get("errors") == "1"
    error = suite.find("testcase[@name='run complete']/error")
    assert error is not None and "23 asked cases were not checked" in error.get("message")
    assert console.verdict_line(doc) == "INTERRUPTED after 7 of 30 cases: no verdict"


def test_a_disagreement_found_before_the_interrupt_stays_a_failure(tmp_path, capsys):
    impl = tmp_path / "wrong_then_stops.py"
    # 8 calls are 7 cases: the first case of a slice also probes another case of its shapes
    impl.write_text(INTERRUPTING.replace("LIMIT", "8") + textwrap.dedent("""
        _right = backprop
        def backprop(*args):
            out = _right(*args)
            out["grad_biases"][-1] = 2 * out["grad_biases"][-1]
            return out
    """))
    code = fast("--impl", f"{impl}:backprop", "--examples", "30", "--seed", "1",
                "--report", str(tmp_path / "r.html"))
    err = capsys.readouterr().err
    assert code == 130
    assert "interrupted after 7 of 30 cases; DISAGREEMENT in 7 of them: 7 " in err
    doc, suite, html = outputs(tmp_path)
    assert doc["summary"]["verdict"] == "fail" and doc["summary"]["failed_cases"] == 7
    assert suite.get("errors") == "1" and int(suite.get("failures")) >= 1
    assert "Disagreement found" in html and "interrupted after 7 of 30 cases" in html


@pytest.mark.parametrize("value", [1.7e308, -1e308, 1e300, 1e-320, float("nan"), float("inf")])
def test_huge_tiny_and_nan_errors_never_crash_the_run(tmp_path, capsys, value):
    impl = tmp_path / "extreme.py"
    impl.write_text(textwrap.dedent(f"""
        import numpy as np
        from deltacheck import reference_impl
        def backprop(*args):
            out = reference_impl.backprop(*args)
            fill = float({value!r})
            return {{"loss": fill,
                     **{{k: [np.full_like(v, fill) for v in out[k]]
                        for k in ("deltas", "grad_weights", "grad_biases")}}}}
    """).replace("nan)", "'nan')").replace("inf)", "'inf')"))
    code = fast("--impl", f"{impl}:backprop", "--examples", "6", "--seed", "3",
                "--report", str(tmp_path / "r.html"))
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "Traceback" not in captured.out + captured.err
    doc, _, html = outputs(tmp_path)
    assert doc["summary"]["verdict"] == "fail" and "Disagreement found" in html


@pytest.mark.parametrize(("err", "rtol"), [(1.7e308, 1e-7), (1e-320, 1e-7), (float("nan"), 1e-7),
                                           (float("inf"), 1e-7), (-1e308, 1e-12), (0.0, 1e-7),
                                           (1e-3, 0.0), (5e-324, 1e300)])
def test_the_steering_logarithm_is_finite_and_bounded(err, rtol):
    value = _log10_err(err, rtol)
    assert math.isfinite(value) and -30.0 <= value <= 50.0


HANGS = {
    "python": "time.sleep(3600)",
    "pipe": "r, w = os.pipe(); os.read(r, 1)",
    "lock": "threading.Event().wait()",
    # retries every interrupted call, as C code may: only the rescue can end it
    "native": textwrap.dedent("""\
        r, w = os.pipe()
        while True:
            try:
                os.read(r, 1)
            except BaseException:
                pass"""),
}


@pytest.mark.parametrize("how", sorted(HANGS))
def test_a_hanging_implementation_ends_the_run_with_a_failure_naming_its_case(tmp_path, how):
    impl = tmp_path / "hangs.py"
    # the 5th call is the 4th case: the first case of a slice calls once more, on another case
    # of its shapes, to see whether that changes the arrays it returned
    impl.write_text("import os, threading, time\nfrom deltacheck import reference_impl\n"
                    "calls = {'n': 0}\n\ndef backprop(*args):\n    calls['n'] += 1\n"
                    "    if calls['n'] == 5:\n"
                    + textwrap.indent(HANGS[how], " " * 8) + "\n"
                    "    return reference_impl.backprop(*args)\n")
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "deltacheck", "run", "--impl", f"{impl}:backprop", "--oracles",
         "fd", "--max-layers", "2", "--examples", "30", "--seed", "1", "--case-timeout", "0.5",
         "--report", str(tmp_path / "r.html")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    took = time.monotonic() - started
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "DISAGREEMENT in 1 of 4 cases: 1 timed out after 0.5 s"
    hung = next(line for line in lines if line.startswith("case 3 timed out after 0.5 s"))
    assert "26 of 30 cases not checked" in hung
    assert any(line.startswith("  reproduce: deltacheck run") and "--replay" in line
               for line in lines)
    doc, _, html = outputs(tmp_path)
    assert doc["run"]["timed_out"] == 0.5 and doc["summary"]["verdict"] == "fail"
    assert [c["verdict"] for c in doc["cases"]] == ["pass"] * 3 + ["fail"]
    failure = doc["failures"][-1]
    assert failure["timed_out"] == 0.5 and "timed out after 0.5 s" in failure["message"]
    saved = failure["repro"].split("--replay ")[1].split()[0]
    assert (tmp_path / saved).is_file()
    assert "timed out after 0.5 s" in html
    suite = ET.fromstring((tmp_path / "junit.xml").read_text())
    failure = suite.find("testcase[@name='case time limit']/failure")
    assert failure is not None and failure.get("message").startswith("case 3: the implementation")
    assert "--replay" in failure.text
    assert took < 30


def test_failures_are_grouped_by_kind_and_first_wrong_quantity_largest_first():
    def rec(i, **extra):
        return {"id": i, "verdict": "fail", "arch": {"loss": "mse", "activations": []}, **extra}

    sigmoid = {"kind": "activation_derivative", "where": "δ[1] (hidden, sigmoid)"}
    cases = ([rec(i, diagnosis=sigmoid) for i in range(3)]
             + [rec(3, diagnosis={"kind": "activation_derivative",
                                  "where": "δ[0] (hidden, sigmoid)"})]
             + [rec(i, problem="raised ValueError: operands could not be broadcast together "
                               "with shapes (3,4) (4,3) and more words to cut off here")
                for i in range(4, 9)]
             + [rec(9, diagnosis={"kind": "loss_value", "where": "E"})]
             + [{"id": 10, "verdict": "pass"}])
    groups = failure_groups(cases)
    assert [(g["cases"], g["label"]) for g in groups][:2] == [
        (5, "raised ValueError: operands could not be broadcast together with shap…"),
        (4, "activation_derivative at δ (hidden, sigmoid)")]
    assert groups_text(groups).endswith("; 1 loss_value only (gradients agree)")


def test_every_failing_case_record_says_its_kind_and_first_wrong_quantity(tmp_path, capsys):
    planted = tmp_path / "halved.py"
    planted.write_text(textwrap.dedent("""
        from deltacheck import reference_impl
        def backprop(*args):
            out = reference_impl.backprop(*args)
            out["grad_biases"][0] = out["grad_biases"][0] / 2
            return out
    """))
    assert fast("--impl", f"{planted}:backprop", "--examples", "120", "--seed", "2",
                "--report", str(tmp_path / "r.html")) == 1
    doc, suite, html = outputs(tmp_path)
    failing = [c for c in doc["cases"] if c["verdict"] == "fail"]
    assert len(failing) > 50  # more than are kept in full
    assert all(c["diagnosis"]["kind"] and c["diagnosis"]["first_wrong"] for c in failing)
    groups = doc["summary"]["groups"]
    assert sum(g["cases"] for g in groups) == doc["summary"]["failed_cases"]
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.startswith(f"DISAGREEMENT in {len(failing)} of {doc['summary']['cases']} cases: ")
    if len(groups) > 1:
        assert last.endswith(groups_text(groups))
    else:  # one kind: the cause in full
        assert groups[0]["kind"] in last and "∂b[0]" in last
    assert groups[0]["label"] in html
    assert suite.find("properties/property") is not None
    assert groups_text(groups, shown=len(groups)) in junit.render(doc)
    counts = console.counts_line(doc)
    assert counts.startswith(f"cases:  {doc['summary']['cases']} checked (120 of 120 asked, + ")


@pytest.mark.parametrize("how", ["pipe", "native"])
def test_a_hang_in_a_worker_process_ends_the_run_too(tmp_path, how):
    impl = tmp_path / "hangs.py"
    impl.write_text("import os, threading, time\nfrom deltacheck import reference_impl\n\n"
                    "def backprop(*args):\n    if args[3] == 'ce' and args[4].shape[0] == 2:\n"
                    + textwrap.indent(HANGS[how], " " * 8) + "\n"
                    "    return reference_impl.backprop(*args)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "deltacheck", "run", "--impl", f"{impl}:backprop", "--oracles",
         "fd", "--max-layers", "2", "--examples", "300", "--seed", "1", "--workers", "2",
         "--losses", "mse,ce", "--case-timeout", "0.5", "--report", str(tmp_path / "r.html")],
        capture_output=True, text=True, cwd=tmp_path, timeout=180)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[-1].endswith("1 timed out after 0.5 s") or \
        "timed out after 0.5 s" in proc.stdout.splitlines()[-1]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["run"]["timed_out"] == 0.5
    assert any(f.get("timed_out") == 0.5 for f in doc["failures"])
