"""A failing sandwich layer (``affine_relu``, ``conv_relu_pool``, ...): is the slip in one of its
inner layers, or in the way the sandwich composes them?

The inner layers are the functions the sandwich itself calls: the names its forward and its
backward use (``affine_forward``, ``relu_backward``, ``conv_forward_naive``, ...), looked up
where the sandwich looks them up. Each inner pair is checked on exactly the values it meets in
the failing case (the reference's output of the stages before it). The first inner layer that
disagrees on its own takes the blame; when every one agrees, the composition does (a cache
passed to the wrong backward, the stages in the wrong order, a gradient not passed on).
"""

from __future__ import annotations

import copy
import types
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deltacheck.core.verdicts import FAIL
from deltacheck.layers.diagnosis import diagnose as diagnose_gradient
from deltacheck.layers.discovery import SUFFIXES, LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.layers.judging import CaseOutcome, check_case
from deltacheck.oracles.layers import get_kind
from deltacheck.oracles.layers.kinds import SANDWICHES
from deltacheck.oracles.layers.sandwich import stages


def _used(fn: Callable[..., Any] | None, stem: str) -> tuple[str, Any] | None:
    """The function named ``<stem><suffix>`` that ``fn`` calls (a global of its module, or an
    attribute of a module it imported: ``layers.affine_forward``), and the function itself."""
    code, scope = getattr(fn, "__code__", None), getattr(fn, "__globals__", {})
    if code is None:
        return None
    modules = [v for v in scope.values() if isinstance(v, types.ModuleType)]
    for suffix in SUFFIXES:
        name = f"{stem}{suffix}"
        if name not in code.co_names:
            continue
        if callable(scope.get(name)):
            return name, scope[name]
        found = next((getattr(m, name) for m in modules if callable(getattr(m, name, None))),
                     None)
        if found is not None:
            return name, found
    return None


def inner_layer(spec: LayerSpec, stage: str) -> LayerSpec | None:
    """The user's pair for ``stage`` that the sandwich calls, or None when it calls none."""
    base = get_kind(stage).name
    forward = _used(spec.forward, f"{base}_forward")
    backward = _used(spec.backward, f"{base}_backward")
    if forward is None or backward is None:
        return None
    return LayerSpec(stage, forward[1], backward[1], forward[0], backward[0])


def _typed(value: Any, dtype: str) -> Any:
    if isinstance(value, dict):
        return {k: _typed(v, dtype) for k, v in value.items()}
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(dtype)
    return copy.deepcopy(value)


def attribute(spec: LayerSpec, case: LayerCase, outcome: CaseOutcome,
              oracles: Sequence[str]) -> dict[str, Any]:
    """``{"to": "inner" | "composition" | "unknown", "layer", "text", ...}`` for a failure."""
    oracle = next((o for o in ("torch", "jax", "fd") if o in oracles), "fd")
    params = outcome.run.ref_params if outcome.run is not None else case.params
    missing, checked = [], []
    for stage, given, stage_params in stages(case.kind, case.inputs, params):
        inner = inner_layer(spec, stage)
        if inner is None:
            missing.append(stage)
            continue
        inner_case = LayerCase(stage, case.dtype, {n: v.astype(case.dtype) for n, v in
                                                   given.items()},
                               _typed(stage_params, case.dtype), case.seed, "plain",
                               case.train_first and "bn_param" in stage_params)
        got = check_case(inner, inner_case, [oracle])
        if got.verdict == FAIL:
            cause = diagnose_gradient(inner_case, got)["cause"]
            return {"to": "inner", "layer": stage, "names": inner.name,
                    "gradient": got.first_wrong, "cause": cause,
                    "text": f"the inner layer {inner.name} ({stage}) is wrong on its own on "
                            f"the values it meets here: {got.message}"}
        checked.append(inner.name)
    if not checked:
        return {"to": "unknown", "layer": "", "names": "",
                "text": f"the sandwich calls no inner pair named like {missing[0]}_forward and "
                        f"{missing[0]}_backward, so its inner layers cannot be checked apart"}
    unnamed = (f"; it calls no {' or '.join(f'{m}_backward' for m in missing)} (left out, or "
               f"written inline)" if missing else "")
    return {"to": "composition", "layer": case.kind, "names": spec.name,
            "text": f"every inner layer it calls ({', '.join(checked)}) agrees on its own on "
                    f"the values it meets here: the slip is in how {spec.name} composes them "
                    f"(a cache, the order of the stages, a gradient not passed on){unnamed}"}


def diagnose(spec: LayerSpec, case: LayerCase, outcome: CaseOutcome,
             oracles: Sequence[str]) -> dict[str, Any]:
    """The gradient's diagnosis, and for a sandwich layer where the slip is."""
    found = diagnose_gradient(case, outcome)
    if case.kind not in SANDWICHES or spec.backward is None:
        return found
    blame = attribute(spec, case, outcome, oracles)
    where = {"inner": f"in {blame['layer']}", "composition": "in the composition",
             "unknown": "not attributed"}[blame["to"]]
    return {**found, "cause": f"{found['cause']} ({where})", "attribution": blame,
            "text": f"{found['text']}; {blame['text']}"}
