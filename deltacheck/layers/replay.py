"""One failing layer case, saved and replayed: ``deltacheck layer FILE.py:F,B --as KIND --replay
CASE.json`` checks exactly that case again (exit 1 while it fails, 0 once fixed).

A case is saved as ``deltacheck-layer-case/1`` JSON: its kind, dtype, seed, region and every
array with its dtype and shape (floats written exactly: JSON's shortest round-trip form), named
by its content in ``<json stem>-cases/`` beside the run's JSON.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deltacheck.core.errors import DeltacheckError
from deltacheck.layers.discovery import Found, LayerSpec
from deltacheck.layers.draws import LayerCase, _noncontiguous
from deltacheck.oracles.layers import get_kind
from deltacheck.results.output import write_text

SCHEMA = "deltacheck-layer-case/1"


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array": str(value.dtype), "shape": list(value.shape),
                "values": value.reshape(-1).tolist()}
    if isinstance(value, dict):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    if isinstance(value, np.generic):
        return value.item()
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "array" in value:
        return np.array(value["values"], dtype=value["array"]).reshape(value["shape"])
    if isinstance(value, dict) and "dict" in value:
        return {k: _decode(v) for k, v in value["dict"].items()}
    return value


def case_data(case: LayerCase) -> dict[str, Any]:
    """The JSON form of a case, every array in full."""
    return {"schema": SCHEMA, "kind": case.kind, "dtype": case.dtype, "seed": case.seed,
            "region": case.region, "train_first": case.train_first,
            "inputs": {n: _encode(np.asarray(v)) for n, v in case.inputs.items()},
            "params": {n: _encode(v) for n, v in case.params.items()}}


def load_case(path: str | Path) -> LayerCase:
    """A case saved by a layer run; a file that is not one is a DeltacheckError."""
    where = Path(path)
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document")
        inputs = {n: _decode(v) for n, v in data["inputs"].items()}
        if data["region"] == "noncontiguous":  # as the run passed them
            inputs = {n: _noncontiguous(v) for n, v in inputs.items()}
        return LayerCase(data["kind"], data["dtype"], inputs,
                         {n: _decode(v) for n, v in data["params"].items()}, int(data["seed"]),
                         data["region"], bool(data["train_first"]))
    except FileNotFoundError:
        raise DeltacheckError(f"--replay {str(path)!r}: no such file; give a case JSON saved by "
                              f"'deltacheck layer' (printed after a failure)") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DeltacheckError(f"--replay {str(path)!r} is not a saved layer case ({exc}); give "
                              f"a case JSON saved by 'deltacheck layer'") from None


def case_path(folder: str | Path, data: Mapping[str, Any]) -> Path:
    """Where a case is saved under ``folder``: named by its content, so a rerun reuses it."""
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    return Path(folder) / f"case-{hashlib.sha1(text.encode()).hexdigest()[:12]}.json"


def cases_dir(json_path: str | Path) -> Path:
    """The folder of a run's saved failing cases: beside its JSON, named after it."""
    json_path = Path(json_path)
    return json_path.with_name(json_path.stem + "-cases")


def replay_command(source: str, record: Mapping[str, Any], path: Path,
                   oracles: Sequence[str], param_words: Sequence[str]) -> str:
    """``deltacheck layer FILE.py:F,B --as KIND --replay PATH`` for one layer's case."""
    where = source.rpartition(":")[0] if _names_given(source) else source
    names = ",".join(n for n in (record["forward"], record["backward"]) if n)
    # a custom function's kind (function:NAME) is made again from the function by --as
    # function, a deltacheck.Layer's (layer:NAME) from the Layer object itself
    kind = str(record["kind"])
    said = ["--as", "function"] if kind.startswith("function:") else \
        [] if kind.startswith("layer:") else ["--as", kind]
    return shlex.join(["deltacheck", "layer", f"{where}:{names}", *said,
                       *param_words, "--replay", str(path), "--oracles", ",".join(oracles)])


def _names_given(spec: str) -> bool:
    head, colon, tail = spec.rpartition(":")
    return bool(colon and head and not tail.startswith(("\\", "/")))


def save_cases(doc: dict[str, Any], folder: str | Path, param_words: Sequence[str]) -> list[Path]:
    """Save every failing case of ``doc`` in ``folder`` (emptied of an earlier run's cases) and
    point each failure's ``replay`` at its file."""
    folder = Path(folder)
    if folder.is_dir():
        for old in folder.glob("case-*.json"):
            old.unlink()
    saved: list[Path] = []
    for record in doc["layers"]:
        for failure in record["failures"]:
            data = failure["case"].pop("data", None)
            if data is None:
                continue
            path = case_path(folder, data)
            if path not in saved:
                write_text(path, json.dumps(data, separators=(",", ":")) + "\n")
                saved.append(path)
            failure["replay"] = replay_command(doc["run"]["source"], record, path,
                                               doc["run"]["oracles"], param_words)
    return saved


def one_layer(found: Found, case: LayerCase) -> LayerSpec:
    """The one layer a replay names, of the case's kind."""
    if len(found.layers) != 1:
        raise DeltacheckError(f"--replay: name one layer, e.g. {found.source}:FORWARD,BACKWARD "
                              f"--as {case.kind}")
    spec = found.layers[0]
    if (spec.declared or get_kind(spec.kind)).name != case.kind:
        raise DeltacheckError(f"--replay: the case is of kind {case.kind!r}, but {spec.name} is "
                              f"checked as {spec.kind!r}; give --as {case.kind}")
    return spec
