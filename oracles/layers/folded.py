"""The numpy reference forward of many copies of one input in a single call, and central
differences of the reference with every perturbation in one call.

A layer whose outputs along one axis depend only on the inputs along that same axis (the
samples of an affine map, a convolution, pooling or layer norm; the features of batch norm; the
outputs of an affine map's or a convolution's weights) computes P copies at once when they lie
side by side along that axis: ``forward_many`` concatenates the copies there, tiles what shares
the axis (b beside w, γ and β and the running statistics beside x), calls the reference once and
splits its output. Kinds and inputs without such an axis (the losses, which average their
samples into one number; layer norm's γ and β; the sandwiches; custom and recurrent layers) get
None, and callers fall back to one call per copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.oracles.layers import forward
from deltacheck.oracles.layers.kinds import Kind, get_kind

# kind: {role: ({input or param[key]: its axis of that role}, the output's axis)}
_SAMPLES = {"x": 0, "dropout_param[mask]": 0, "mask": 0}
ROLES: dict[str, dict[str, tuple[dict[str, int], int]]] = {
    "affine": {"N": ({"x": 0}, 0), "M": ({"w": 1, "b": 0}, 1)},
    "batchnorm": {"D": ({"x": 1, "gamma": 0, "beta": 0, "bn_param[running_mean]": 0,
                         "bn_param[running_var]": 0}, 1)},
    "spatial_batchnorm": {"C": ({"x": 1, "gamma": 0, "beta": 0, "bn_param[running_mean]": 0,
                                 "bn_param[running_var]": 0}, 1)},
    "layernorm": {"N": ({"x": 0}, 0)},
    "spatial_groupnorm": {"N": ({"x": 0}, 0)},
    "conv": {"N": ({"x": 0}, 0), "F": ({"w": 0, "b": 0}, 1)},
    "max_pool": {"N": ({"x": 0}, 0)},
    "dropout": {"N": ({"x": 0, "mask": 0}, 0)},
}
MAX_ELEMENTS = 1 << 22  # the copies of one call hold at most this many numbers (32 MB)


def role_of(kind: Kind, name: str) -> tuple[dict[str, int], int] | None:
    """The axis ``name``'s copies of ``kind`` go along, with what shares it; None if none."""
    if kind.activation is not None:
        return ({"x": 0}, 0) if name == "x" else None
    for members, out_axis in ROLES.get(kind.name, {}).values():
        if name in members:
            return members, out_axis
    return None


def foldable(kind: str | Kind, name: str, shape: tuple[int, ...]) -> bool:
    """Whether ``forward_many`` computes copies of input ``name`` of this shape in one call."""
    k = get_kind(kind)
    found = role_of(k, name)
    return found is not None and len(shape) > found[0][name]


