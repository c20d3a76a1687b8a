"""``check_layer`` from Python: the campaign on one layer or a whole file, as one call whose
result renders in a notebook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.layers import discovery
from deltacheck.layers.custom import Layer
from deltacheck.layers.document import exit_code, run_layers, verdict_line
from deltacheck.layers.runner import Settings
from deltacheck.oracles import checked_names
from deltacheck.oracles.layers import get_kind


@dataclass
class LayerResult:
    """The ``deltacheck-layer/1`` document of a check, with its verdict."""

    document: dict[str, Any]

    @property
    def verdict(self) -> str:
        """pass, fail or not judged."""
        return str(self.document["summary"]["verdict"])

    @property
    def passed(self) -> bool:
        """True when every layer agrees with every truth."""
        return exit_code(self.document) == 0

    def __repr__(self) -> str:
        return f"LayerResult({verdict_line(self.document)!r})"

    def _repr_html_(self) -> str:
        from deltacheck.reports.layer import render

        return render(self.document)


def _found(layer: Any, kind: str | None, params: dict[str, Any], signature: Any,
           double: bool) -> discovery.Found:
    if isinstance(layer, Layer):
        return discovery.Found([discovery.layer_spec(layer, params)], [], layer.name)
    if kind == "function":
        if isinstance(layer, str):
            return discovery.function_spec(layer, double=double, params=params)
        spec = discovery.function_layer(layer, declared=signature, double=double, params=params,
                                        argument="check_layer")
        return discovery.Found([spec], [], spec.forward_name)
    if isinstance(layer, str):
        return discovery.resolve(layer, as_kind=kind, params=params)
    fns: Sequence[Callable[..., Any]] = tuple(layer) if isinstance(layer, (tuple, list)) \
        else (layer,)
    if kind is None:
        raise DeltacheckError("check_layer: kind=None; say which kind the functions are, e.g. "
                              "check_layer((affine_forward, affine_backward), kind='affine')")
    k = get_kind(kind)
    if not all(callable(f) for f in fns) or len(fns) != (1 if k.loss else 2):
        wanted = "one loss function" if k.loss else "a pair (forward, backward)"
        raise DeltacheckError(f"check_layer: give {wanted} for kind={kind!r}")
    names = [getattr(f, "__name__", "layer") for f in fns]
    spec = discovery.LayerSpec(k.name, fns[0], fns[1] if len(fns) > 1 else None, names[0],
                               names[1] if len(names) > 1 else "",
                               {**dict(getattr(fns[0], "layer_params", None) or {}), **params})
    return discovery.Found([spec], [], "+".join(names))


def check_layer(layer: Any, *, kind: str | None = None, examples: int = 100, seed: int = 0,
                dtype: str = "float64", oracles: Sequence[str] = ("torch", "jax", "fd"),
                params: dict[str, Any] | None = None, signature: Any = None,
                double: bool = False) -> LayerResult:
    """Check a layer file or spec (``"layers.py"``), a pair ``(forward, backward)``, a loss, a
    custom ``Layer``, or (``kind="function"``) a torch.autograd.Function or jax.custom_vjp."""
    if dtype not in ("float64", "float32"):
        raise DeltacheckError(f"dtype={dtype!r}: choose 'float64' or 'float32'")
    if examples < 1:
        raise DeltacheckError(f"examples={examples}: give at least 1")
    names = checked_names(list(oracles), argument="oracles")
    found = _found(layer, kind, dict(params or {}), signature, double)
    return LayerResult(run_layers(found, Settings(examples=examples, seed=seed, dtype=dtype,
                                                  oracles=tuple(names))))
