"""Textbook formulas that overflow: the audit maps where they stop being finite.

NAIVE_SOFTPLUS, h(a) = log(1 + e^a): e^a overflows above a ≈ 709.78 in float64 (≈ 88.72 in
float32), so h turns inf and h' = e^a / (1 + e^a) turns inf/inf = nan there.
NAIVE_SWISH, h(a) = a / (1 + e^{−a}): its derivative (1 + e^{−a} + a e^{−a}) / (1 + e^{−a})²
turns inf − inf = nan below a ≈ −709.78. The stable forms are in swish.py and deltacheck's
built-in softplus.

    deltacheck audit examples/activations/naive.py:NAIVE_SOFTPLUS   # exits 1
"""

from deltacheck import Activation

NAIVE_SOFTPLUS = Activation("naive_softplus", h=lambda a, xp: xp.log(1 + xp.exp(a)),
                            dh=lambda a, xp: xp.exp(a) / (1 + xp.exp(a)))

NAIVE_SWISH = Activation(
    "naive_swish", h=lambda a, xp: a / (1 + xp.exp(-a)),
    dh=lambda a, xp: (1 + xp.exp(-a) + a * xp.exp(-a)) / (1 + xp.exp(-a)) ** 2)
