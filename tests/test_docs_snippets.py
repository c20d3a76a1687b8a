"""Every code block of README.md and docs/ runs as written, and prints what the page shows.

How a page marks its blocks (skip with a reason, slow, shown output) is in tests/snippets.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests import snippets
from tests.helpers import needs
from tests.snippets import ROOT, Block

pytest_plugins = ["pytester"]

PAGES = [p for p in snippets.pages() if snippets.blocks(p)]


def _folder(page: Path, tmp_path: Path) -> Path:
    """The page's working folder: its files written, the repository's examples beside them."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    for block in snippets.blocks(page):
        if block.filename:
            (tmp_path / block.filename).write_text(block.code, encoding="utf-8")
    return tmp_path


def _run(block: Block, folder: Path, namespace: dict[str, object]) -> str:
    """Run one block in the page's folder; what it printed."""
    where = f"{block.page}:{block.line}"
    if block.lang == "python":
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(block.code, where, "exec"), namespace)
        return out.getvalue()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(folder)}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=folder, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    output = done.stdout
    assert done.returncode == 0, f"{where} exited {done.returncode}:\n{output[-3000:]}"
    return output


def _check_page(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow: bool) -> None:
    folder = _folder(page, tmp_path)
    monkeypatch.chdir(folder)
    monkeypatch.syspath_prepend(str(folder))
    namespace: dict[str, object] = {"__name__": "__snippet__"}
    ran = 0
    for block in snippets.blocks(page):
        if block.mark == "skip" or (block.mark == "slow" and not slow):
            continue
        if block.filename:
            compile(block.code, f"{block.page}:{block.line}", "exec")  # run by the commands
            continue
        printed = _run(block, folder, namespace)
        ran += 1
        if block.output is not None:
            missing = snippets.shown_lines_appear(block.output, printed)
            assert missing is None, (f"{block.page}:{block.line} did not print {missing!r}; "
                                     f"it printed:\n{printed[-3000:]}")
    assert ran, f"{page.name}: no block ran"


def _runs_quickly(block: Block) -> bool:
    return block.mark not in ("skip", "slow") and not block.filename


# Pages whose every block is slow or skipped run only in the slow test: a skip here would read
# as something missing.
FAST_PAGES = [p for p in PAGES if any(_runs_quickly(b) for b in snippets.blocks(p))]


@pytest.mark.parametrize("page", FAST_PAGES, ids=lambda p: p.name)
def test_the_page_runs(page, tmp_path, monkeypatch):
    _check_page(page, tmp_path, monkeypatch, slow=False)


SLOW_PAGES = [p for p in PAGES if any(b.mark == "slow" for b in snippets.blocks(p))]


@pytest.mark.slow
@pytest.mark.parametrize("page", SLOW_PAGES, ids=lambda p: p.name)
def test_the_page_runs_with_its_slow_blocks(page, tmp_path, monkeypatch):
    _check_page(page, tmp_path, monkeypatch, slow=True)


def test_every_skip_says_why():
    for page in snippets.pages():
        for block in snippets.blocks(page):
            if block.mark == "skip":
                assert len(block.reason) > 10, f"{block.page}:{block.line}: skip without a reason"


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (ROOT / "docs").rglob("*.md"):
        assert f" {page.relative_to(ROOT / 'docs').as_posix()}\n" in nav, f"{page} not in nav"


def test_the_readme_links_to_pages_that_exist():
    # mkdocs checks the site's own links; the README is outside it.
    links = re.findall(r"\]\((docs/[^)#]+)", (ROOT / "README.md").read_text(encoding="utf-8"))
    assert links
    missing = [link for link in links if not (ROOT / link).is_file()]
    assert not missing, f"the README links to missing pages: {missing}"


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


def test_the_readme_setup_commands_are_the_ones_ci_runs():
    # They install, so the snippet tests skip them; CI's own script runs the same steps.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert ("pip install torch==2.13.0 && pip install -e '.[test]' && HYPOTHESIS_PROFILE=ci "
            "python -m pytest -q") in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for step in ("pip install --quiet torch==2.13.0", "pip install --quiet -e '.[test]'",
                 "HYPOTHESIS_PROFILE=ci python -m pytest -q"):
        assert step in ci


def test_the_readme_pytest_snippet_passes_under_hypothesis_defaults(pytester):
    # Hypothesis's own defaults, deadline 200 ms included: only fewer examples, for time. The
    # page's slow test runs it with all of them.
    needs("torch", "jax")
    files = {b.filename: b.code for b in snippets.blocks(ROOT / "README.md") if b.filename}
    pytester.makeconftest(textwrap.dedent("""
        from hypothesis import settings
        settings.register_profile("readme", max_examples=12, database=None)
        settings.load_profile("readme")
    """))
    pytester.makepyfile(mynet=files["mynet.py"], test_mynet=files["test_mynet.py"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)


# The machinery must be able to fail: a wrong shown output, a failing command.

def test_a_wrong_shown_output_is_caught():
    assert snippets.shown_lines_appear("all agree: 30 cases", "x\nall agree: 31 cases\n") \
        == "all agree: 30 cases"
    assert snippets.shown_lines_appear("b\na", "a\nb\n") == "a"  # order matters
    assert snippets.shown_lines_appear("seed:   0 (… s)", "seed:   0 (3.1 s)") is None


def test_a_failing_command_fails_its_page(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("```sh\ndeltacheck run --examples 0\n```\n", encoding="utf-8")
    monkeypatch.setattr(snippets, "ROOT", tmp_path)
    (tmp_path / "work").mkdir()
    block = snippets.blocks(page)[0]
    with pytest.raises(AssertionError, match="exited 2"):
        _run(block, tmp_path / "work", {})


def test_a_python_block_that_prints_otherwise_fails(tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("```python\nprint('fail')\n```\n\n<!-- output -->\n```text\npass\n```\n",
                    encoding="utf-8")
    monkeypatch.setattr(snippets, "ROOT", tmp_path)
    with pytest.raises(AssertionError, match="did not print 'pass'"):
        _check_page(page, tmp_path / "w", monkeypatch, slow=False)


@pytest.mark.slow
def test_the_strict_site_build_fails_on_a_broken_link(tmp_path):
    # What CI runs; note that --quiet would hide the warning and let the build pass.
    pytest.importorskip("mkdocs")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    build = [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")]
    assert subprocess.run(build, cwd=tmp_path, capture_output=True).returncode == 0
    with (tmp_path / "docs" / "models.md").open("a", encoding="utf-8") as page:
        page.write("\nSee [the missing page](missing.md).\n")
    done = subprocess.run(build, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "missing.md" in done.stderr
