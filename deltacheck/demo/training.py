"""The whole SGD loop, three times: the reference implementation, torch.optim.SGD and jax.

Each task is a small data set made in numpy, a network and a fixed batch order. The three loops
start from the same weights and take the same batches; after every step the weights of torch
and jax are compared with the reference's, relative to the largest weight of each array.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deltacheck.demo.tasks import Task, batch_order, initial_weights, tasks
from deltacheck.oracles.base import one_torch_thread
from deltacheck.reference_impl import sgd_steps

AGREE_REL = 1e-10  # the trajectories must agree to this, at every step, in float64


Trajectory = tuple[list[list[np.ndarray]], list[float]]  # parameters after each step, losses


def reference(task: Task, W: list[np.ndarray], b: list[np.ndarray],
              batches: Sequence[np.ndarray]) -> Trajectory:
    """The reference implementation's loop: forward, δ, backward, gradients, update."""
    params, losses = [], []
    for W_now, b_now, E in sgd_steps(W, b, task.activations, task.loss, task.x, task.t, batches,
                                     learning_rate=task.learning_rate):
        params.append([p.copy() for p in (*W_now, *b_now)])
        losses.append(E)
    return params, losses


def torch_loop(task: Task, W: list[np.ndarray], b: list[np.ndarray],
               batches: Sequence[np.ndarray]) -> Trajectory:
    """The same loop with torch autograd and torch.optim.SGD."""
    import torch

    Wt = [torch.tensor(w, requires_grad=True) for w in W]
    bt = [torch.tensor(v, requires_grad=True) for v in b]
    opt = torch.optim.SGD([*Wt, *bt], lr=task.learning_rate)
    x, t = torch.tensor(task.x), torch.tensor(task.t)
    params, losses = [], []
    with one_torch_thread():  # tens of ms per step otherwise, when another process holds a core
        for batch in batches:
            E = _torch_step(task, Wt, bt, opt, x, t, torch.as_tensor(batch))
            params.append([p.detach().numpy().copy() for p in (*Wt, *bt)])
            losses.append(E)
    return params, losses


def _torch_step(task: Task, Wt: list[Any], bt: list[Any], opt: Any, x: Any, t: Any,
                idx: Any) -> float:
    import torch

    F = torch.nn.functional
    hidden: dict[str, Callable] = {"tanh": torch.tanh, "relu": F.relu, "sigmoid": torch.sigmoid}
    z = x[idx]
    for l in range(len(Wt)):
        a = z @ Wt[l].T + bt[l]
        z = hidden[task.activations[l]](a) if l < len(Wt) - 1 else a
    if task.loss == "mse":
        E = 0.5 * F.mse_loss(a, t[idx], reduction="sum")
    elif task.loss == "bce":
        E = F.binary_cross_entropy_with_logits(a, t[idx], reduction="sum")
    else:
        E = F.cross_entropy(a, t[idx], reduction="sum")
    opt.zero_grad()
    E.backward()
    opt.step()
    return float(E.detach())


