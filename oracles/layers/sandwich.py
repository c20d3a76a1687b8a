"""The sandwich layers of the course's layer_utils.py as compositions of the reference layers.

| kind | stages | backward returns |
|---|---|---|
| ``affine_relu`` | affine, relu | dx, dw, db |
| ``affine_bn_relu`` | affine, batchnorm (bn_param), relu | dx, dw, db, dgamma, dbeta |
| ``affine_ln_relu`` | affine, layernorm (ln_param), relu | dx, dw, db, dgamma, dbeta |
| ``conv_relu`` | conv (conv_param), relu | dx, dw, db |
| ``conv_relu_pool`` | conv (conv_param), relu, max_pool (pool_param) | dx, dw, db |
| ``conv_bn_relu`` | conv (conv_param), spatial_batchnorm (bn_param), relu | dx, dw, db, dgamma, dbeta |

Each stage is the same reference the kind of that name uses in that framework (native where it
has one), so the truth of a sandwich is the truth of its layers, composed. The ReLU between them
is written ``x · (x > 0)``: the same function and the same derivative (0 at 0) as the ReLU
kind's ``where``, but a NaN passes through it, so that which outputs an input entry reaches can
be read by setting it to NaN (a ``where`` would drop the NaN at every negative entry).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.oracles.layers import definitions
from deltacheck.oracles.layers.backends import Backend, session
from deltacheck.oracles.layers.kinds import SANDWICHES, get_kind


def _relu(be: Any, x: Any) -> tuple[Any, dict[str, Any]]:
    return x * (x > 0), {}


def _stage(name: str, be: Backend) -> Any:
    if name == "relu":
        return _relu
    return be.native.get(name) or definitions.GENERIC[name]


def _compose(name: str) -> Any:
    kind = get_kind(name)

    def definition(be: Backend, *args: Any) -> tuple[Any, dict[str, Any]]:
        values = dict(zip(kind.inputs + kind.params, args, strict=True))
        out, extras = values["x"], {}
        for stage, inputs, params in SANDWICHES[name]:
            out, more = _stage(stage, be)(be, out, *[values[n] for n in inputs],
                                          *[values[p] for p in params])
            extras.update(more)
        return out, extras

    definition.__doc__ = f"{name}: {', '.join(s for s, _, _ in SANDWICHES[name])}, in turn."
    return definition


GENERIC = {name: _compose(name) for name in SANDWICHES}


def stages(name: str, inputs: Mapping[str, Any], params: Mapping[str, Any]
           ) -> list[tuple[str, dict[str, np.ndarray], dict[str, Any]]]:
    """Per stage of the sandwich ``name``: its kind, the inputs it receives (the numpy
    reference's output of the stage before as ``x``) and its params (float64)."""
    found = []
    out = np.array(inputs["x"], dtype=np.float64)
    with session("numpy") as be:
        for stage, names, param_names in SANDWICHES[name]:
            given = {"x": out, **{n: np.array(inputs[n], dtype=np.float64) for n in names}}
            found.append((stage, given, {p: params[p] for p in param_names}))
            out, _ = _stage(stage, be)(be, *given.values(), *[params[p] for p in param_names])
    return found
