"""The campaign of one model: drawn cases until the first failure, and the run as a document in
the form of ``deltacheck layer``'s (one record for the model), so that its console table,
verdict line, JUnit XML and HTML report are the layer command's."""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.core import tolerances
from deltacheck.core.numbers import json_number
from deltacheck.core.verdicts import FAIL, NOT_JUDGED, PASS
from deltacheck.core.words import plural
from deltacheck.layers import document as layer_doc
from deltacheck.layers.runner import Settings as LayerSettings
from deltacheck.models import attribution, calls, compose
from deltacheck.models.judging import Case, ModelOutcome, check

SCHEMA = "deltacheck-model/1"
WHY = {  # the slips found before any gradient is compared: in the composition whatever the layers
    "params": "the model composes its layers differently from the declared composition",
    "scores": "the model composes its layers differently from the declared composition",
    "running_stats": "test mode (loss(X)) changes what only training may change: batch norm's "
                     "running statistics or the params",
    "reproducible": "the loss is not reproducible with a fixed seed: dropout's seed "
                    "(dropout_param['seed']) is not honoured"}
JAX_CASES = 1  # jax compiles each new composition (seconds on a CPU): it judges the first cases


@dataclass
class Settings:
    """How hard to try: cases, the seed, the oracles, the declared composition and arguments."""

    examples: int = 6
    seed: int = 0
    oracles: Sequence[str] = ("torch", "jax", "fd")
    composition: Sequence[str] | None = None
    args: dict[str, Any] | None = None
    l2: float = 0.5
    layer_examples: int = 30  # cases per layer when a failure is attributed
    repro: str = ""


def draw_case(cls: Any, kind: str, index: int, config: Settings) -> tuple[Any, Case]:
    """Case ``index``: the design, the constructed model with drawn parameters, X and y."""
    rng = np.random.default_rng([config.seed, index])
    design = compose.draw(kind, cls, index, rng, config.composition, config.args or {})
    model = calls.construct(cls, design.kwargs)
    values = calls.drawn_values(model.params, rng)
    calls.set_values(model, values)
    X = rng.standard_normal((design.N, *design.input_shape))
    biases = [n for n in compose.parameter_names(design.kinds) if n.startswith("b")
              and not n.startswith("beta")]
    classes = int(np.shape(values[biases[-1]])[0]) if biases and biases[-1] in values else 2
    y = rng.integers(0, classes, design.N)
    return model, Case(design, X, y, values, seed=config.seed * 1000 + index)


