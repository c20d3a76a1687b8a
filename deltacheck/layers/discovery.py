"""Find the layers to check: every ``<kind>_forward``/``_backward`` pair and loss of a file by
name, or one pair named on the command line with ``--as KIND``.

| spec | checks |
|---|---|
| ``FILE.py`` or ``MODULE`` | every recognised pair and loss it defines |
| ``FILE.py:FORWARD,BACKWARD --as KIND`` | one pair (``MODULE:FORWARD,BACKWARD`` too) |
| ``FILE.py:softmax_loss --as softmax_loss`` | one loss, which returns ``(loss, dx)`` |
| ``FILE.py:NAME`` of a ``deltacheck.Layer`` | that custom layer alone |
| ``MODULE:NAME --as function`` | a torch.autograd.Function or jax.custom_vjp (``custom``) |

A file's ``deltacheck.Layer`` objects (custom layers, see ``custom``) are checked with its
pairs.

Names: ``<kind>_forward`` / ``<kind>_backward`` with an optional ``_naive``, ``_fast`` or
``_alt`` suffix (``batchnorm_backward_alt`` pairs with ``batchnorm_forward``), ``pool`` for
``max_pool``, and an activation of the registry as ``act:NAME`` (``tanh_forward``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from deltacheck.core import activations as registry
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_module
from deltacheck.layers import custom
from deltacheck.layers.running_functions import second_order
from deltacheck.oracles.layers import KINDS, Kind, get_kind

SUFFIXES = ("", "_naive", "_fast", "_alt")
ALIASES = {"pool": "max_pool", "maxpool": "max_pool", "bn": "batchnorm", "ln": "layernorm",
           "spatial_bn": "spatial_batchnorm", "groupnorm": "spatial_groupnorm",
           "spatial_gn": "spatial_groupnorm"}
LOSSES = ("softmax_loss", "svm_loss", "temporal_softmax_loss")
CONVENTIONS = {"dropout_p": ("keep", "drop")}  # --param KEY=VALUE that changes a meaning


@dataclass(frozen=True)
class LayerSpec:
    """One layer to check: its kind, the user's functions and their names."""

    kind: str
    forward: Callable[..., Any]
    backward: Callable[..., Any] | None
    forward_name: str
    backward_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # --param and declared layer_params
    declared: Kind | None = None  # a custom Layer's or a function's own kind
    double: Callable[..., Any] | None = None  # a function's second order (``--double``)

    @property
    def name(self) -> str:
        """``forward/backward``, or the loss's name."""
        return f"{self.forward_name}/{self.backward_name}" if self.backward_name \
            else self.forward_name


@dataclass
class Found:
    """What a spec names: the layers to check, and the names that could not be placed."""

    layers: list[LayerSpec]
    unplaced: list[str]
    source: str


def kind_of(base: str) -> str | None:
    """The kind a function's base name stands for (``tanh`` -> ``act:tanh``), or None."""
    base = ALIASES.get(base, base)
    if base in KINDS and not base.startswith("act:"):
        return base
    if base in registry.REGISTRY:
        return f"act:{base}"
    return None


def _split(name: str, word: str) -> tuple[str, str] | None:
    """(base, suffix) of ``<base>_<word><suffix>``, or None."""
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        end = f"_{word}{suffix}"
        if name.endswith(end) and len(name) > len(end):
            return name[: -len(end)], suffix
    return None


def find_layers(module: Any, params: dict[str, Any] | None = None) -> tuple[list[LayerSpec],
                                                                              list[str]]:
    """Every recognised pair and loss that ``module`` defines, and the names left unplaced."""
    own = {name: fn for name, fn in vars(module).items()
           if inspect.isfunction(fn) and fn.__module__ == module.__name__}
    layers, used = [], set()
    for name, fn in own.items():
        if name in LOSSES:
            layers.append(_spec(name, fn, None, name, "", params))
            used.add(name)
            continue
        split = _split(name, "forward")
        kind = kind_of(split[0]) if split else None
        if split is None or kind is None:
            continue
        base, suffix = split
        backwards = [b for s in SUFFIXES if (b := f"{base}_backward{s}") in own
                     and (s == suffix or f"{base}_forward{s}" not in own)]
        for backward in backwards:
            layers.append(_spec(kind, fn, own[backward], name, backward, params))
            used |= {name, backward}
    declared = [obj for obj in vars(module).values() if isinstance(obj, custom.Layer)]
    used |= {getattr(f, "__name__", "") for layer in declared
             for f in (layer.forward, layer.backward, layer.vjp, layer.cached_forward)}
    words = ("forward", "backward", "loss")
    unplaced = [name for name in own if name not in used and not name.startswith("_")
                and any(w in name for w in words)]
    return layers + [layer_spec(obj, params) for obj in declared], unplaced


def layer_spec(layer: custom.Layer, params: dict[str, Any] | None = None) -> LayerSpec:
    """A custom ``Layer`` as a spec: its pair under test and its own kind."""
    forward, backward = layer.pair()
    kind = layer.kind()
    return LayerSpec(kind.name, forward, backward, layer.name, "", dict(params or {}), kind)


def function_spec(spec: str, *, signature: str | None = None, double: bool = False,
                  params: dict[str, Any] | None = None) -> Found:
    """``MODULE:NAME --as function``: a torch.autograd.Function or jax.custom_vjp and its
    signature (its ``deltacheck_signature``, or the dict ``--signature MODULE:NAME`` names)."""
    split = spec.rpartition(":") if _has_names(spec) else (spec, "", "")
    obj = _named(split, "layer", f"layer {spec!r}", f"layer {spec!r} --as function: name the "
                 "function, e.g. mymodule:MyFunction --as function")
    declared = None if signature is None else _named(
        signature.rpartition(":"), "--signature", f"--signature {signature!r}",
        f"--signature {signature!r}: give MODULE:NAME or FILE.py:NAME of a dict "
        "{'inputs': {...}, 'params': {...}}")
    return Found([function_layer(obj, declared=declared, double=double, params=params,
                                 argument=f"layer {spec!r}")], [], spec)


