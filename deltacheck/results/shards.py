"""What every merge of shards checks first: one run, each part given once, none missing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from deltacheck.core.errors import DeltacheckError


def one_run(docs: Sequence[dict[str, Any]], names: Sequence[str], same: Iterable[str],
            what: str) -> dict[str, Any]:
    """The first document's ``run``, once every document agrees with it on the keys ``same``.

    ``what``: the run, as a message names it ("campaign", "layer run").
    """
    if not docs:
        raise DeltacheckError("merge: give at least one results JSON")
    first = docs[0]["run"]
    keys = list(same)
    for doc, name in zip(docs[1:], names[1:], strict=True):
        differ = [k for k in keys if doc["run"].get(k) != first.get(k)]
        if differ:
            raise DeltacheckError(f"merge: {name!r} is from another {what} than {names[0]!r} "
                                  f"({', '.join(differ)} differ); merge the shards of one run")
    return first


def owners(docs: Sequence[dict[str, Any]], names: Sequence[str], key: str, part: str,
           expected: Iterable[int], whole: str) -> dict[int, str]:
    """Which file holds each part (the ints listed under ``run[key]``): each given once, and
    every ``expected`` part present. ``part`` and ``whole`` name them in messages."""
    owner: dict[int, str] = {}
    for doc, name in zip(docs, names, strict=True):
        for index in doc["run"][key]:
            if index in owner:
                raise DeltacheckError(f"merge: {part} {index} is in both {owner[index]!r} and "
                                      f"{name!r}; give each shard once")
            owner[index] = name
    missing = sorted(set(expected) - set(owner))
    if missing:
        raise DeltacheckError(f"merge: {part}s {missing[:10]} of the {whole} are in none of the "
                              f"files; add the missing shards' JSON")
    return owner