def check_model_class(cls: Any, config: Settings, name: str = "",
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the campaign on one model class; its record (JSON-ready)."""
    start = time.perf_counter()
    name = name or getattr(cls, "__name__", "model")
    kind = compose.family(cls, config.composition)
    cases, unresolved, not_judged = 0, 0, 0
    judged_by: dict[str, int] = {}
    worst: dict[str, float] = {}
    failure = None
    compositions: list[str] = []
    for index in range(config.examples):
        model, case = draw_case(cls, kind, index, config)
        if compose.describe(case.design.kinds) not in compositions:
            compositions.append(compose.describe(case.design.kinds))
        oracles = [o for o in config.oracles if o != "jax" or index < JAX_CASES]
        outcome = check(model, case, oracles=oracles, l2=config.l2)
        cases += 1
        unresolved += outcome.unresolved
        not_judged += outcome.not_judged
        for oracle, quantities in outcome.results.items():
            judged_by[oracle] = judged_by.get(oracle, 0) + 1
            errs = [q.err for q in quantities.values() if q.verdict != NOT_JUDGED]
            worst[oracle] = max([worst.get(oracle, 0.0), *errs])
        if outcome.verdict == FAIL:
            failure = _failure(cls, outcome, case, config, name)
            break
    verdict = FAIL if failure else PASS
    if progress:
        progress(f"{name}: {verdict} ({plural(cases, 'case')})")
    return {"kind": "model", "forward": name, "backward": "", "name": name,
            "verdict": str(verdict), "cases": cases, "failed_cases": 1 if failure else 0,
            "not_judged_cases": 0, "not_judged_entries": not_judged,
            "unresolved_entries": unresolved, "judged_by": judged_by,
            "worst_err": {o: json_number(e) for o, e in worst.items()},
            "params": {"compositions": compositions, "l2": config.l2},
            "failures": [failure] if failure else [],
            "wall_time_s": round(time.perf_counter() - start, 3)}


def _failure(cls: Any, outcome: ModelOutcome, case: Case, config: Settings,
             name: str) -> dict[str, Any]:
    layer_config = LayerSettings(
        examples=config.layer_examples, seed=config.seed, shrink=False,
        oracles=tuple(o for o in config.oracles if o != "jax") or tuple(config.oracles))
    where = attribution.attribute(cls, case.design.kinds, layer_config)
    if outcome.composition:
        cause, text = "composition", WHY[outcome.stage]
        if where["where"] == "layer":
            text += f"; also, {where['text']}"
    else:
        cause = where["where"] if where["where"] != "unknown" else "gradient"
        text = where["text"]
    if outcome.hint:
        text += f"; {outcome.hint}"
    values = {k: ([json_number(x) for x in v] if isinstance(v, list) and k != "at" else v)
              for k, v in outcome.values.items()}
    return {"minimal": False, "message": outcome.message, "stage": outcome.stage,
            "gradient": outcome.first_wrong,
            "diagnosis": {"cause": cause, "text": text, "layers": where["layers"]},
            "case": {"shapes": {n: list(v.shape) for n, v in case.values.items()},
                     "settings": {k: repr(v) for k, v in case.design.kwargs.items()},
                     "region": "", "dtype": "float64", "seed": case.seed,
                     "describe": case.design.describe(name)},
            "values": values, "repro": f"{config.repro} --seed {config.seed}".strip()}


def run_model(cls: Any, source: str, config: Settings,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The ``deltacheck-model/1`` document of a check (an interrupted run never passes)."""
    started = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    start, records, interrupted = time.perf_counter(), [], False
    try:
        records.append(check_model_class(cls, config, source.rpartition(":")[2], progress))
    except KeyboardInterrupt:
        interrupted = True
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {"source": source, "started": started, "seed": config.seed,
                "examples": config.examples, "dtype": "float64",
                "oracles": list(config.oracles), "interrupted": interrupted,
                "wall_time_s": round(time.perf_counter() - start, 3)},
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "platform": sys.platform},
        "tolerances": tolerances.as_dicts(), "layers": records, "unplaced": []}
    doc["summary"] = layer_doc.summary(records, interrupted)
    return doc


def verdict_line(doc: dict[str, Any]) -> str:
    """The last line: all agree, or the first wrong quantity and where the slip is."""
    s = doc["summary"]
    if s["interrupted"]:
        return "interrupted: not a pass"
    names = ", ".join(r["name"] for r in doc["layers"])
    if s["verdict"] != FAIL:
        return f"all agree: {names}, {plural(s['cases'], 'case')}, oracles " \
               f"{', '.join(doc['run']['oracles'])}"
    f = next(r["failures"][-1] for r in doc["layers"] if r["failures"])
    return f"DISAGREEMENT in {names}: {f['gradient'] or f['stage']} ({f['diagnosis']['cause']})"


def console_lines(doc: dict[str, Any]) -> list[str]:
    """The model × verdict table and, for a failure, its case, message, diagnosis and repro."""
    lines = [f"{'model':<40} {'cases':>5}  {'worst err':>9}  verdict"]
    for r in doc["layers"]:
        err = max((float(e) for e in r["worst_err"].values()), default=0.0)
        lines.append(f"{r['name']:<40} {r['cases']:>5}  {err:>9.1e}  {r['verdict']}")
        lines += [f"  composition: {c}" for c in r["params"]["compositions"]]
        for f in r["failures"]:
            lines += [f"  failing case: {f['case']['describe']}", f"  {f['message']}",
                      f"  diagnosis: {f['diagnosis']['cause']}: {f['diagnosis']['text']}",
                      f"  reproduce: {f['repro']}"]
    return lines
