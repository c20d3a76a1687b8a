"""Swish (SiLU), h(a) = a σ(a), written in a stable form: finite for every float input.

σ(a) = exp(−log(1 + e^{−a})) = exp(−logaddexp(0, −a)) never overflows, for either sign of a,
and h'(a) = σ(a) (1 + a (1 − σ(a))) = σ(a) (1 + a σ(−a)) needs no difference of large terms.

    deltacheck audit examples/activations/swish.py:SWISH
"""

from deltacheck import Activation


def sigmoid(a, xp):
    """σ(a), stable for any sign of a."""
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


SWISH = Activation("swish", h=lambda a, xp: a * sigmoid(a, xp),
                   dh=lambda a, xp: sigmoid(a, xp) * (1 + a * sigmoid(-a, xp)))
