"""Gathers the case results of a pytest session for ``--deltacheck-report``."""

from __future__ import annotations

from deltacheck.judging.check import CaseResult

_ACTIVE: list[CaseResult] | None = None


def start() -> None:
    """Begin gathering results."""
    global _ACTIVE
    _ACTIVE = []


def record(result: CaseResult) -> None:
    """Keep a result if gathering is on."""
    if _ACTIVE is not None:
        _ACTIVE.append(result)


def stop() -> list[CaseResult]:
    """Stop gathering and hand back what was gathered."""
    global _ACTIVE
    gathered, _ACTIVE = _ACTIVE or [], None
    return gathered
