"""The tolerance source: every constant of the rule in one module, and the docs say what it says."""

import ast
import re
from pathlib import Path

import pytest

from deltacheck.core import tolerances

ROOT = Path(__file__).parents[1]
BEGIN, END = "<!-- tolerances: begin", "<!-- tolerances: end -->"


def readme_block(text: str) -> str:
    """The generated part of the judging page's tolerance section."""
    start = text.index(BEGIN)
    return text[text.index("\n", start) + 1:text.index(END)]


def test_readme_tolerance_section_is_rendered_from_the_code():
    block = readme_block((ROOT / "docs" / "judging.md").read_text(encoding="utf-8"))
    assert block == tolerances.markdown(), \
        "docs/judging.md's tolerance section drifted; paste `python -m deltacheck.tolerances` into it"


def test_the_drift_check_fails_on_a_changed_table(monkeypatch):
    block = readme_block((ROOT / "docs" / "judging.md").read_text(encoding="utf-8"))
    row = tolerances.TABLE[0]
    changed = (tolerances.Tolerance(row.oracle, row.dtype, row.rtol * 10, row.why),
               *tolerances.TABLE[1:])
    monkeypatch.setattr(tolerances, "TABLE", changed)
    assert block != tolerances.markdown()
    monkeypatch.setattr(tolerances, "FLOOR_FACTOR", 32.0)
    monkeypatch.setattr(tolerances, "CONSTANTS",
                        (("FLOOR_FACTOR", 32.0, "x"), *tolerances.CONSTANTS[1:]))
    assert block != tolerances.markdown()


def test_markdown_lists_every_rtol_and_constant():
    text = tolerances.markdown()
    for row in tolerances.TABLE:
        assert f"{row.rtol:.0e}" in text
    for name, _, _ in tolerances.CONSTANTS:
        assert f"`{name}`" in text
    assert tolerances.RULE in text and tolerances.ERR in text


MODULES = ["deltacheck/judging/rounding.py", "deltacheck/judging/compare.py", "deltacheck/testing.py",
           "oracles/base.py", "oracles/fd.py", "reports/values.py"]


@pytest.mark.parametrize("path", MODULES)
def test_no_rule_constant_is_written_outside_the_tolerance_source(path):
    # The constants of the rule appeared as bare 16, 4 and 64 beside ε; they are named now.
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            for side in (node.left, node.right):
                if isinstance(side, ast.Constant) and side.value in (4, 8, 16, 32, 64):
                    other = ast.unparse(node)
                    assert "eps" not in other.lower() and "EPS" not in other, \
                        f"{path}: {other} holds a bare tolerance constant"
        if isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            assert not {"FLOOR_FACTOR", "ATOL_EPS_FACTOR"} & set(names), \
                f"{path} defines {names} (they belong in deltacheck/core/tolerances.py)"


def test_docstrings_quote_the_floor_factor_the_code_uses():
    # tolerances.py once said 32 ε while rounding used 16: no module may name another figure.
    factor = f"{tolerances.FLOOR_FACTOR:g} ε"
    for path in [*MODULES, "deltacheck/core/tolerances.py"]:
        text = (ROOT / path).read_text(encoding="utf-8")
        for m in re.finditer(r"\b(\d+) ε M\b", text):
            assert f"{m.group(1)} ε" == factor, f"{path}: {m.group(0)}"


def test_report_tolerance_text_comes_from_the_source():
    pytest.importorskip("jinja2")
    import json

    from deltacheck.reports import html

    doc = json.loads((ROOT / "tests" / "data" / "results_fixture.json").read_text())
    page = html.render(doc)
    assert tolerances.RULE in page
    assert "atol" not in page and "64 ε" not in page
    for word, _ in tolerances.TERMS:
        assert word in page
