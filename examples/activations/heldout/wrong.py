"""Wrong derivatives that are easy to miss: each must FAIL.

Narrow bands (some beyond the dense grid), errors only far out, wrong slopes beside kinks beyond
±20, small relative errors, and textbook forms that overflow. Written after the audit.

    deltacheck audit examples/activations/heldout/wrong.py:SWISH_BAND_40     # exits 1
"""

import math

from deltacheck import Activation

C = math.sqrt(2.0 / math.pi)


def _sigmoid(a, xp):
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def _swish(a, xp):
    return a * _sigmoid(a, xp)


def _dswish(a, xp):
    return _sigmoid(a, xp) * (1 + a * _sigmoid(-a, xp))


def _off(lo, hi, factor, dh):
    return lambda a, xp: xp.where((a > lo) & (a < hi), factor * dh(a, xp), dh(a, xp))


# 1 % off on 40 < a < 40.5: beyond the dense grid
SWISH_BAND_40 = Activation("swish_band_40", h=_swish, dh=_off(40.0, 40.5, 1.01, _dswish))

# 1 % off on −63.2 < a < −62.7, where h' ≈ 2.4e-4: beyond the dense grid on the negative side
SOFTSIGN_BAND_M63 = Activation("softsign_band_m63", h=lambda a, xp: a / (1 + xp.abs(a)),
                               dh=_off(-63.2, -62.7, 1.01,
                                       lambda a, xp: 1 / (1 + xp.abs(a)) ** 2))

# 0.1 % off on a band 0.01 wide inside the dense grid
SWISH_BAND_NARROW = Activation("swish_band_narrow", h=_swish,
                               dh=_off(7.3, 7.31, 1.001, _dswish))


def _gelu_tanh(a, xp):
    return 0.5 * a * (1 + xp.tanh(C * (a + 0.044715 * a**3)))


def _dgelu_no3(a, xp):
    t = xp.tanh(C * (a + 0.044715 * a**3))
    return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 0.044715 * a**2)  # the 3 forgotten


GELU_TANH_NO3 = Activation("gelu_tanh_no3", h=_gelu_tanh, dh=_dgelu_no3)

# 1e-6 relative off everywhere
TANH_1E6 = Activation("tanh_1e6", h=lambda a, xp: xp.tanh(a),
                      dh=lambda a, xp: (1 + 1e-6) * (1 - xp.tanh(a) ** 2))

# the kink at 30 found, but dh switches at 31
MIN30_LATE = Activation("min30_late", h=lambda a, xp: xp.where(a < 30.0, a, 30.0 * xp.ones_like(a)),
                        dh=lambda a, xp: xp.where(a < 31.0, xp.ones_like(a), xp.zeros_like(a)))

# a second slope beyond 25 that dh only takes from 26
BENT25 = Activation("bent25", h=lambda a, xp: xp.where(a < 25.0, a, 0.5 * a + 12.5),
                    dh=lambda a, xp: xp.where(a < 26.0, xp.ones_like(a), 0.5 * xp.ones_like(a)))


def _sp(a, xp):
    return xp.logaddexp(xp.zeros_like(a), a)


def _dmish(a, xp):
    t = xp.tanh(_sp(a, xp))
    return t + a * (1 - t * t) * _sigmoid(a, xp)


# mish whose dh returns a below −100 (far out only)
MISH_FAR = Activation("mish_far", h=lambda a, xp: a * xp.tanh(_sp(a, xp)),
                      dh=lambda a, xp: xp.where(a < -100.0, a, _dmish(a, xp)))

# stable softplus, but the textbook e^a/(1 + e^a) for h': nan beyond 709.78
SOFTPLUS_NAIVE_DH = Activation("softplus_naive_dh", h=_sp,
                               dh=lambda a, xp: xp.exp(a) / (1 + xp.exp(a)))

# σ' written σ(a) σ(a): the sign of the second factor slipped
SIGMOID_SQ = Activation("sigmoid_sq", h=_sigmoid,
                        dh=lambda a, xp: _sigmoid(a, xp) * _sigmoid(a, xp))

# ELU with slope 1 below 0 too
ELU_FLAT = Activation("elu_flat", h=lambda a, xp: xp.where(a > 0, a, xp.expm1(xp.minimum(a, 0.0))),
                      dh=lambda a, xp: xp.ones_like(a), kinks=(0.0,))

# tanh' wrong only for |a| > 500, where it should be 0
TANH_FAR = Activation("tanh_far", h=lambda a, xp: xp.tanh(a),
                      dh=lambda a, xp: xp.where(xp.abs(a) > 500.0, 1e-3 * xp.ones_like(a),
                                                1 - xp.tanh(a) ** 2))

EXPECTED = {name: "fail" for name, v in dict(globals()).items()
            if isinstance(v, Activation)}
