"""Every check of ``deltacheck audit`` fails (or warns) when it should, and says where."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deltacheck import Activation
from deltacheck.audit import derivative as audit_derivative
from deltacheck.audit import frameworks as audit_frameworks
from deltacheck.audit import runner as audit
from deltacheck.audit import shape as audit_shape
from deltacheck.audit import summary
from deltacheck.core.errors import DeltacheckError

pytest.importorskip("torch")
pytest.importorskip("jax")

ORACLES = ("torch", "jax", "fd")


def _sigmoid(a, xp):
    return xp.exp(-xp.logaddexp(xp.zeros_like(a), -a))


def _swish(a, xp):
    return a * _sigmoid(a, xp)


def _dswish(a, xp):
    return _sigmoid(a, xp) * (1 + a * _sigmoid(-a, xp))


def _wrong_on(lo: float, hi: float, factor: float):
    def dh(a, xp):
        return xp.where((a > lo) & (a < hi), factor * _dswish(a, xp), _dswish(a, xp))
    return dh


def derivative(act, kinks=(), batches=2):
    record, _ = audit_derivative.check_derivative(act, ORACLES, kinks, batches=batches, seed=0)
    return record


def test_derivative_fails_2_percent_off_on_an_interval():
    record = derivative(Activation("off2", h=_swish, dh=_wrong_on(2.0, 5.0, 1.02)))
    assert record["verdict"] == "fail"
    assert all(record["oracles"][o]["verdict"] == "fail" for o in ORACLES)
    assert 2.0 < record["worst"]["a"] < 5.0
    lo, hi = record["failing_ranges"][0]
    assert lo == pytest.approx(2.0, abs=2e-3) and hi == pytest.approx(5.0, abs=2e-3)


def test_derivative_fails_1_percent_off_on_a_band_half_wide():
    record = derivative(Activation("band", h=_swish, dh=_wrong_on(-3.2, -2.7, 1.01)))
    assert record["verdict"] == "fail"
    assert -3.2 < record["worst"]["a"] < -2.7
    assert record["failing_points"] >= 400  # the grid alone puts ~500 points in the band
    assert "but torch says" in record["message"] or "but jax says" in record["message"]


def test_derivative_fails_a_dropped_chain_rule_factor():
    # h = tanh(2a): h' = 2 (1 − tanh²(2a)); the bug drops the inner derivative 2
    act = Activation("tanh2", h=lambda a, xp: xp.tanh(2 * a),
                     dh=lambda a, xp: 1 - xp.tanh(2 * a) ** 2)
    record = derivative(act)
    assert record["verdict"] == "fail"
    w = record["worst"]
    assert w["torch"] == pytest.approx(2 * w["dh"], rel=1e-9)


def test_derivative_fails_a_nan_even_where_the_oracles_agree_it_is_nan():
    act = Activation("nan_at_0", h=_swish,
                     dh=lambda a, xp: xp.where(a == 0, a * float("nan"), _dswish(a, xp)))
    record = derivative(act, batches=0)
    assert record["verdict"] == "fail"
    assert record["worst"]["a"] == 0.0 and record["worst"]["dh"] == "nan"
    assert record["worst"]["err"] == "inf"


def test_derivative_fails_far_out_where_the_grid_does_not_reach():
    act = Activation("far", h=_swish, dh=lambda a, xp: xp.where(a > 1000, 0.5 * xp.ones_like(a),
                                                                  _dswish(a, xp)))
    record = derivative(act, batches=0)
    assert record["verdict"] == "fail" and abs(record["worst"]["a"]) <= 20  # the headline
    assert record["worst_beyond"][0]["a"] > 1000 and "dh(" in record["message"]


def test_hypothesis_draws_alone_find_a_wrong_band():
    # without the fixed points: the drawn batches over [−50, 50] must meet a band 3 wide
    act = Activation("drawn", h=_swish, dh=_wrong_on(10.0, 13.0, 1.05))
    evals = audit_derivative.setup(act, ORACLES)
    j = audit_derivative.drawn(act, ORACLES, (), evals, batches=20, seed=0)
    assert audit_derivative.summarise(j, ORACLES)["verdict"] == "fail"


@pytest.mark.parametrize("off", [1e-4, 1e-2])
def test_derivative_one_wrong_oracle_value_fails(monkeypatch, off):
    # the judge itself: a known-wrong torch value that fd can tell from jax fails torch alone
    act = Activation("swish", h=_swish, dh=_dswish)
    evals = audit_derivative.setup(act, ORACLES)
    real = evals["torch"].grad
    monkeypatch.setattr(evals["torch"], "grad", lambda a: real(a) * (1 + off))
    j = audit_derivative.judge(act, np.linspace(-3, 3, 101), ORACLES, (), evals)
    per = audit_derivative.summarise(j, ORACLES)["oracles"]
    assert per["torch"]["verdict"] == "fail"
    assert per["jax"]["verdict"] == "pass" and per["fd"]["verdict"] == "pass"


def test_derivative_torch_and_jax_apart_below_fds_bar_is_counted_not_silent(monkeypatch):
    # 1e-10 apart, finer than fd can tell: judged to the widest bar, counted with the reason
    act = Activation("swish", h=_swish, dh=_dswish)
    evals = audit_derivative.setup(act, ORACLES)
    real = evals["torch"].grad
    monkeypatch.setattr(evals["torch"], "grad", lambda a: real(a) * (1 + 1e-10))
    j = audit_derivative.judge(act, np.linspace(-3, 3, 101), ORACLES, (), evals)
    record = audit_derivative.summarise(j, ORACLES)
    assert record["widened"].get(summary.REASONS[1], 0) > 50
    bad = Activation("swish_off", h=_swish, dh=lambda a, xp: 1.001 * _dswish(a, xp))
    evals["numpy"] = audit_derivative.setup(bad, ())["numpy"]  # dh comes from numpy's
    j = audit_derivative.judge(bad, np.linspace(-3, 3, 101), ORACLES, (), evals)
    assert audit_derivative.summarise(j, ORACLES)["verdict"] == "fail"  # gross: still fails


def test_kinks_an_undeclared_one_is_found_and_warned_with_the_fix():
    act = Activation("relu6", kinks=(0.0,), h=lambda a, xp: xp.where(
        a > 6.0, 6.0 * xp.ones_like(a), xp.where(a > 0, a, xp.zeros_like(a))),
        dh=lambda a, xp: xp.where((a > 0) & (a < 6.0), xp.ones_like(a), xp.zeros_like(a)))
    evals = audit_derivative.setup(act, ORACLES)
    k = audit_shape.check_kinks(act, act.kinks, evals)
    assert k["found"] == [0.0, 6.0] and k["undeclared"] == [6.0]
    assert k["verdict"] == "warn" and "kinks=(0, 6)" in k["warnings"][0]
    at6 = next(r for r in k["at"] if r["a"] == 6.0)
    assert (at6["left"], at6["right"]) == (pytest.approx(1.0, abs=1e-6), 0.0)
    # with the found kink treated as declared, the derivative check passes
    assert derivative(act, kinks=(0.0, 6.0))["verdict"] == "pass"
    # and without it the finite differences straddle 6 and fail
    assert derivative(act, kinks=(0.0,), batches=0)["verdict"] == "fail"


def test_kinks_a_declared_one_where_h_is_smooth_is_warned():
    act = Activation("tanh_k", h=lambda a, xp: xp.tanh(a),
                     dh=lambda a, xp: 1 - xp.tanh(a) ** 2, kinks=(1.0,))
    k = audit_shape.check_kinks(act, act.kinks, audit_derivative.setup(act, ORACLES))
    assert k["found"] == [] and k["verdict"] == "warn" and "smooth" in k["warnings"][0]


def test_kinks_steep_smooth_curves_are_not_kinks():
    act = Activation("steep", h=lambda a, xp: xp.tanh(40 * (a - 0.3)),
                     dh=lambda a, xp: 40 * (1 - xp.tanh(40 * (a - 0.3)) ** 2))
    k = audit_shape.check_kinks(act, (), audit_derivative.setup(act, ORACLES))
    assert k["found"] == [] and k["verdict"] == "pass"


def test_kinks_a_small_slope_jump_off_the_grid_is_found():
    c = 1.2345678  # not a grid point; slope jumps by 0.05
    act = Activation("bent", h=lambda a, xp: a + 0.05 * xp.where(a > c, a - c, xp.zeros_like(a)),
                     dh=lambda a, xp: xp.where(a > c, 1.05 * xp.ones_like(a), xp.ones_like(a)))
    k = audit_shape.check_kinks(act, (), audit_derivative.setup(act, ORACLES))
    assert len(k["found"]) == 1 and k["found"][0] == pytest.approx(c, abs=1e-8)


def test_frameworks_a_numpy_only_definition_gets_a_message_per_framework():
    act = Activation("np_only", h=lambda a, xp: np.tanh(a), dh=lambda a, xp: 1 - np.tanh(a) ** 2)
    f = audit_frameworks.check_frameworks(act, np.linspace(-2, 2, 9), ["numpy", "torch", "jax"])
    assert f["verdict"] == "fail"
    assert f["numpy"]["verdict"] == "pass"
    assert f["torch"]["verdict"] == "fail" and "torch" in f["torch"]["message"]
    assert f["jax"]["verdict"] == "fail" and f["jax"]["message"]


def test_frameworks_different_values_under_one_framework_fail():
    def h(a, xp):
        return xp.tanh(a) * (1.0 if xp is np else 1.0 + 1e-9)

    act = Activation("drift", h=h, dh=lambda a, xp: 1 - xp.tanh(a) ** 2)
    f = audit_frameworks.check_frameworks(act, np.linspace(-2, 2, 9), ["numpy", "torch", "jax"])
    assert f["verdict"] == "fail"
    assert f["torch"]["verdict"] == "fail" and "under torch" in f["torch"]["message"]


def test_range_naive_softplus_overflows_just_above_709_78_and_88_7():
    naive = Activation("naive_softplus", h=lambda a, xp: xp.log(1 + xp.exp(a)),
                       dh=lambda a, xp: xp.exp(a) / (1 + xp.exp(a)))
    r = audit_shape.check_range(naive)
    lo, hi = r["float64"]["h"]
    assert lo == -1e4 and hi == pytest.approx(math.log(np.finfo(np.float64).max), abs=1e-6)
    assert r["float64"]["dh"][1] == pytest.approx(709.78, abs=0.01)
    assert r["float32"]["h"][1] == pytest.approx(88.72, abs=0.01)
    assert r["float64"]["detail"]["dh"]["bad"][0]["value"] == "nan"
    assert r["float64"]["detail"]["h"]["bad"][0]["value"] == "inf"


def test_range_a_stable_softplus_is_finite_everywhere():
    act = Activation("sp", h=lambda a, xp: xp.logaddexp(xp.zeros_like(a), a), dh=_sigmoid)
    r = audit_shape.check_range(act)
    assert r["float64"]["h"] == [-1e4, 1e4] and r["float32"]["dh"] == [-1e4, 1e4]


def test_networks_fail_on_a_wrong_derivative():
    act = Activation("off2_everywhere", h=_swish, dh=lambda a, xp: 1.02 * _dswish(a, xp))
    cfg = audit.AuditConfig(oracles=("torch",), examples=12)
    n = audit.check_networks(act, "inline", (), cfg, seed=0)
    assert n["verdict"] == "fail" and n["failed_cases"] >= 1


@pytest.mark.parametrize(("spec", "needle"), [
    ("no_such_builtin", "not a built-in"),
    ("no_such_module_xyz:ACT", "cannot import"),
    ("deltacheck.core.activations:BUILTINS", "lacks name, h, dh"),
    ("deltacheck.core.activations:LEAKY_SLOPE", "lacks"),
])
def test_resolve_refuses_bad_specs(spec, needle):
    with pytest.raises(DeltacheckError, match=needle):
        audit.resolve(spec)


def test_resolve_refuses_an_h_that_fails_on_a_float64_array(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("from deltacheck import Activation\n"
                    "BAD = Activation('bad', h=lambda a, xp: float(a), dh=lambda a, xp: a)\n"
                    "SHAPE = Activation('shape', h=lambda a, xp: a.sum(), dh=lambda a, xp: a)\n")
    with pytest.raises(DeltacheckError, match=r"h\(a, numpy\) raised TypeError"):
        audit.resolve(f"{path}:BAD")
    with pytest.raises(DeltacheckError, match="elementwise"):
        audit.resolve(f"{path}:SHAPE")


@pytest.mark.parametrize("exc", [RuntimeError("big"), SystemExit(3)])
def test_a_dh_that_raises_on_some_inputs_gets_a_verdict_not_a_crash(exc):
    def dh(a, xp):
        if a.shape[0] > 100:  # passes the small probe, raises on the grid
            raise exc
        return _dswish(a, xp)

    doc = audit.run([], audit.AuditConfig(examples=0, batches=1, seed=0))
    assert doc["activations"] == []
    record = audit.audit_one(Activation("raises", h=_swish, dh=dh), "inline",
                             audit.AuditConfig(examples=0, batches=1, seed=0), seed=0)
    assert record["verdict"] == "fail"
    assert record["derivative"]["verdict"] == "fail"
    assert type(exc).__name__ in record["derivative"]["message"]
    assert set(record["derivative"]["worst"]) >= {"a", "dh", "torch", "jax", "fd", "err"}
    assert record["frameworks"]["verdict"] == "fail"
