"""Drawn shapes and inputs of the recurrent kinds, and their hard regions.

| region | what it draws |
|---|---|
| ``saturated`` | rnn, lstm: weights and biases ×8, so tanh and the gates sit at 0 or ±1 |
| ``long`` | rnn, lstm: a longer sequence (T = 8), where a gradient not carried back fades |
| ``repeated`` | word_embedding: a vocabulary of 1 or 2 words, so every word repeats |
| ``masked`` | temporal_softmax_loss: most of the mask zero (a whole sequence, or all of it) |

Elsewhere T starts at 1 (a single step), words repeat by chance from a small vocabulary, and
the mask holds zeros by chance (each step is kept with probability ¾).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

REGIONS: dict[str, tuple[str, ...]] = {
    "rnn_step": ("saturated",), "rnn": ("saturated", "long"),
    "lstm_step": ("saturated",), "lstm": ("saturated", "long"),
    "word_embedding": ("repeated",), "temporal_softmax_loss": ("masked",),
}
SATURATION = 8.0  # weights of size 8 put most pre-activations beyond |a| = 5


@st.composite
def recurrent_inputs(draw: Any, name: str, rng: np.random.Generator, region: str,
                     N: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Inputs and params of one recurrent case (shapes kept few: jax compiles per shape)."""
    N = min(N, 3)
    T = 8 if region == "long" else draw(st.integers(1, 3))
    D, H = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    normal = rng.standard_normal
    if name == "word_embedding":
        V = draw(st.integers(1, 2)) if region == "repeated" else draw(st.integers(1, 5))
        return {"W": normal((V, D))}, {"x": rng.integers(0, V, (N, T))}
    if name == "temporal_affine":
        M = draw(st.integers(1, 3))
        return {"x": normal((N, T, D)), "w": normal((D, M)), "b": normal((M,))}, {}
    if name == "temporal_softmax_loss":
        V = draw(st.integers(2, 4))
        keep = 0.75 if region != "masked" else 0.0
        mask = rng.random((N, T)) < keep
        if region == "masked" and draw(st.booleans()):
            mask[0] = True  # one whole sequence kept, every other step masked
        return {"x": normal((N, T, V))}, {"y": rng.integers(0, V, (N, T)), "mask": mask}
    gates = 4 * H if name.startswith("lstm") else H
    scale = SATURATION if region == "saturated" else 1.0
    # weights as a course initialises them (~1/√fan-in), so a long sequence stays informative
    inputs = {"x": normal((N, D) if name.endswith("_step") else (N, T, D)),
              "Wx": scale * normal((D, gates)) / np.sqrt(D),
              "Wh": scale * normal((H, gates)) / np.sqrt(H), "b": scale * normal((gates,))}
    hidden = "prev_h" if name.endswith("_step") else "h0"
    inputs[hidden] = normal((N, H))
    if name == "lstm_step":
        inputs["prev_c"] = normal((N, H))
    return inputs, {}
