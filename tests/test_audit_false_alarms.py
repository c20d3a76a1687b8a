"""The audit believes the right oracle: issue 19's false alarms on correct activations pass,
and a known-wrong counterpart of each still fails."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deltacheck.audit import console, summary
from deltacheck.audit import derivative as audit_derivative
from deltacheck.audit import runner as audit
from deltacheck.audit import shape as audit_shape
from deltacheck.core import tolerances
from deltacheck.core.errors import DeltacheckError

pytest.importorskip("torch")
pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "examples" / "activations" / "heldout"
GOOD = runpy.run_path(str(HELDOUT / "correct.py"))
BAD = runpy.run_path(str(HELDOUT / "wrong.py"))
SUBSETS = [("torch", "jax", "fd"), ("torch", "fd"), ("jax", "fd"), ("torch",), ("jax",), ("fd",)]


def derivative(act, oracles=("torch", "jax", "fd"), *, batches=0, seed=0):
    """Check 1 with the kinks the search finds, as the runner does."""
    evals = audit_derivative.setup(act, oracles)
    kinks = audit_shape.check_kinks(act, tuple(act.kinks or ()), evals)
    every = tuple(sorted({*(act.kinks or ()), *kinks["found"]}))
    with np.errstate(all="ignore"):
        record, _ = audit_derivative.check_derivative(act, oracles, every, batches=batches,
                                                      seed=seed)
    return record


@pytest.mark.parametrize("oracles", SUBSETS, ids="+".join)
def test_gelu_tanh_with_its_exact_derivative_passes_with_any_oracles(oracles):
    record = derivative(GOOD["GELU_TANH"], oracles)
    assert record["verdict"] == "pass", record["message"]


@pytest.mark.parametrize("oracles", [("torch", "jax", "fd"), ("torch",), ("fd",)], ids="+".join)
def test_gelu_tanh_without_the_3_still_fails(oracles):
    record = derivative(BAD["GELU_TANH_NO3"], oracles)
    assert record["verdict"] == "fail"


def test_log_cosh_passes_at_2e_8_and_its_frameworks_agree():
    act = GOOD["LOG_COSH"]
    a = np.array([2e-8, -2e-8, 1.4e-8, 1e-9])
    j = audit_derivative.judge(act, a, ("torch", "jax", "fd"), (), audit_derivative.setup(
        act, ("torch", "jax", "fd")))
    assert all((j["err"][o] <= RTOL[o]).all() for o in j["err"]), j["err"]
    assert derivative(act)["verdict"] == "pass"
    f = audit._frameworks(act, (), audit.AuditConfig())
    assert f["verdict"] == "pass", console.frameworks_line(f)


def test_log_cosh_with_a_derivative_1e_6_off_fails():
    act = GOOD["LOG_COSH"]
    wrong = type(act)("log_cosh_off", h=act.h, dh=lambda a, xp: (1 + 1e-6) * xp.tanh(a))
    assert derivative(wrong)["verdict"] == "fail"


def test_min30_kink_is_found_and_a_draw_exactly_on_it_is_not_judged():
    act = GOOD["MIN30"]
    evals = audit_derivative.setup(act, ("torch", "jax", "fd"))
    assert audit_shape.check_kinks(act, (), evals)["found"] == [30.0]
    j = audit_derivative.judge(act, np.array([30.0, 30.0 + 1e-6, 30.0 - 1e-6]),
                               ("torch", "jax", "fd"), (30.0,), evals)
    assert all(((j["err"][o] <= RTOL[o]) | ~j["judged"][o]).all() for o in j["err"])
    assert derivative(act)["verdict"] == "pass"


def test_min30_with_dh_switching_at_31_fails():
    record = derivative(BAD["MIN30_LATE"])
    assert record["verdict"] == "fail"
    lo, hi = record["failing_ranges"][0]
    assert 30 <= lo and hi < 31


RTOL = {o: tolerances.lookup(o, "float64").rtol for o in ("torch", "jax", "fd")}


def _judgement(dh, torch, jax, fd, fd_bar=1e-12):
    n = len(dh)
    j = {"a": np.zeros(n), "dh": np.array(dh, dtype=float), "problem": {},
         "values": {"torch": np.array(torch, dtype=float), "jax": np.array(jax, dtype=float),
                    "fd": np.array(fd, dtype=float)},
         "bar": {"torch": np.zeros(n), "jax": np.zeros(n), "fd": np.full(n, fd_bar)},
         "judged": {o: np.ones(n, dtype=bool) for o in ("torch", "jax", "fd")}}
    floor = np.full(n, 1e-15)
    j["err"] = {o: np.abs(j["dh"] - y) / (np.abs(y) + (j["bar"][o] + floor) / RTOL[o])
                for o, y in j["values"].items()}
    summary.widen(j, floor)
    return j


def test_oracles_that_disagree_judge_to_their_widest_bar_with_the_reason():
    # torch and jax 2e-9 apart: a dh between them passes, a dh 10 % off fails
    j = _judgement(dh=[1.0 + 1e-9, 1.1], torch=[1.0, 1.0], jax=[1.0 + 2e-9] * 2,
                   fd=[1.0 + 1e-9] * 2, fd_bar=1e-8)
    assert list(j["widened"]) == [1, 1]
    assert (j["err"]["jax"] <= RTOL["jax"]).tolist() == [True, False]
    # fd off while torch and jax agree with dh: h ill-conditioned there
    j = _judgement(dh=[0.5, 0.7], torch=[0.5, 0.5], jax=[0.5, 0.5], fd=[0.5 + 1e-3] * 2)
    assert j["widened"].tolist() == [2, 3]
    assert (j["err"]["torch"] <= RTOL["torch"]).tolist() == [True, False]
    s = summary.summarise(j, ("torch", "jax", "fd"))
    assert s["widened"] == {summary.REASONS[2]: 1, summary.REASONS[3]: 1}


def test_a_tie_in_minimum_at_a_smooth_point_passes_but_a_flat_elu_fails():
    assert derivative(GOOD["ELU_EXPM1"])["verdict"] == "pass"
    assert derivative(BAD["ELU_FLAT"])["verdict"] == "fail"


def test_a_numpy_only_dh_is_checked_under_numpy_and_reported_numpy_only():
    act = GOOD["TANH_NUMPY_DH"]
    assert derivative(act)["verdict"] == "pass"
    f = audit._frameworks(act, (), audit.AuditConfig())
    assert f["verdict"] == "pass" and f["torch"]["numpy_only"] and f["jax"]["numpy_only"]
    assert "dh numpy only" in console.frameworks_line(f)
    wrong = type(act)("tanh_numpy_dh_off", h=act.h,
                      dh=lambda a, xp: 1.001 * GOOD["_np_dtanh"](a, xp))
    assert derivative(wrong)["verdict"] == "fail"


SOFTMAX = "from deltacheck import Activation\n" \
    "S = Activation('softmax_act', h=lambda a, xp: xp.exp(a) / xp.sum(xp.exp(a)),\n" \
    "               dh=lambda a, xp: xp.exp(a) / xp.sum(xp.exp(a)))\n"


def test_an_h_that_is_not_elementwise_is_one_line_exit_2(tmp_path):
    (tmp_path / "sm.py").write_text(SOFTMAX)
    with pytest.raises(DeltacheckError, match="h is not elementwise"):
        audit.resolve(f"{tmp_path / 'sm.py'}:S")
    proc = subprocess.run([sys.executable, "-m", "deltacheck", "audit", f"{tmp_path / 'sm.py'}:S",
                           "--json", str(tmp_path / "a.json"), "--report",
                           str(tmp_path / "a.html")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "not elementwise" in proc.stderr and "Traceback" not in proc.stderr
    audit.resolve(f"{HELDOUT / 'correct.py'}:GELU_TANH")  # elementwise: no error


def test_the_headline_is_the_worst_point_within_20_with_the_far_ones_beside_it():
    record = derivative(BAD["MISH_FAR"])
    assert record["verdict"] == "fail"
    assert abs(record["worst"]["a"]) <= 20
    assert record["worst_beyond"][0]["a"] == -10000.0
    assert "dh(-10000) = -10000" in record["message"]
    assert "beyond ±20: dh(-10000)" in console.derivative_line(record)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_narrow_band_beyond_the_dense_grid_is_found_by_every_seed(seed):
    record = derivative(BAD["SWISH_BAND_40"], batches=1, seed=seed)
    assert record["verdict"] == "fail"
    lo, hi = record["failing_ranges"][0]
    assert 40 < lo and hi < 40.5


def test_held_out_activations_get_the_verdict_their_author_expects():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import audit_table
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    rows = audit_table.table(batches=0, seed=0)
    assert len(rows) >= 30
    wrong = [(r["name"], r["expected"], r["got"], r["why"]) for r in rows
             if r["got"] != r["expected"]]
    assert not wrong, wrong
