"""Why a recurrent layer's gradient is wrong: the slips of backpropagation through time.

| cause | test on the user's g |
|---|---|
| ``across time steps`` | rnn, lstm: g is the truth with a slip put in (below) |
| ``gate order`` | lstm: the gate blocks of db hold the truth's in another order (torch's i, f, g, o) |
| ``missing path`` | lstm_step: dprev_c is the truth without the forget gate f (dc, not dc ⊙ f) |
| ``repeated indices`` | word_embedding: dW is dout written at the words' rows, not added (np.add.at) |
| ``mask`` | temporal_softmax_loss: dx ignores the mask, or is wrong only at masked steps |

Across time steps: the hidden state's (or the cell's) gradient not carried back from step t + 1
to step t; dh at the last step dropped; or, for dWx, dWh, db, one step's share written instead
of all steps' added up.

The truths through time are rebuilt from the step kinds' reference VJPs (torch autograd), one
step at a time, with the slip put in.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import forward, vjp

CLOSE = 1e-6
GATES = "ifog"


def _close(g: np.ndarray, c: np.ndarray) -> bool:
    if g.shape != c.shape:
        return False
    return bool(np.linalg.norm(g - c) <= CLOSE * max(float(np.linalg.norm(g)), 1e-30) + 1e-9)


def _inputs(case: LayerCase) -> dict[str, np.ndarray]:
    return {n: np.asarray(v, np.float64) for n, v in case.inputs.items()}


def _through_time(case: LayerCase, dout: np.ndarray, *, carry_h: bool = True,
                  carry_c: bool = True, last: bool = True) -> list[dict[str, np.ndarray]]:
    """Each step's gradients (t = 0 first) of an rnn or lstm backward, slipped as asked."""
    v = _inputs(case)
    lstm = case.kind == "lstm"
    step = "lstm_step" if lstm else "rnn_step"
    T = v["x"].shape[1]
    h, c, states = v["h0"], np.zeros_like(v["h0"]), []
    for t in range(T):  # the states each step starts from, by the step reference
        states.append((h, c))
        args = {"x": v["x"][:, t, :], "prev_h": h, "Wx": v["Wx"], "Wh": v["Wh"], "b": v["b"]}
        out, _ = forward(step, "numpy", {**args, **({"prev_c": c} if lstm else {})}, {})
        h, c = (out[0], out[1]) if lstm else (out, c)
    grads: list[dict[str, np.ndarray]] = [{} for _ in range(T)]
    dh_next, dc_next = np.zeros_like(h), np.zeros_like(h)
    for t in reversed(range(T)):
        h, c = states[t]
        args = {"x": v["x"][:, t, :], "prev_h": h, "Wx": v["Wx"], "Wh": v["Wh"], "b": v["b"]}
        up = (dout[:, t, :] if last or t < T - 1 else 0.0) + (dh_next if carry_h else 0.0)
        if lstm:
            grads[t] = vjp(step, "torch", {**args, "prev_c": c}, {},
                           np.stack([up, dc_next if carry_c else np.zeros_like(up)]))
            dc_next = grads[t]["dprev_c"]
        else:
            grads[t] = vjp(step, "torch", args, {}, up)
        dh_next = grads[t]["dprev_h"]
    return grads


def _summed(steps: list[dict[str, np.ndarray]], name: str) -> np.ndarray:
    if name == "dx":
        return np.stack([s["dx"] for s in steps], axis=1)
    if name == "dh0":
        return steps[0]["dprev_h"]
    return np.sum([s[name] for s in steps], axis=0)


def _across_steps(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind not in ("rnn", "lstm") or o.run is None:
        return ""
    dout = np.asarray(o.run.dout, np.float64)
    slips = [({"carry_h": False}, "the hidden state's gradient is not carried back across time "
              "steps (step t sees dh[:, t] only, not the gradient from step t + 1)"),
             ({"last": False}, "dh at the last time step is dropped (only the carried "
              "gradient reaches step T − 1)")]
    if case.kind == "lstm":
        slips.append(({"carry_c": False}, "the cell's gradient is not carried back across "
                      "time steps (every step gets dnext_c = 0)"))
    for kwargs, text in slips:
        if _close(g, _summed(_through_time(case, dout, **kwargs), name)):
            return text
    if name in ("dWx", "dWh", "db"):
        steps = _through_time(case, dout)
        for t, s in enumerate(steps):
            if len(steps) > 1 and _close(g, s[name]):
                return (f"holds step {t}'s share only: the weights' gradient is written at each "
                        "time step instead of added up over the steps")
    return ""


def _gate_order(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if not case.kind.startswith("lstm") or o.run is None or "db" not in o.truths.get("torch", {}):
        return ""
    db = np.asarray(o.run.grads.get("db"), np.float64)
    truth = o.truths["torch"]["db"]
    blocks = np.split(truth, 4)
    for perm in itertools.permutations(range(4)):
        if perm != (0, 1, 2, 3) and db.shape == truth.shape and _close(
                db, np.concatenate([blocks[p] for p in perm])):
            order = ", ".join(GATES[p] for p in perm)
            return (f"the gate gradients are stacked in the order {order}, not the course's "
                    "i, f, o, g" + (" (torch's order)" if order == "i, f, g, o" else ""))
    return ""


def _forget_path(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind != "lstm_step" or name != "dprev_c":
        return ""
    v = _inputs(case)
    H = v["prev_h"].shape[1]
    a = v["x"] @ v["Wx"] + v["prev_h"] @ v["Wh"] + v["b"]
    f = 1.0 / (1.0 + np.exp(-a[:, H:2 * H]))
    return ("misses the forget gate f on the cell's path (dprev_c = dc, not dc ⊙ f)"
            if _close(g * f, y) else "")


def _repeated(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind != "word_embedding" or o.run is None:
        return ""
    x = np.asarray(case.params["x"])
    written = np.zeros_like(y)
    written[x] = np.asarray(o.run.dout, np.float64)
    repeated = np.bincount(x.reshape(-1), minlength=y.shape[0]) > 1
    wrong_rows = ~np.isclose(g, y, rtol=1e-9, atol=1e-12).all(axis=1)
    if _close(g, written) or (wrong_rows.any() and not (wrong_rows & ~repeated).any()):
        return ("is wrong at the rows of repeated words: their gradients are written, not added "
                "(np.add.at(dW, x, dout) adds them)")
    return ""


def _mask(case: LayerCase, name: str, g: np.ndarray, y: np.ndarray, o: Any) -> str:
    if case.kind != "temporal_softmax_loss":
        return ""
    mask = np.asarray(case.params["mask"], bool)
    unmasked = vjp("temporal_softmax_loss", "torch", _inputs(case),
                   {"y": case.params["y"], "mask": np.ones(mask.shape)}, 1.0)["dx"]
    if _close(g, unmasked):
        return "ignores the mask: masked (padded) steps get a gradient"
    wrong = ~np.isclose(g, y, rtol=1e-9, atol=1e-12).all(axis=2)
    if wrong.any() and not (wrong & mask).any():
        return "is wrong only at masked steps, whose gradient should be 0"
    return ""


TESTS = (("across time steps", _across_steps), ("gate order", _gate_order),
         ("missing path", _forget_path), ("repeated indices", _repeated), ("mask", _mask))
