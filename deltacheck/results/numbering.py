"""Case ids across the parts of one document, and the cap on failures kept in full.

A document's cases are numbered 0, 1, 2, … in order. Its parts (the slices of a run, a slice's
shrinking pass, the processes of a pytest session, the shards of a merge) each number their
own from 0; joining them moves each part's ids past the ones before, and keeps every minimal
failure and the first ``MAX_FAILURES`` others. Every join goes through ``numbered``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_FAILURES = 50  # failures kept with their values (minimal ones always); all are in "cases"

Records = list[dict[str, Any]]


def numbered(parts: Iterable[tuple[Sequence[dict[str, Any]], Sequence[dict[str, Any]]]], *,
             start: int = 0, kept: int = 0, cap: int | None = MAX_FAILURES,
             tags: Iterable[dict[str, Any]] | None = None) -> tuple[Records, Records]:
    """The case records and failures of ``parts`` (each a pair, ids from 0), numbered as one.

    ``start``: the first id (the records already in the document); ``kept``: the failures,
    other than minimal ones, that it already keeps. A failure that is not minimal is kept while
    fewer than ``cap`` are (``None``: all); a minimal one always is. ``tags``: keys added to
    every record of the matching part (``{"slice": 3}``).
    """
    records: Records = []
    failures: Records = []
    tag_list = list(tags) if tags is not None else None
    for k, (part_records, part_failures) in enumerate(parts):
        offset = start + len(records)
        extra = tag_list[k] if tag_list is not None else {}
        records += [{**rec, "id": rec["id"] + offset, **extra} for rec in part_records]
        for f in part_failures:
            if f.get("minimal") or cap is None or kept < cap:
                failures.append({**f, "id": f["id"] + offset})
                kept += not f.get("minimal")
    return records, failures