def forward_many(kind: str | Kind, inputs: Mapping[str, Any], params: Mapping[str, Any],
                 copies: Mapping[str, np.ndarray]) -> np.ndarray:
    """The reference outputs for P copies of some inputs (``copies[name]``: (P, *shape), the
    same P for all, the rest as in ``inputs``): (P, *out_shape), in one call of the numpy
    reference per MAX_ELEMENTS numbers. The inputs copied must share one axis (``role_of``)."""
    k = get_kind(kind)
    roles = [role_of(k, name) for name in copies]
    if any(r is None for r in roles) or any(r != roles[0] for r in roles):
        raise ValueError(f"{k.name}: {', '.join(copies)} have no one axis to lay copies along")
    members, out_axis = roles[0]  # type: ignore[misc]
    stacks = {n: np.asarray(v, dtype=np.float64) for n, v in copies.items()}
    P = len(next(iter(stacks.values())))
    per_call = max(1, MAX_ELEMENTS // max(1, sum(v[0].size for v in stacks.values())))
    parts = [_one_call(k, inputs, params, {n: v[i:i + per_call] for n, v in stacks.items()},
                       members, out_axis) for i in range(0, P, per_call)]
    return np.concatenate(parts)


def _one_call(k: Kind, inputs: Mapping[str, Any], params: Mapping[str, Any],
              copies: dict[str, np.ndarray], members: dict[str, int],
              out_axis: int) -> np.ndarray:
    P = len(next(iter(copies.values())))
    values = {n: np.asarray(v, dtype=np.float64) for n, v in inputs.items()}
    settings = {n: (dict(v) if isinstance(v, Mapping) else v) for n, v in params.items()}
    for member, axis in members.items():
        if member in copies:  # copy p as the p-th block along the axis
            stack = np.moveaxis(copies[member], 0, axis)
            values[member] = stack.reshape(*stack.shape[:axis], -1, *stack.shape[axis + 2:])
        elif member in values:
            values[member] = np.concatenate([values[member]] * P, axis=axis)
        elif "[" in member:  # a statistic inside a param dict: tiled when present
            param, key = member[:-1].split("[")
            given = settings.get(param)
            if isinstance(given, dict) and given.get(key) is not None:
                given[key] = np.concatenate([np.asarray(given[key], np.float64)] * P, axis=axis)
        elif member in settings and settings[member] is not None:  # dropout's mask
            settings[member] = np.concatenate([np.asarray(settings[member])] * P, axis=axis)
    out = np.asarray(forward(k, "numpy", values, settings)[0])
    blocks = out.reshape(*out.shape[:out_axis], P, -1, *out.shape[out_axis + 1:])
    return np.moveaxis(blocks, out_axis, 0)


def reference_fd(kind: str | Kind, inputs: Mapping[str, Any], params: Mapping[str, Any],
                 dout: Any, step: float, groups: Mapping[str, Any] | None = None
                 ) -> dict[str, np.ndarray] | None:
    """Central differences of ⟨dout, reference(inputs)⟩ for every entry of every input, the
    perturbations of all inputs that share an axis in one call (relative step ``step``); None
    where an input cannot be folded.

    ``groups[name]``, where given, lists ``(entries, owner)``: entries that reach disjoint
    outputs, moved together, ``owner[o]`` the position in ``entries`` of the one that reaches
    output o (−1: none); without it, each entry is moved alone."""
    k = get_kind(kind)
    dout = np.asarray(dout, dtype=np.float64).reshape(-1)
    flats = {n: np.asarray(inputs[n], dtype=np.float64).reshape(-1) for n in k.inputs}
    if not all(foldable(k, n, np.shape(inputs[n])) for n in k.inputs):
        return None
    grads: dict[str, np.ndarray] = {}
    by_role: dict[int, list[str]] = {}
    for name in k.inputs:  # the inputs that share an axis go in one call
        by_role.setdefault(id(role_of(k, name)[0]), []).append(name)  # type: ignore[index]
    for names in by_role.values():
        moves = {n: _moves(flats[n], (groups or {}).get(n), dout.size, step) for n in names}
        count = sum(len(m[0]) for m in moves.values())
        copies = {n: np.repeat(flats[n][None, :], 2 * count, axis=0) for n in names}
        first = 0
        for n in names:
            _, copy_of, entry, _, plus, minus = moves[n]
            copies[n][2 * (first + copy_of), entry] += plus[entry]
            copies[n][2 * (first + copy_of) + 1, entry] -= minus[entry]
            first += len(moves[n][0])
        outs = forward_many(k, inputs, params, {n: copies[n].reshape(
            -1, *np.shape(inputs[n])) for n in names}).reshape(count, 2, -1)
        # each output's change first, then each entry's share of ⟨dout, Δout⟩
        change = dout * (outs[:, 0] - outs[:, 1])
        first = 0
        for n, grad in zip(k.inputs, k.grads, strict=True):
            if n not in names:
                continue
            chosen, _, _, belongs, plus, minus = moves[n]
            part = change[first:first + len(chosen)]
            sel = belongs >= 0
            g = np.bincount(belongs[sel], weights=part[sel], minlength=flats[n].size)
            grads[grad] = (g / (plus + minus)).reshape(np.shape(inputs[n]))
            first += len(chosen)
    return {g: grads[g] for g in k.grads}


_STRUCTURE: dict[int, tuple[Any, ...]] = {}


def _moves(flat: np.ndarray, chosen: Any, outputs: int, step: float) -> tuple[Any, ...]:
    """For one input: its groups, which group moves which entry, which entry each output of
    each group belongs to (−1: none), and the steps up and down actually taken."""
    chosen = chosen or [(np.array([i]), np.zeros(outputs, dtype=int)) for i in range(flat.size)]
    kept = _STRUCTURE.get(id(chosen))
    if kept is None or kept[0] is not chosen:  # the same groups come back for every case
        if len(_STRUCTURE) > 256:
            _STRUCTURE.clear()
        copy_of = np.concatenate([np.full(len(e), j) for j, (e, _) in enumerate(chosen)])
        entry = np.concatenate([e for e, _ in chosen])
        belongs = np.stack([np.where(o >= 0, e[np.maximum(o, 0)], -1) for e, o in chosen])
        kept = _STRUCTURE[id(chosen)] = (chosen, copy_of, entry, belongs)
    h = step * np.maximum(1.0, np.abs(flat))
    plus, minus = (flat + h) - flat, flat - (flat - h)  # the steps actually taken
    return (*kept, plus, minus)