def function_layer(obj: Any, *, declared: Any = None, double: bool = False,
                   params: dict[str, Any] | None = None, argument: str = "layer") -> LayerSpec:
    """A torch.autograd.Function or jax.custom_vjp function as a spec (``declared``: its
    signature, when not its ``deltacheck_signature``)."""
    name = getattr(obj, "__name__", type(obj).__name__)
    kind, forward, backward, framework = custom.function_parts(obj, name, declared, argument)
    second = None
    if double:
        def second(*args: Any) -> Any:
            return second_order(obj, framework, *args)
    return LayerSpec(kind.name, forward, backward, name, "", dict(params or {}), kind, second)


def _spec(kind: str, forward: Callable, backward: Callable | None, forward_name: str,
          backward_name: str, params: dict[str, Any] | None) -> LayerSpec:
    declared = dict(getattr(forward, "layer_params", None) or {})
    return LayerSpec(kind, forward, backward, forward_name, backward_name,
                     {**declared, **(params or {})})


def resolve(spec: str, *, as_kind: str | None = None,
            params: dict[str, Any] | None = None) -> Found:
    """The layers ``spec`` names (see the module docstring); a bad spec raises DeltacheckError."""
    if as_kind == "function":
        return function_spec(spec, params=params)
    where, colon, names = spec.rpartition(":") if _has_names(spec) else (spec, "", "")
    if not colon:
        if as_kind is not None:
            raise DeltacheckError(f"--as {as_kind}: name the functions too, e.g. "
                                  f"{spec}:FORWARD,BACKWARD --as {as_kind}")
        module = load_module(spec, argument="layer")
        layers, unplaced = find_layers(module, params)
        if not layers:
            raise DeltacheckError(f"layer {spec!r}: no function named like <kind>_forward and "
                                  f"<kind>_backward, softmax_loss or svm_loss; name one pair "
                                  f"with {spec}:FORWARD,BACKWARD --as KIND")
        return Found(layers, unplaced, spec)
    module = load_module(where, argument="layer")
    fns = [n.strip() for n in names.split(",")]
    if len(fns) > 2 or not all(n.isidentifier() for n in fns):
        raise DeltacheckError(f"layer {spec!r}: give FILE.py:FORWARD,BACKWARD or FILE.py:LOSS")
    one = getattr(module, fns[0], None) if len(fns) == 1 else None
    if isinstance(one, custom.Layer):  # FILE.py:NAME of a deltacheck.Layer: that layer alone
        if as_kind is not None:
            raise DeltacheckError(f"layer {spec!r} is a deltacheck.Layer, which declares its "
                                  f"own kind: leave out --as {as_kind}")
        return Found([layer_spec(one, params)], [], spec)
    objs = []
    for n in fns:
        obj = getattr(module, n, None)
        if not callable(obj):
            raise DeltacheckError(f"layer {spec!r}: {where} has no function {n!r}")
        objs.append(obj)
    kind = as_kind or _guess(fns)
    k = get_kind(kind)
    if k.loss != (len(fns) == 1):
        raise DeltacheckError(f"layer {spec!r} --as {kind}: " + (
            "a loss is one function returning (loss, dx); give FILE.py:LOSS" if k.loss else
            "a layer is a pair; give FILE.py:FORWARD,BACKWARD"))
    return Found([_spec(k.name, objs[0], objs[1] if len(objs) > 1 else None, fns[0],
                        fns[1] if len(fns) > 1 else "", params)], [], spec)


def _named(split: tuple[str, str, str], argument: str, said: str, unnamed: str) -> Any:
    """The object ``WHERE:NAME`` (``split`` = its rpartition at ":") names; a name missing or
    not found is one line."""
    where, colon, name = split
    if not colon or not name.isidentifier():
        raise DeltacheckError(unnamed)
    obj = getattr(load_module(where, argument=argument), name, None)
    if obj is None:
        raise DeltacheckError(f"{said}: {where} has no {name!r}")
    return obj


def _has_names(spec: str) -> bool:
    """Whether ``spec`` ends in ``:NAMES`` (a Windows drive letter is not one)."""
    head, colon, tail = spec.rpartition(":")
    return bool(colon and head and not tail.startswith(("\\", "/")))


def _guess(names: list[str]) -> str:
    if len(names) == 1 and names[0] in LOSSES:
        return names[0]
    split = _split(names[0], "forward")
    kind = kind_of(split[0]) if split else None
    if kind is None:
        raise DeltacheckError(f"cannot tell the kind of {names[0]!r}; say it with --as KIND "
                              f"(one of {', '.join(k for k in KINDS if ':' not in k)} or "
                              f"act:NAME)")
    return kind


def parse_param(arg: str) -> tuple[str, Any]:
    """``KEY=VALUE`` of ``--param``: a number, true/false, or a word."""
    key, eq, value = arg.partition("=")
    if not eq or not key.strip().isidentifier():
        raise DeltacheckError(f"--param {arg!r}: give KEY=VALUE, e.g. --param dropout_p=drop")
    key, value = key.strip(), value.strip()
    if key in CONVENTIONS and value not in CONVENTIONS[key]:
        raise DeltacheckError(f"--param {key}={value}: choose {' or '.join(CONVENTIONS[key])}")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, {"true": True, "false": False}.get(value.lower(), value)
