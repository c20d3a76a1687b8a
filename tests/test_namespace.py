"""One import name: deltacheck runs beside a user's own oracles/, reports/ and reference_impl/."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import needs

pytest_plugins = ["pytester"]

ROOT = Path(__file__).parents[1]
GENERIC = ("oracles", "reports", "reference_impl")


def shadow(folder: Path) -> None:
    """Packages with deltacheck's generic folder names, as a user's project may have."""
    for name in GENERIC:
        (folder / name).mkdir()
        (folder / name / "__init__.py").write_text(
            f"NAMES = ('mine',)\ndef get(name):\n    raise RuntimeError('the user\\'s {name} "
            f"was imported')\nrender = write = backprop = get\n")


def test_the_package_installs_one_import_name():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "deltacheck" or p.startswith("deltacheck.") for p in config["packages"])
    assert set(config["package-dir"]) == {"deltacheck", *(f"deltacheck.{n}" for n in GENERIC)}


def test_no_module_imports_a_bare_generic_name():
    for path in [*ROOT.glob("deltacheck/**/*.py"), *(p for n in GENERIC
                                                   for p in (ROOT / n).rglob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        for name in GENERIC:
            assert f"\nimport {name}" not in text and f"\nfrom {name} " not in text \
                and f"\nfrom {name}." not in text, f"{path.name} imports the bare {name}"


def test_a_run_beside_the_users_own_packages_passes(tmp_path):
    pytest.importorskip("jinja2")
    shadow(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "deltacheck", "run", "--oracles", "fd", "--examples", "6",
         "--max-layers", "2", "--report", "out/r.html"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "user's" not in done.stdout + done.stderr
    assert "<svg" in (tmp_path / "out" / "r.html").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "out" / "results.json").read_text())["summary"]["verdict"] \
        == "pass"


def test_a_pytest_session_beside_the_users_own_packages_passes(pytester):
    needs("jinja2", "torch")
    shadow(pytester.path)
    pytester.makepyfile(test_mine=textwrap.dedent("""
        from hypothesis import given, settings
        from deltacheck import reference_impl, strategies as ds, testing as dt

        @settings(max_examples=4, database=None)
        @given(ds.cases(max_layers=2))
        def test_agrees(case):
            dt.assert_agrees(case, reference_impl.backprop, oracles=["torch", "fd"])
    """))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--deltacheck-report=r.html")
    result.assert_outcomes(passed=1)
    assert "<svg" in (pytester.path / "r.html").read_text(encoding="utf-8")
