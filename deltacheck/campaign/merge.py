"""``deltacheck merge``: one results document from the documents of a campaign's shards.

Each shard (``run --shard K/N``) ran a disjoint set of the campaign's slices with the same
settings and seed. Merging puts their cases back in slice order and numbers them as one run
would, keeping the minimal network of each loss's first failing slice only (as one run
shrinks only that one), so every count and verdict equals the unsharded run's. Documents of different
campaigns, a slice given twice or a slice missing are refused: a partial merge would report
fewer cases than the campaign asked for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from deltacheck.campaign import planning as campaign
from deltacheck.core.errors import DeltacheckError
from deltacheck.results import document as results
from deltacheck.results.numbering import numbered
from deltacheck.results.shards import one_run, owners

# What must agree for documents to be shards of one campaign.
SAME = ("impl", "profile", "seed", "dtype", "examples", "losses", "activations",
        "user_activations", "oracles", "max_layers", "max_width", "max_batch", "slice_cases",
        "checks", "widths")


def load(path: str | Path) -> dict[str, Any]:
    """A results document written by ``deltacheck run --json``."""
    where = Path(path)
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeltacheckError(f"merge: {str(path)!r} does not exist; give the --json files "
                              f"written by each 'deltacheck run --shard K/N'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DeltacheckError(f"merge: {str(path)!r} is not a readable results JSON "
                              f"({type(exc).__name__}); give a file written by "
                              f"'deltacheck run --json'") from None
    if not isinstance(doc, dict) or doc.get("schema") != results.SCHEMA:
        raise DeltacheckError(f"merge: {str(path)!r} is not a {results.SCHEMA} document; give "
                              f"a file written by 'deltacheck run --json'")
    if doc.get("run", {}).get("replay") or "slices" not in doc.get("run", {}):
        raise DeltacheckError(f"merge: {str(path)!r} is not a campaign's results (a replay, "
                              f"or written by an older deltacheck); re-run it")
    return doc


def merge(docs: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """The document the unsharded campaign would have written (its wall time aside)."""
    first = one_run(docs, names, SAME, "campaign")
    expected = [s.index for s in campaign.plan(first["examples"], first["losses"])]
    owner = owners(docs, names, "slices", "slice", expected, "campaign")

    keyed = []  # (slice, position in its document, document number, record)
    for d, doc in enumerate(docs):
        keyed += [(rec["slice"], pos, d, rec) for pos, rec in enumerate(doc["cases"])]
    keyed.sort(key=lambda k: k[:2])
    # Each shard shrank the first failing slice of each loss it ran; one run shrinks only the
    # first of all, so the other shards' minimal cases go.
    first_failing: dict[str, int] = {}
    for piece, _, _, rec in keyed:
        if rec["phase"] == "generate" and rec["verdict"] == "fail":
            first_failing.setdefault(rec["arch"]["loss"], piece)
    keyed = [k for k in keyed if k[3]["phase"] != "minimal"
             or first_failing.get(k[3]["arch"]["loss"]) == k[0]]
    new_id = {(d, rec["id"]): i for i, (_, _, d, rec) in enumerate(keyed)}
    cases = [{**rec, "id": i} for i, (_, _, _, rec) in enumerate(keyed)]
    found = sorted(({**f, "id": new_id[(d, f["id"])]} for d, doc in enumerate(docs)
                    for f in doc["failures"] if (d, f["id"]) in new_id), key=lambda f: f["id"])
    _, failures = numbered([([], found)])  # as one run keeps them: ids as they are, the cap

    run = {**first, "shard": None, "slices": sorted(owner), "merged_from": list(names),
           "asked": first["examples"],
           "interrupted": any(doc["run"].get("interrupted") for doc in docs),
           "shrink_steps": sum(doc["run"].get("shrink_steps", 0) for doc in docs),
           "started": min(doc["run"].get("started", "") for doc in docs),
           "wall_time_s": round(sum(doc["run"].get("wall_time_s", 0.0) for doc in docs), 3)}
    merged = results.document(run=run, cases=cases, failures=failures,
                              oracle_names=first["oracles"], dtype=first["dtype"])
    merged["environment"] = docs[0]["environment"]  # where the cases ran, not where merged
    merged["minimal_failures"] = [f["id"] for f in failures if f["minimal"]]
    return merged
