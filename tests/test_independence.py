"""No oracle may lean on what it checks: no reference backward code, no hand-written h'."""

import ast
from pathlib import Path

import pytest

ORACLE_FILES = sorted((Path(__file__).parents[1] / "oracles").glob("*.py"))
ALLOWED_FROM_REFERENCE = {"reference_impl.activations": {"BUILTINS", "get"}}


@pytest.mark.parametrize("path", ORACLE_FILES, ids=lambda p: p.name)
def test_oracle_imports_nothing_it_checks(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("reference_impl"), \
                    f"{path.name} imports {alias.name}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reference_impl"):
            allowed = ALLOWED_FROM_REFERENCE.get(node.module, set())
            names = {alias.name for alias in node.names}
            assert names <= allowed, f"{path.name} imports {names - allowed} from {node.module}"


@pytest.mark.parametrize("path", ORACLE_FILES, ids=lambda p: p.name)
def test_oracle_never_calls_a_hand_written_derivative(path):
    tree = ast.parse(path.read_text())
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert "dh" not in used, f"{path.name} uses an activation's dh"
    assert not {"backprop", "backward", "output_delta", "gradients"} & {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


def test_the_independence_check_can_fail(tmp_path):
    bad = tmp_path / "bad_oracle.py"
    bad.write_text("from reference_impl.network import backward\nact.dh(a, np)\n")
    with pytest.raises(AssertionError):
        test_oracle_imports_nothing_it_checks(bad)
    with pytest.raises(AssertionError):
        test_oracle_never_calls_a_hand_written_derivative(bad)
