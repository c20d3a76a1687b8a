"""The implementation's warnings are caught per case: never printed mid-table, counted once per
distinct warning on the console, and kept with where each first occurred in the JSON and HTML."""

import json
import textwrap

from deltacheck.commands import cli

WARNS = """
import numpy as np
from deltacheck import reference_impl
def backprop(*args):
    np.exp(np.array([1000.0]))
    if args[3] == "ce":
        np.log(np.array([0.0]))
    return reference_impl.backprop(*args)
"""


def test_warnings_are_counted_once_each_and_kept_with_their_first_case(tmp_path, capsys):
    impl = tmp_path / "warns.py"
    impl.write_text(textwrap.dedent(WARNS))
    code = cli.main(["run", "--impl", f"{impl}:backprop", "--oracles", "fd", "--max-layers", "2",
                     "--examples", "30", "--seed", "1", "--report", str(tmp_path / "r.html")])
    captured = capsys.readouterr()
    assert code == 0
    assert "RuntimeWarning" not in captured.err  # nothing printed as it happened
    lines = captured.out.splitlines()
    said = [line for line in lines if line.startswith("warning: ")]
    assert said == [
        f"warning: RuntimeWarning: overflow encountered in exp ({impl}:5): 30 times in 30 "
        f"cases, first in case 0",
        f"warning: RuntimeWarning: divide by zero encountered in log ({impl}:7): 10 times in 10 "
        f"cases, first in case 20"]
    assert lines[-1].startswith("all agree")  # the verdict stays the last line
    doc = json.loads((tmp_path / "results.json").read_text())
    first = doc["summary"]["warnings"][0]
    assert first == {"category": "RuntimeWarning", "message": "overflow encountered in exp",
                     "where": f"{impl}:5", "count": 30, "cases": 30, "first_case": 0}
    assert doc["cases"][0]["warnings"][0]["count"] == 1
    html = (tmp_path / "r.html").read_text()
    assert "Warnings from the implementation" in html and "divide by zero encountered in log" in html


def test_a_run_without_warnings_says_none(tmp_path, capsys):
    assert cli.main(["run", "--oracles", "fd", "--max-layers", "2", "--examples", "6",
                     "--report", str(tmp_path / "r.html")]) == 0
    assert "warning:" not in capsys.readouterr().out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["summary"]["warnings"] == []
    assert "Warnings from the implementation" not in (tmp_path / "r.html").read_text()
