"""Correct activations that are hard to audit: each must PASS.

Cancellation (1 − tanh², 1 − σ), tiny-argument rounding (cosh rounds to 1), kinks beyond ±20,
and framework primitives a few ulp off. Written after the audit, never tuned against.

    deltacheck audit examples/activations/heldout/correct.py:GELU_TANH
"""

import math

from deltacheck import Activation

C = math.sqrt(2.0 / math.pi)


def _sigmoid(a, xp):
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def _gelu_tanh(a, xp):
    return 0.5 * a * (1 + xp.tanh(C * (a + 0.044715 * a**3)))


def _dgelu_tanh(a, xp):
    t = xp.tanh(C * (a + 0.044715 * a**3))
    return 0.5 * (1 + t) + 0.5 * a * (1 - t * t) * C * (1 + 3 * 0.044715 * a**2)


# PyTorch's gelu(approximate="tanh") with its exact derivative
GELU_TANH = Activation("gelu_tanh", h=_gelu_tanh, dh=_dgelu_tanh)

def _log_cosh(a, xp):
    """log cosh a, with cosh kept below overflow: log cosh(c) + |a| − |c|, c = clip(a, ±20)."""
    c = xp.clip(a, -20.0, 20.0)
    return xp.log(xp.cosh(c)) + (xp.abs(a) - xp.abs(c))


# log cosh, h' = tanh: cosh(a) rounds to 1 for |a| < 1.5e-8
LOG_COSH = Activation("log_cosh", h=_log_cosh, dh=lambda a, xp: xp.tanh(a))

# a kink far beyond ±20
MIN30 = Activation("min30", h=lambda a, xp: xp.where(a < 30.0, a, 30.0 * xp.ones_like(a)),
                   dh=lambda a, xp: xp.where(a < 30.0, xp.ones_like(a), xp.zeros_like(a)))

# a kink at −25, undeclared
MAX_M25 = Activation("max_m25", h=lambda a, xp: xp.where(a > -25.0, a, -25.0 * xp.ones_like(a)),
                     dh=lambda a, xp: xp.where(a > -25.0, xp.ones_like(a), xp.zeros_like(a)))

# hard tanh clipped at ±42, declared
CLIP42 = Activation("clip42", h=lambda a, xp: xp.where(a > 42.0, 42.0 * xp.ones_like(a),
                                                       xp.where(a < -42.0, -42.0 * xp.ones_like(a), a)),
                    dh=lambda a, xp: xp.where((a > -42.0) & (a < 42.0), xp.ones_like(a),
                                              xp.zeros_like(a)), kinks=(-42.0, 42.0))

# tanh written through exp, derivative 1 − tanh² (cancels for large |a|)
TANH_TEXTBOOK = Activation(
    "tanh_textbook", h=lambda a, xp: xp.tanh(a), dh=lambda a, xp: 1 - xp.tanh(a) ** 2)

# sigmoid with σ(1 − σ): 1 − σ cancels for a ≫ 0
SIGMOID_1M = Activation("sigmoid_1m", h=_sigmoid,
                        dh=lambda a, xp: _sigmoid(a, xp) * (1 - _sigmoid(a, xp)))

# softplus in its stable form, derivative σ
SOFTPLUS_STABLE = Activation("softplus_stable", h=lambda a, xp: xp.logaddexp(xp.zeros_like(a), a),
                             dh=_sigmoid)

# the tanh of a scaled argument: lecun's 1.7159 tanh(2a/3)
LECUN_TANH = Activation(
    "lecun_tanh", h=lambda a, xp: 1.7159 * xp.tanh(2.0 * a / 3.0),
    dh=lambda a, xp: 1.7159 * (2.0 / 3.0) * (1 - xp.tanh(2.0 * a / 3.0) ** 2))

# mish, a tanh(softplus(a)), derivative through sech² of softplus
def _sp(a, xp):
    return xp.logaddexp(xp.zeros_like(a), a)


def _dmish(a, xp):
    t = xp.tanh(_sp(a, xp))
    return t + a * (1 - t * t) * _sigmoid(a, xp)


MISH = Activation("mish", h=lambda a, xp: a * xp.tanh(_sp(a, xp)), dh=_dmish)

# sinh near 0 is a rounding test for cosh: asinh, derivative 1/√(1 + a²)
ASINH = Activation("asinh_act", h=lambda a, xp: xp.asinh(a),
                   dh=lambda a, xp: 1 / xp.sqrt(1 + a * a))

# log(1 + a²)/2, derivative a / (1 + a²): tiny-argument rounding of log
HALF_LOG1P_SQ = Activation("half_log1p_sq", h=lambda a, xp: 0.5 * xp.log(1 + a * a),
                           dh=lambda a, xp: a / (1 + a * a))

# bent identity, derivative a/(2√(a² + 1)) + 1
BENT = Activation("bent_identity", h=lambda a, xp: (xp.sqrt(a * a + 1) - 1) / 2 + a,
                  dh=lambda a, xp: a / (2 * xp.sqrt(a * a + 1)) + 1)


# written for numpy only, as course code is: dh calls np directly
def _np_dtanh(a, xp):
    import numpy as np

    return 1.0 - np.tanh(np.asarray(a)) ** 2


TANH_NUMPY_DH = Activation("tanh_numpy_dh", h=lambda a, xp: xp.tanh(a), dh=_np_dtanh)


# SELU, kink at 0 declared
_L, _A = 1.0507009873554805, 1.6732632423543772
SELU = Activation(
    "selu_act", h=lambda a, xp: _L * xp.where(a > 0, a, _A * xp.expm1(xp.minimum(a, 0.0))),
    dh=lambda a, xp: _L * xp.where(a > 0, xp.ones_like(a), _A * xp.exp(xp.minimum(a, 0.0))),
    kinks=(0.0,))

# ELU through expm1 (a primitive a few ulp off in some frameworks), undeclared kink at 0
ELU_EXPM1 = Activation("elu_expm1", h=lambda a, xp: xp.where(a > 0, a, xp.expm1(xp.minimum(a, 0.0))),
                       dh=lambda a, xp: xp.where(a > 0, xp.ones_like(a), xp.exp(xp.minimum(a, 0.0))))

# log σ(a) = −logaddexp(0, −a), derivative σ(−a)
LOG_SIGMOID = Activation("log_sigmoid", h=lambda a, xp: -xp.logaddexp(xp.zeros_like(a), -a),
                         dh=lambda a, xp: _sigmoid(-a, xp))

# squareplus (a + √(a² + 4))/2: h and 1 + a/√(a² + 4) both cancel for a ≪ 0
SQUAREPLUS = Activation("squareplus", h=lambda a, xp: (a + xp.sqrt(a * a + 4)) / 2,
                        dh=lambda a, xp: (1 + a / xp.sqrt(a * a + 4)) / 2)

EXPECTED = {name: "pass" for name, v in dict(globals()).items()
            if isinstance(v, Activation)}
