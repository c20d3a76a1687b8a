"""``deltacheck merge`` of ``deltacheck-layer/1`` documents: the shards of one ``deltacheck layer
--shard K/N`` run joined into the document one process would have written (wall times aside).

Documents of different runs (another source, seed, examples, dtype or oracles), a layer given
twice or a layer missing are refused: a partial merge would report fewer layers than the file
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.layers.document import SCHEMA, summary
from deltacheck.results.shards import one_run, owners

SAME = ("source", "seed", "examples", "dtype", "oracles", "layers_total")


def check(doc: Any, name: str) -> dict[str, Any]:
    """``doc`` if it is a layer run's document that can be merged."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise DeltacheckError(f"merge: {name!r} is not a {SCHEMA} document; give the --json "
                              f"files written by each 'deltacheck layer --shard K/N'")
    run = doc.get("run", {})
    if run.get("replay") or "indices" not in run:
        raise DeltacheckError(f"merge: {name!r} is not a layer run's results (a replay, or "
                              f"written by an older deltacheck); re-run it")
    return doc


def merge(docs: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """The document the unsharded run would have written (its wall time aside)."""
    first = one_run(docs, names, SAME, "layer run")
    owner = owners(docs, names, "indices", "layer", range(first["layers_total"]), "file")
    records = sorted((r for doc in docs for r in doc["layers"]), key=lambda r: r["index"])
    interrupted = any(doc["run"].get("interrupted") for doc in docs)
    run = {**first, "shard": None, "indices": sorted(owner), "merged_from": list(names),
           "interrupted": interrupted,
           "started": min(doc["run"].get("started", "") for doc in docs),
           "wall_time_s": round(sum(doc["run"].get("wall_time_s", 0.0) for doc in docs), 3)}
    return {**docs[0], "run": run, "layers": records,
            "summary": summary(records, interrupted)}
