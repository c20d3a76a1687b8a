"""Why a non-canonical pair learns slowly: MSE + sigmoid against BCE + sigmoid, same start.

Both networks start from the same weights, with outputs saturated on the wrong side for half
the samples (a large output bias), and take the same batches with the same learning rate. At a
saturated output y ≈ 1 with t = 0, BCE + sigmoid has δ = y − t ≈ 1, while MSE + sigmoid has
δ = σ′(a)(y − t) = y(1 − y)(y − t) ≈ 0: the gradient that should correct the output vanishes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deltacheck.demo.tasks import batch_order, disc, initial_weights
from deltacheck.reference_impl import LOSSES, backprop, forward, sgd_steps

WIDTHS, HIDDEN = (2, 12, 1), ("tanh",)
START_BIAS = 6.0  # σ(6) ≈ 0.998: every output starts saturated at "inside"
SAMPLES, BATCH, EPOCHS, RATE = 200, 20, 60, 0.05
TARGET_ERROR = 0.25  # mean |y − t| that counts as "learnt"
FASTER = 3.0  # BCE reaches it in at most 1/FASTER of MSE's steps (or MSE never does)
LOSS_OF_PAIR = {"BCE + sigmoid": "bce", "MSE + sigmoid": "mse_sigmoid"}


def _mean_error(W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray, t: np.ndarray,
                loss: str) -> float:
    from deltacheck.core import activations as registry

    _, z = forward(W, b, [registry.get(h) for h in HIDDEN], x, LOSSES[loss].output)
    return float(np.mean(np.abs(z[-1] - t)))


def run(seed: int) -> dict[str, Any]:
    """Both pairs trained from one start; their mean |y − t| per epoch and their first δ."""
    rng = np.random.default_rng(seed)
    x, t = disc(rng, SAMPLES)
    W, b = initial_weights(WIDTHS, rng)
    b[-1][:] = START_BIAS
    batches = batch_order(SAMPLES, BATCH, EPOCHS, rng)
    per_epoch = math.ceil(SAMPLES / BATCH)
    wrong = (t[:, 0] == 0)  # saturated at y ≈ 1 with t = 0: the outputs that must move
    pairs = {}
    for name, loss in LOSS_OF_PAIR.items():
        delta0 = backprop(W, b, list(HIDDEN), loss, x, t)["deltas"][-1][:, 0]
        curve = [_mean_error(W, b, x, t, loss)]
        for step, (W_now, b_now, _) in enumerate(sgd_steps(W, b, HIDDEN, loss, x, t, batches,
                                                           learning_rate=RATE), 1):
            if step % per_epoch == 0:
                curve.append(_mean_error(W_now, b_now, x, t, loss))
        reached = next((e for e, v in enumerate(curve) if v <= TARGET_ERROR), None)
        pairs[name] = {"loss": loss, "mean_error": curve, "epochs_to_target": reached,
                       "median_wrong_delta": float(np.median(np.abs(delta0[wrong])))}
    return {"widths": list(WIDTHS), "start_bias": START_BIAS, "epochs": EPOCHS,
            "learning_rate": RATE, "batch_size": BATCH, "samples": SAMPLES,
            "target_error": TARGET_ERROR, "start_output": float(1 / (1 + math.exp(-START_BIAS))),
            "pairs": pairs}


def claims(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """BCE's δ at the saturated outputs dwarfs MSE's, and BCE learns several times faster."""
    bce, mse = doc["pairs"]["BCE + sigmoid"], doc["pairs"]["MSE + sigmoid"]
    ratio = bce["median_wrong_delta"] / mse["median_wrong_delta"] \
        if mse["median_wrong_delta"] > 0 else math.inf
    b_at, m_at = bce["epochs_to_target"], mse["epochs_to_target"]
    faster = b_at is not None and (m_at is None or FASTER * b_at <= m_at)
    said_m = f"{m_at} epochs" if m_at is not None else f"more than {doc['epochs']} epochs"
    said_b = f"{b_at} epochs" if b_at is not None else f"more than {doc['epochs']} epochs"
    return [
        {"holds": bool(ratio >= 100),
         "text": f"slow learning: at the outputs saturated on the wrong side, BCE + sigmoid's "
                 f"|δ| is {ratio:.3g} times MSE + sigmoid's (medians {bce['median_wrong_delta']:.3g}"
                 f" and {mse['median_wrong_delta']:.3g}; needed 100 times)"},
        {"holds": bool(faster),
         "text": f"slow learning: from the same start, mean |y − t| ≤ {doc['target_error']:g} "
                 f"takes BCE + sigmoid {said_b} and MSE + sigmoid {said_m} (needed "
                 f"{FASTER:g} times fewer for BCE)"},
    ]
