"""Which entries of a layer's input can be moved together by finite differences: those that
reach disjoint outputs. The reach of each entry is probed with a NaN in the numpy reference
(all the probes of an input in one call where the kind has an axis to lay them along:
``oracles.layers.folded``), and the entries are coloured greedily into groups. The groups
depend on the shapes and settings only, and are kept per shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import Kind, folded, forward

PROBES_PER_CALL = 4096  # NaN probes laid side by side in one call of the reference
MATRIX_LIMIT = 1 << 24  # entries × outputs up to which the groups come from one matrix


def as64(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {n: np.array(v, dtype=np.float64) for n, v in inputs.items()}


def key(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any]) -> str:
    settings = {k: v for k, v in case.settings().items() if k != "dropout_param"}
    words = np.asarray(case.params["x"]).tolist() if "x" in kind.params else None
    # which outputs a word_embedding row reaches depends on the words themselves
    return repr((kind.name, sorted(case.shapes().items()), sorted(settings.items()), words))


_GROUPS: dict[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]] = {}


def groups(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any]
           ) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Per input: [(entries, owner)], owner[o] = the position in entries owning output o, or −1."""
    found = key(kind, case, ref_params)
    if found not in _GROUPS:
        if len(_GROUPS) > 512:
            _GROUPS.clear()
        _GROUPS[found] = {name: _grouped(kind, case, ref_params, name) for name in kind.inputs}
    return _GROUPS[found]


def _grouped(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any],
             name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """The groups of one input: from the matrix of which entry reaches which output where the
    NaN probes run in one call and the matrix is small, else entry by entry."""
    shape = np.shape(case.inputs[name])
    if kind.activation is None and kind.name != "dropout" and \
            folded.foldable(kind, name, shape):
        inputs = as64(case.inputs)
        out_size = np.asarray(forward(kind, "numpy", inputs, ref_params)[0]).size
        if inputs[name].size * out_size <= MATRIX_LIMIT:
            with np.errstate(all="ignore"):
                reached = np.isnan(np.stack(list(_probed(kind, inputs, dict(ref_params), name)))
                                   .reshape(inputs[name].size, -1))
            # a NaN that a where() drops (a hinge, a mask) says nothing: assume it reaches all
            reached[~reached.any(axis=1)] = True
            return _colour_matrix(reached)
    return _colour(_supports(kind, case, ref_params, name))


def _colour_matrix(reached: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``_colour``'s groups from the matrix reached[entry, output]: the same greedy choice (an
    entry joins the first group with none of whose members it shares an output), read off the
    entries' conflicts."""
    as_float = reached.astype(np.float32)
    conflict = (as_float @ as_float.T) > 0
    colour = np.full(len(reached), -1)
    for i in range(len(reached)):
        taken = np.zeros(i + 1, dtype=bool)
        near = colour[:i][conflict[i, :i]]
        taken[near[near <= i]] = True
        colour[i] = int(np.argmin(taken))
    out = []
    for c in range(int(colour.max()) + 1):
        entries = np.flatnonzero(colour == c)
        rows = reached[entries]
        owner = np.where(rows.any(axis=0), rows.argmax(axis=0), -1)
        out.append((entries, owner))
    return out


def _supports(kind: Kind, case: LayerCase, ref_params: Mapping[str, Any],
              name: str) -> list[np.ndarray]:
    inputs = as64(case.inputs)
    size = inputs[name].size
    if kind.activation is not None or kind.name == "dropout":
        return [np.array([i]) for i in range(size)]
    params = {**ref_params}
    if kind.name == "dropout":
        params["mask"] = np.ones(inputs["x"].shape)
    found = []
    with np.errstate(all="ignore"):
        for out in _probed(kind, inputs, params, name):
            reached = np.flatnonzero(np.isnan(np.asarray(out).reshape(-1)))
            # a NaN that a where() drops (a hinge, a mask) says nothing: assume it reaches all
            found.append(reached if reached.size else np.arange(np.asarray(out).size))
    return found


def _probed(kind: Kind, inputs: dict[str, np.ndarray], params: dict[str, Any],
            name: str) -> Any:
    """The reference's outputs with a NaN in each entry of ``name`` in turn: the copies side by
    side in one call where the kind has an axis for them (``folded``), else one call each."""
    shape = inputs[name].shape
    if folded.foldable(kind, name, shape):
        for start in range(0, inputs[name].size, PROBES_PER_CALL):
            index = np.arange(start, min(start + PROBES_PER_CALL, inputs[name].size))
            copies = np.repeat(inputs[name].reshape(1, -1), index.size, axis=0)
            copies[np.arange(index.size), index] = np.nan
            yield from folded.forward_many(kind, inputs, params,
                                           {name: copies.reshape(-1, *shape)})
        return
    for i in range(inputs[name].size):
        probe = inputs[name].copy().reshape(-1)
        probe[i] = np.nan
        yield forward(kind, "numpy", {**inputs, name: probe.reshape(shape)}, params)[0]


def _colour(supports: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Greedy: each entry joins the first group none of whose outputs it reaches."""
    size = 1 + max((int(s.max()) for s in supports if s.size), default=0)
    used: list[np.ndarray] = []
    members: list[list[int]] = []
    for i, s in enumerate(supports):
        for g, taken in enumerate(used):
            if not taken[s].any():
                taken[s] = True
                members[g].append(i)
                break
        else:
            taken = np.zeros(size, dtype=bool)
            taken[s] = True
            used.append(taken)
            members.append([i])
    out = []
    for entries in members:
        owner = np.full(size, -1)
        for position, i in enumerate(entries):
            owner[supports[i]] = position
        out.append((np.array(entries), owner))
    return out


def forget() -> None:
    """Drop every shape's groups (a benchmark's cold start)."""
    _GROUPS.clear()
