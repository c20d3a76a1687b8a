"""No oracle may lean on what it checks: no reference backward code, no hand-written h'."""

import ast
from pathlib import Path

import pytest

ORACLE_FILES = sorted((Path(__file__).parents[1] / "oracles").rglob("*.py"))
CHECKED = ("deltacheck.reference_impl", "reference_impl")


@pytest.mark.parametrize("path", ORACLE_FILES, ids=lambda p: p.name)
def test_oracle_imports_nothing_it_checks(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith(CHECKED), f"{path.name} imports {alias.name}"
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {alias.name for alias in node.names}
            assert not module.startswith(CHECKED), f"{path.name} imports {names} from {module}"
            assert not (module == "deltacheck" and "reference_impl" in names), \
                f"{path.name} imports the reference implementation"


@pytest.mark.parametrize("path", ORACLE_FILES, ids=lambda p: p.name)
def test_oracle_never_calls_a_hand_written_derivative(path):
    tree = ast.parse(path.read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert "dh" not in used, f"{path.name} uses an activation's dh"
    assert not {"backprop", "backward", "output_delta", "gradients"} & {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def test_the_independence_check_can_fail(tmp_path):
    bad = tmp_path / "bad_oracle.py"
    bad.write_text("from deltacheck.reference_impl.network import backward\nact.dh(a, np)\n")
    with pytest.raises(AssertionError):
        test_oracle_imports_nothing_it_checks(bad)
    with pytest.raises(AssertionError):
        test_oracle_never_calls_a_hand_written_derivative(bad)
