"""ReLU6, h(a) = min(max(a, 0), 6): kinks at 0 and at 6, but only 0 is declared.

The audit finds both from the one-sided difference quotients of h, warns about the one at 6
with the fix (kinks=(0, 6,)), and shows what dh, torch and jax give exactly at each kink.
The derivative itself is right, so the verdict is pass.

    deltacheck audit examples/activations/relu6.py:RELU6
"""

from deltacheck import Activation


def relu6(a, xp):
    """min(max(a, 0), 6), with where so that autograd picks one branch."""
    return xp.where(a > 6.0, 6.0 * xp.ones_like(a), xp.where(a > 0, a, xp.zeros_like(a)))


def drelu6(a, xp):
    """1 on (0, 6), 0 elsewhere."""
    return xp.where((a > 0) & (a < 6.0), xp.ones_like(a), xp.zeros_like(a))


RELU6 = Activation("relu6", h=relu6, dh=drelu6, kinks=(0.0,))
