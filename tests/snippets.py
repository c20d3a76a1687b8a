"""The code blocks of README.md and docs/, and the marks that say how the tests run them.

A block runs by its language: ```python in this process, ```sh and ```bash in bash. An HTML
comment on the line before a block (invisible on GitHub and on the site) changes that:

| mark | meaning |
|---|---|
| ``<!-- skip: REASON -->`` | not run; the reason is required and shown in the test's skip |
| ``<!-- slow -->`` | run only in the slow tests (``-m slow``) |
| ``<!-- output -->`` | a ```text block: its lines appear, in order, in the previous block's output |

A ```python block whose first line is ``# NAME.py`` is a file of the page: it is written into
the page's working folder before any block runs, so that commands can name it. In shown output,
``…`` stands for any text within a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).parents[1]
RUNNABLE = ("python", "sh", "bash")
_FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
_MARK = re.compile(r"<!--\s*(skip|slow|output)\s*:?\s*(.*?)\s*-->\s*$")
_FILE = re.compile(r"# ([\w.-]+\.py)\s*$")


@dataclass
class Block:
    """One fenced block of a page: its language, text, line and marks."""

    page: str
    line: int
    lang: str
    code: str
    mark: str = ""
    reason: str = ""
    output: str | None = None  # the ```text block marked as this block's output

    @property
    def filename(self) -> str | None:
        """NAME.py when the block is a file of the page."""
        first = self.code.split("\n", 1)[0]
        found = _FILE.fullmatch(first) if self.lang == "python" else None
        return found.group(1) if found else None


def pages() -> list[Path]:
    """README.md and every page of the site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The runnable blocks of a page, each with its mark and shown output."""
    text = path.read_text(encoding="utf-8")
    found: list[Block] = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = _MARK.search(before)
        name, reason = (mark.group(1), mark.group(2)) if mark else ("", "")
        lang = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        if name == "output":
            if not found:
                raise AssertionError(f"{path.name}:{line}: an output block follows no block")
            found[-1].output = match.group(2)
        elif lang in RUNNABLE:
            found.append(Block(str(path.relative_to(ROOT)), line, lang, match.group(2), name,
                               reason))
    return found


def shown_lines_appear(shown: str, actual: str) -> str | None:
    """None when every shown line appears in ``actual`` in order; else the first one missing."""
    lines = [line.rstrip() for line in actual.splitlines()]
    at = 0
    for want in (w.rstrip() for w in shown.splitlines() if w.strip()):
        pattern = re.compile(".*".join(re.escape(part) for part in want.split("…")))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None
