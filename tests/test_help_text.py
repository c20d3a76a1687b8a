"""Every command's --help has a description, its exit codes and every option's default, and
the docs' option and exit-code tables say the same, so that neither can drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deltacheck.commands import cli

ROOT = Path(__file__).parents[1]
PAGES = {"run": "run.md", "layer": "layers.md", "model": "models.md", "merge": "scaling.md",
         "audit": "audit.md", "demo": "demo.md", "selftest": "selftest.md"}
_DEFAULT = re.compile(r"\(default: (.*)\)$")


def help_text(command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
              ) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as stop:
        cli.main([command, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def help_options(text: str) -> dict[str, str]:
    """{--option: its default} from --help: each entry's text up to the next entry, unwrapped."""
    entries: list[list[str]] = []
    for line in text.split("\nexit codes:")[0].splitlines():
        if re.match(r"  -", line):
            entries.append([line.strip()])
        elif re.match(r"  \S", line):  # a positional argument: no default to give
            entries.append(["POSITIONAL"])
        elif entries and line.startswith("   ") and line.strip():
            entries[-1].append(line.strip())
    found = {}
    for words in entries:
        entry = " ".join(words)
        if entry.startswith("POSITIONAL"):
            continue
        name = re.findall(r"--[\w-]+", entry.split("  ")[0])[0]
        if name in ("--help", "--version"):
            continue
        default = _DEFAULT.search(entry.replace("- ", "-"))  # argparse breaks paths after '-'
        found[name] = default.group(1) if default else ""
    return found


def help_exit_codes(text: str) -> dict[str, str]:
    """{code: meaning} from the exit codes section of --help."""
    section = text.split("\nexit codes:\n", 1)[1]
    return dict(re.findall(r"^  (\d+)\s+(.+)$", section, flags=re.M))


def _table(page: str, mark: str) -> list[list[str]]:
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert f"<!-- {mark} -->" in text, f"docs/{page} has no table marked <!-- {mark} -->"
    rows = text.split(f"<!-- {mark} -->", 1)[1].lstrip("\n").split("\n\n", 1)[0].splitlines()
    return [[cell.strip().replace("`", "") for cell in row.strip("|").split(" | ")]
            for row in rows[2:]]


def docs_options(command: str) -> dict[str, str]:
    """{--option: default} from the page's table marked <!-- options: COMMAND -->."""
    found = {}
    for cells in _table(PAGES[command], f"options: {command}"):
        found[cells[0].split()[0]] = cells[1]
    return found


def docs_exit_codes(command: str) -> dict[str, str]:
    return {cells[0]: cells[1] for cells in _table(PAGES[command], f"exit codes: {command}")}


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_help_has_a_description_exit_codes_and_every_default(command, monkeypatch, capsys):
    text = help_text(command, monkeypatch, capsys)
    description = text.split("\n\n")[1]
    assert not description.startswith(("options:", "positional")), \
        f"'deltacheck {command} --help' has no description line"
    codes = help_exit_codes(text)
    assert {"0", "1", "2", "130"} <= set(codes)
    options = help_options(text)
    assert options, "no options parsed"
    missing = [name for name, default in options.items() if not default]
    assert not missing, f"'deltacheck {command} --help' gives no default for {missing}"


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_the_docs_option_table_matches_help(command, monkeypatch, capsys):
    text = help_text(command, monkeypatch, capsys)
    assert docs_options(command) == help_options(text), (
        f"docs/{PAGES[command]}'s option table and 'deltacheck {command} --help' differ")
    assert docs_exit_codes(command) == help_exit_codes(text), (
        f"docs/{PAGES[command]}'s exit codes and 'deltacheck {command} --help' differ")


def test_the_parser_of_help_sees_a_missing_default_and_a_changed_one():
    text = ("usage: x\n\nDoes x.\n\noptions:\n  -h, --help  show\n  --a A       first (default:\n"
            "              3)\n  --b B       second\n\nexit codes:\n  0    fine\n")
    assert help_options(text) == {"--a": "3", "--b": ""}
    assert help_exit_codes(text) == {"0": "fine"}
    assert help_options(text.replace("3)", "4)")) != help_options(text)
