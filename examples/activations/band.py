"""Swish with a derivative that is 1 % off, but only for 1.0 < a < 1.5: a subtly wrong h'.

A few random networks rarely put a pre-activation in that band; the audit's dense grid over
[−20, 20] (0.001 apart) always does.

    deltacheck audit examples/activations/band.py:SWISH_BAND     # exits 1
"""

from deltacheck import Activation


def sigmoid(a, xp):
    """σ(a), stable for any sign of a."""
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def dswish_band(a, xp):
    """σ (1 + a σ(−a)), times 1.01 on the band 1.0 < a < 1.5: the bug."""
    exact = sigmoid(a, xp) * (1 + a * sigmoid(-a, xp))
    return xp.where((a > 1.0) & (a < 1.5), 1.01 * exact, exact)


SWISH_BAND = Activation("swish_band", h=lambda a, xp: a * sigmoid(a, xp), dh=dswish_band)
