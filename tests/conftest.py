"""Hypothesis profiles: dev (default, quick), ci (derandomized, no database, no deadline), thorough."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("thorough", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that needs a framework that is not installed is skipped, with the reason; in CI
    (``CI`` set) it fails instead, so a broken torch or jax install never passes as skips.
    Only tests marked ``without_frameworks`` (they prove deltacheck works without one) may
    skip there."""
    from deltacheck.oracles import OracleUnavailable

    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(OracleUnavailable):
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0,
                           f"Skipped: {call.excinfo.value}")
    if report.skipped and os.environ.get("CI") and not item.get_closest_marker(
            "without_frameworks"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"skipped in CI, where every framework must be installed: {reason}"


def pytest_sessionfinish(session, exitstatus):
    """In CI, a whole module skipped at collection (``pytest.importorskip`` of a framework that
    is not installed) fails the session as well."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = [r for r in (reporter.stats.get("skipped", []) if reporter else [])
               if isinstance(r, pytest.CollectReport)]
    if skipped and os.environ.get("CI"):
        for r in skipped:
            reporter.write_line(f"skipped in CI, where every framework must be installed: "
                                f"{r.nodeid}: {r.longrepr}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed generator: every random draw in the tests is explicit."""
    return np.random.default_rng(20261128)
