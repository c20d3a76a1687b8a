"""In CI a missing framework fails the run: a skip there would hide a broken torch or jax."""

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parents[1] / "conftest.py").read_text(encoding="utf-8")
MISSING = """
import pytest
{where}pytest.importorskip("no_such_framework_xyz")
def test_a():
    {inside}pytest.importorskip("no_such_framework_xyz")
"""


def _run(pytester, monkeypatch, ci, **code):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_needs=MISSING.format(**code))
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:deltacheck")


def test_a_skip_inside_a_test_fails_in_ci(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, True, where="# ", inside="")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*skipped in CI, where every framework must be installed*"])


def test_a_module_skipped_at_collection_fails_in_ci(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, True, where="", inside="# ")
    assert result.ret != 0


def test_outside_ci_it_is_a_skip(pytester, monkeypatch):
    result = _run(pytester, monkeypatch, False, where="# ", inside="")
    result.assert_outcomes(skipped=1)
    assert result.ret == 0
