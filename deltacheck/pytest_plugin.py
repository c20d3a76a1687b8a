"""pytest plugin: ``pytest --deltacheck-report PATH`` gathers every comparison into one report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deltacheck import collector, output
from deltacheck.verdicts import ERROR, FAIL


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


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the report of everything gathered."""
    path = session.config.getoption("--deltacheck-report", default=None)
    if not path:
        return
    from deltacheck.results import case_json, document, failure_json

    gathered = collector.stop()
    oracle_names = sorted({name for r in gathered for name in r.oracles})
    cases, failures = [], []
    for i, r in enumerate(gathered):
        cases.append(case_json(i, r, "pytest"))
        if r.verdict in (FAIL, ERROR) and len(failures) < 50:
            failures.append(failure_json(i, r, minimal=False, repro="pytest (see the test log)"))
    dtypes = sorted({r.case.dtype for r in gathered}) or ["float64"]
    run = {"impl": "pytest session", "profile": "pytest", "seed": None, "dtype": dtypes[0],
           "examples": len(gathered), "oracles": oracle_names,
           "command": "pytest --deltacheck-report " + str(path)}
    doc = document(run=run, cases=cases, failures=failures, oracle_names=oracle_names,
                   dtype=dtypes[0])
    path = Path(path)
    output.write_outputs(doc, json_path=path.with_suffix(".json"), report_path=path)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"deltacheck report: {path} ({len(gathered)} cases)")