def jax_loop(task: Task, W: list[np.ndarray], b: list[np.ndarray],
             batches: Sequence[np.ndarray]) -> Trajectory:
    """The same loop with jax.grad, and optax.sgd when optax is installed."""
    import jax
    import jax.numpy as jnp

    hidden = {"tanh": jnp.tanh, "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid}
    L = len(W)

    def energy(p: list[Any], x: Any, t: Any) -> Any:
        z = x
        for l in range(L):
            a = z @ p[l].T + p[L + l]
            z = hidden[task.activations[l]](a) if l < L - 1 else a
        if task.loss == "mse":
            return 0.5 * jnp.sum((a - t) ** 2)
        if task.loss == "bce":
            return -jnp.sum(t * jax.nn.log_sigmoid(a) + (1 - t) * jax.nn.log_sigmoid(-a))
        return -jnp.sum(t * jax.nn.log_softmax(a, axis=1))

    update = _jax_update(task.learning_rate)
    index = np.stack(batches)  # (steps, batch): the tasks' batches are all one size

    def step(carry: Any, batch: Any) -> tuple[Any, Any]:
        p, state = carry
        p, state, E = update.step(p, state, jax.value_and_grad(energy)(p, *batch))
        return (p, state), (p, E)

    with jax.enable_x64(True):
        p = [jnp.asarray(v) for v in (*W, *b)]
        # One compiled scan over all the steps: one dispatch instead of one per step.
        run = jax.jit(lambda p, s, batches: jax.lax.scan(step, (p, s), batches)[1])
        path, E = jax.device_get(run(p, update.init(p), (task.x[index], task.t[index])))
    params = [[np.asarray(v[k]) for v in path] for k in range(len(index))]
    if any(v.dtype != np.float64 for ps in params for v in ps):
        raise RuntimeError("the jax loop did not compute in float64")
    return params, [float(e) for e in E]


@dataclass(frozen=True)
class _Update:
    name: str
    init: Callable[[Any], Any]
    step: Callable[[Any, Any, Any], tuple[Any, Any, Any]]


def _jax_update(lr: float) -> _Update:
    """optax.sgd if it is installed, else the plain update p ← p − η ∂E/∂p."""
    try:
        import optax
    except ImportError:
        def plain(p: Any, s: Any, value_grad: Any) -> tuple[Any, Any, Any]:
            E, g = value_grad
            return [v - lr * gv for v, gv in zip(p, g, strict=True)], s, E
        return _Update("plain update p ← p − η ∂E/∂p", lambda p: (), plain)
    opt = optax.sgd(lr)

    def with_optax(p: Any, s: Any, value_grad: Any) -> tuple[Any, Any, Any]:
        E, g = value_grad
        updates, s = opt.update(g, s, p)
        return optax.apply_updates(p, updates), s, E
    return _Update("optax.sgd", opt.init, with_optax)


def jax_optimizer() -> str:
    """What the jax loop updates with: optax.sgd, or the plain update without optax."""
    try:
        import optax  # noqa: F401
    except ImportError:
        return "plain update p ← p − η ∂E/∂p (optax is not installed)"
    return "optax.sgd"


LOOPS: dict[str, Callable[[Task, list[np.ndarray], list[np.ndarray], Sequence[np.ndarray]],
                          Trajectory]] = {"torch": torch_loop, "jax": jax_loop}


def rel_diffs(mine: Sequence[Sequence[np.ndarray]],
              theirs: Sequence[Sequence[np.ndarray]]) -> list[float]:
    """Per step: the largest |Δp| / max |p| over the parameter arrays (inf where not finite)."""
    out = []
    for ps, qs in zip(mine, theirs, strict=True):
        worst = 0.0
        for p, q in zip(ps, qs, strict=True):
            size = float(np.max(np.abs(p))) if p.size else 0.0
            diff = float(np.max(np.abs(p - q))) if p.size else 0.0
            rel = diff / size if size > 0 else diff
            worst = max(worst, rel) if math.isfinite(rel) else math.inf
        out.append(worst)
    return out


def predict(task: Task, params: Sequence[np.ndarray], x: np.ndarray) -> np.ndarray:
    """The network's output y for inputs x (numpy, from the parameters)."""
    from deltacheck.core import activations as registry
    from deltacheck.reference_impl import LOSSES, forward

    L = len(task.widths) - 1
    hidden = [registry.get(name) for name in task.activations]
    _, z = forward(list(params[:L]), list(params[L:]), hidden, x, LOSSES[task.loss].output)
    return z[-1]


def score(task: Task, params: Sequence[np.ndarray]) -> dict[str, float]:
    """Accuracy (ce, bce) or root-mean-square error (mse), on the training and test sets."""
    out = {}
    for split, x, t in (("train", task.x, task.t), ("test", task.x_test, task.t_test)):
        y = predict(task, params, x)
        if task.loss == "ce":
            out[split] = float(np.mean(y.argmax(axis=1) == t.argmax(axis=1)))
        elif task.loss == "bce":
            out[split] = float(np.mean((y > 0.5) == (t > 0.5)))
        else:
            out[split] = float(np.sqrt(np.mean((y - t) ** 2)))
    return out


def _epoch_sums(losses: Sequence[float], per_epoch: int) -> list[float]:
    return [float(sum(losses[i:i + per_epoch])) for i in range(0, len(losses), per_epoch)]


def _thin(values: Sequence[float], k: int = 300) -> list[list[float]]:
    """(step, value) pairs, at most about ``k``: the largest value of each window, for a plot."""
    n = len(values)
    size = max(1, math.ceil(n / k))
    return [[i + 1, float(max(values[i:i + size]))] for i in range(0, n, size)]


def run_task(task: Task, seed: int, frameworks: Sequence[str] = ("torch", "jax")) -> dict[str, Any]:
    """Train ``task`` in the reference loop and each framework's; compare step by step."""
    rng = np.random.default_rng(seed)
    W, b = initial_weights(task.widths, rng)
    batches = batch_order(len(task.x), task.batch_size, task.epochs, rng)
    ref_params, ref_losses = reference(task, W, b, batches)
    per_epoch = math.ceil(len(task.x) / task.batch_size)
    frames: dict[str, Any] = {}
    for fw in frameworks:
        params, losses = LOOPS[fw](task, W, b, batches)
        diffs = rel_diffs(ref_params, params)
        frames[fw] = {"max_rel_weight_diff": max(diffs) if diffs else math.nan,
                      "diffs": _thin(diffs), "epoch_loss": _epoch_sums(losses, per_epoch),
                      "score": score(task, params[-1])}
    grid = _grid(task, ref_params[-1]) if task.widths[0] <= 2 else None
    return {"task": task.name, "title": task.title, "loss": task.loss, "steps": len(batches),
            "widths": list(task.widths), "activations": list(task.activations),
            "learning_rate": task.learning_rate, "batch_size": task.batch_size,
            "epochs": task.epochs, "samples": len(task.x),
            "reference": {"epoch_loss": _epoch_sums(ref_losses, per_epoch),
                          "score": score(task, ref_params[-1])},
            "frameworks": frames, "picture": grid}


def _grid(task: Task, params: Sequence[np.ndarray], n: int = 36) -> dict[str, Any]:
    """What the trained network predicts over the inputs' range, with the test data."""
    if task.widths[0] == 1:
        xs = np.linspace(task.x.min(), task.x.max(), 120)[:, None]
        return {"kind": "curve", "x": xs[:, 0].tolist(), "y": predict(task, params, xs)[:, 0].tolist(),
                "data": np.hstack([task.x_test, task.t_test]).tolist()}
    lo, hi = task.x.min(axis=0), task.x.max(axis=0)
    g0, g1 = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    pts = np.array([[u, v] for v in g1 for u in g0])
    y = predict(task, params, pts)
    p1 = y[:, 1] if task.loss == "ce" else y[:, 0]
    label = task.t_test.argmax(axis=1) if task.loss == "ce" else task.t_test[:, 0]
    return {"kind": "plane", "n": n, "lo": lo.tolist(), "hi": hi.tolist(), "p": p1.tolist(),
            "data": [[float(u), float(v), float(c)] for (u, v), c in zip(task.x_test, label,
                                                                         strict=True)]}


def holds(row: dict[str, Any]) -> bool:
    """The trajectories agree: every step within AGREE_REL (nan never agrees)."""
    return bool(row["max_rel_weight_diff"] <= AGREE_REL)


def run(seed: int = 0, *, scale: float = 1.0,
        frameworks: Sequence[str] = ("torch", "jax")) -> list[dict[str, Any]]:
    """Every task, trained and compared."""
    return [run_task(task, seed + i, frameworks) for i, task in enumerate(tasks(seed, scale=scale))]
