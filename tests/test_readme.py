"""The README's Python snippets run as written."""

import re
import textwrap
from pathlib import Path

import pytest

from tests.helpers import needs

pytest_plugins = ["pytester"]

README = Path(__file__).parents[1] / "README.md"


def python_blocks() -> list[str]:
    """Every ```python block of the README, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def block_starting(first_line: str) -> str:
    found = [b for b in python_blocks() if b.startswith(first_line)]
    assert len(found) == 1, f"the README should have one block starting {first_line!r}"
    return found[0]


def test_the_from_python_snippet_runs(capsys):
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    exec(compile(block_starting("import numpy as np\nfrom deltacheck import reference_impl"),
                 "README.md", "exec"), {})
    assert capsys.readouterr().out.startswith("pass ")


def test_the_pytest_snippet_passes_under_hypothesis_defaults(pytester):
    # Hypothesis's own defaults, deadline 200 ms included: only fewer examples, for time.
    needs("torch", "jax")
    pytester.makeconftest(textwrap.dedent("""
        from hypothesis import settings
        settings.register_profile("readme", max_examples=12, database=None)
        settings.load_profile("readme")
    """))
    pytester.makepyfile(test_mynet=block_starting("# test_mynet.py"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
