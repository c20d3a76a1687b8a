"""pytest plugin: ``pytest --deltacheck-report PATH`` gathers every comparison into one report.

Under pytest-xdist (``pytest -n N``) each worker hands its records to the controller when it
finishes, and the controller writes the one report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deltacheck.core.verdicts import ERROR, FAIL
from deltacheck.core.words import plural
from deltacheck.results import collector, output
from deltacheck.results.numbering import MAX_FAILURES, numbered

_PARTS = pytest.StashKey[list]()  # (xdist worker id, its records), gathered by the controller


def pytest_addoption(parser: Any) -> None:
    """Register ``--deltacheck-report``."""
    group = parser.getgroup("deltacheck")
    group.addoption("--deltacheck-report", metavar="PATH", default=None,
                    help="write the comparisons made by deltacheck's assertions to an HTML "
                         "report (and its JSON beside it)")


def pytest_configure(config: Any) -> None:
    """Start gathering when a report was asked for."""
    if config.getoption("--deltacheck-report", default=None):
        collector.start()


def _records(gathered: list[Any]) -> dict[str, list[dict[str, Any]]]:
    """The case records and (the first MAX_FAILURES) failure records of gathered results."""
    from deltacheck.results.document import case_json, failure_json

    cases: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for i, r in enumerate(gathered):
        cases.append(case_json(i, r, "pytest"))
        if r.verdict in (FAIL, ERROR) and len(failures) < MAX_FAILURES:
            failures.append(failure_json(i, r, minimal=False, repro="pytest (see the test log)"))
    return {"cases": cases, "failures": failures}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Under pytest-xdist: keep what a worker gathered, to report it with the others."""
    part = getattr(node, "workeroutput", {}).get("deltacheck")
    if part is not None:
        node.config.stash.setdefault(_PARTS, []).append((node.gateway.id, json.loads(part)))


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the report of everything gathered (an xdist worker hands it to the controller)."""
    path = session.config.getoption("--deltacheck-report", default=None)
    if not path:
        return
    from deltacheck.results.document import document

    own = _records(collector.stop())
    if hasattr(session.config, "workeroutput"):  # an xdist worker: the controller writes
        session.config.workeroutput["deltacheck"] = json.dumps(own)
        return
    parts = [own] + [part for _, part in sorted(session.config.stash.get(_PARTS, []))]
    cases, failures = numbered((part["cases"], part["failures"]) for part in parts)
    oracle_names = sorted({name for c in cases for name in c["oracles"]})
    dtypes = sorted({c["arch"]["dtype"] for c in cases}) or ["float64"]
    run = {"impl": "pytest session", "profile": "pytest", "seed": None, "dtype": dtypes[0],
           "examples": len(cases), "oracles": oracle_names,
           "command": "pytest --deltacheck-report " + str(path),
           "workers": max(1, len(parts) - 1)}
    doc = document(run=run, cases=cases, failures=failures, oracle_names=oracle_names,
                   dtype=dtypes[0])
    path = Path(path)
    output.write_outputs(doc, json_path=path.with_suffix(".json"), report_path=path)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"deltacheck report: {path} ({plural(len(cases), 'case')})")
