"""The diagnosis names the first wrong quantity and the kind of each planted slip, and says
nothing about a correct implementation."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.core.numbers import distinct
from deltacheck.diagnosis.diagnose import KINDS, diagnose, diagnosis_json
from deltacheck.diagnosis.evidence import fraction_text, slope
from deltacheck.judging.check import check_case
from deltacheck.judging.records import first_wrong, walk_order
from deltacheck.results.reading import attributed_to, line_of
from tests.helpers import random_case
from tests.impls.slips import SLIPS, Slip


def _diagnosed(slip: Slip, oracles: tuple[str, ...] = ("torch",), seed: int = 1):
    case = slip.case(np.random.default_rng(seed))
    result = check_case(case, slip.backprop, oracles)
    assert result.verdict == "fail", f"{slip.name} should fail: {result.first_message()}"
    return result, diagnose(result)


@pytest.mark.parametrize("slip", SLIPS, ids=lambda s: s.name)
def test_each_slip_gets_its_kind_and_first_wrong_quantity(slip):
    pytest.importorskip("torch")
    _, d = _diagnosed(slip)
    assert d is not None
    assert (d.kind, d.q) == (slip.kind, slip.first_wrong), line_of(d.to_json())
    assert d.layer == slip.layer, line_of(d.to_json())
    assert d.detail and d.truth == "torch"


def test_every_kind_but_those_of_the_run_is_planted():
    # nondeterministic, stateful and aliasing come from the run (calls that differ): see the
    # test below and tests/test_diagnosis_history.py
    planted = {s.kind for s in SLIPS}
    assert set(KINDS) - planted == {"nondeterministic", "stateful", "aliasing"}


@pytest.mark.parametrize("acts, loss, dtype", [
    (("tanh", "relu"), "mse", "float64"), (("gelu", "softsign"), "bce", "float64"),
    (("elu", "sigmoid", "leaky_relu"), "ce", "float64"), ((), "ce", "float64"),
    (("silu", "softplus"), "bce", "float32")])
def test_a_correct_implementation_gets_no_diagnosis(rng, acts, loss, dtype):
    pytest.importorskip("torch")
    widths = (3, *([4] * len(acts)), 3)
    case = random_case(rng, widths, acts, loss, batch=4, dtype=dtype)
    result = check_case(case, reference_impl.backprop, ("torch", "fd"))
    assert result.verdict == "pass"
    assert diagnose(result) is None and diagnosis_json(result) is None


def test_correct_values_in_a_failing_result_have_no_first_wrong_quantity(rng):
    # A case can fail for another reason (here: forced); the walk then finds nothing to blame.
    pytest.importorskip("torch")
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse")
    result = check_case(case, reference_impl.backprop, ("torch",))
    result.verdict = "fail"
    d = diagnose(result)
    assert d is not None and d.q is None and d.kind == "unknown"
    assert "agree" in d.detail


def test_the_fd_oracle_stands_in_when_torch_and_jax_are_absent():
    slip = next(s for s in SLIPS if s.name == "tanh h' from a (1 − a²)")
    _, d = _diagnosed(slip, oracles=("fd",))
    assert d is not None and d.truth == "fd"
    assert (d.kind, d.q, d.layer) == ("activation_derivative", "hidden_delta", 1)


def test_nondeterminism_reported_by_the_run_wins():
    pytest.importorskip("torch")
    slip = next(s for s in SLIPS if s.name == "output δ halved")
    result, _ = _diagnosed(slip)
    result.nondeterministic = "δ[2] differs between two calls on the same case"
    d = diagnose(result)
    assert d is not None and d.kind == "nondeterministic" and "two calls" in d.detail
    assert d.q == "output_delta"  # the walk still says where


def test_the_recurrence_table_points_at_the_one_wrong_step():
    pytest.importorskip("torch")
    slip = next(s for s in SLIPS if s.name == "h' evaluated at z")
    _, d = _diagnosed(slip)
    rows = {r["layer"]: r for r in d.layers}
    assert rows[1]["recurrence_ok"] is False and rows[1]["explained_by"] == "h'(z)"
    assert rows[0]["recurrence_ok"] is False  # the slip is in every hidden step
    assert rows[2]["role"] == "output" and rows[2]["delta"] == "pass"
    assert all(r["grad_weights_from_own_delta"] for r in d.layers)
    w = d.worst_delta
    assert w["layer"] == 1 and {"a", "h_prime", "implied_h_prime"} <= set(w)
    assert w["implied_h_prime"] != pytest.approx(w["h_prime"], rel=1e-6)


def test_a_propagated_error_passes_the_local_recurrence_check():
    # δ_out halved: every hidden δ is wrong against the truth, but each follows from the
    # implementation's own δ[l+1]; only the output step is to blame.
    pytest.importorskip("torch")
    slip = next(s for s in SLIPS if s.name == "output δ halved")
    _, d = _diagnosed(slip)
    hidden = [r for r in d.layers if r["role"] == "hidden"]
    assert all(r["delta"] == "fail" for r in hidden)
    assert all(r["recurrence_ok"] for r in hidden)
    assert all(r["implied_over_true"] == pytest.approx(1.0) for r in hidden)


def test_a_diagnosis_that_breaks_says_so_instead_of_ending_the_run(monkeypatch):
    pytest.importorskip("torch")
    slip = next(s for s in SLIPS if s.name == "∂b zero")
    result, _ = _diagnosed(slip)
    import deltacheck.diagnosis.diagnose as diagnosis

    def broken(*args):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(diagnosis, "Causes", broken)
    d = diagnosis_json(result)
    assert d["kind"] == "unknown" and "planted" in d["detail"]


def test_walk_goes_loss_output_hidden_then_gradients():
    order = walk_order(3)
    assert order[:4] == [("loss", None), ("deltas", 2), ("deltas", 1), ("deltas", 0)]
    assert order[4:6] == [("grad_weights", 2), ("grad_biases", 2)]
    verdicts = {("grad_weights", 0): "fail", ("deltas", 0): "fail"}
    assert first_wrong(verdicts, 3) == ("hidden_delta", 0)
    assert first_wrong({("grad_biases", 1): "fail"}, 3) == ("grad_biases", 1)
    assert first_wrong({("deltas", 2): "fail", ("loss", None): "fail"}, 3) == ("loss", None)
    assert first_wrong({("deltas", 2): "not judged"}, 3) is None


def test_attribution_blames_one_layer():
    record = {"quantities": [{"q": "deltas", "layer": 0, "verdict": "fail"},
                             {"q": "deltas", "layer": 1, "verdict": "pass"}]}
    assert attributed_to(["mish"], record) == "mish"
    record["quantities"][1]["verdict"] = "fail"
    assert attributed_to(["mish"], record) == "output"
    assert attributed_to(["mish"], {"quantities": []}) is None


def test_ratios_read_as_written():
    assert fraction_text(0.25, 4) == "1/N (N = 4)"
    assert fraction_text(2.0, 3) == "2"
    assert fraction_text(0.5, 3) == "1/2"
    assert fraction_text(1.2345678, 3) == "1.23457"


def test_numbers_that_differ_read_differently():
    assert distinct(26.259704905479154, 26.259704922132315, least=6) == ("26.25970491",
                                                                        "26.25970492")
    assert distinct(1.5, 2.5, least=6) == ("1.5", "2.5")


def test_independent_slope_matches_the_derivative():
    from deltacheck.core import activations as registry
    a = np.linspace(-3, 3, 13)
    for name in ("tanh", "gelu", "softplus"):
        act = registry.get(name)
        assert np.allclose(slope(act, a), act.dh(a, np), rtol=1e-8, atol=1e-10)


def test_line_of_reads_kind_where_detail():
    assert line_of({"kind": "factor", "where": "∂W[0]", "detail": "x"}) == "factor at ∂W[0]: x"
    assert line_of(None) == ""


def test_assert_agrees_says_why_it_fails():
    pytest.importorskip("torch")
    import deltacheck.testing as dt

    slip = next(s for s in SLIPS if s.name == "∂W from a instead of z")
    with pytest.raises(AssertionError, match=r"diagnosis: assembly at ∂W\[2\]"):
        dt.assert_agrees(slip.case(np.random.default_rng(1)), slip.backprop, oracles=("torch",))


def test_a_nondeterministic_run_whose_values_are_right_is_blamed_where_runs_differ(rng):
    pytest.importorskip("torch")
    case = random_case(rng, (2, 3, 2), ("tanh",), "mse")
    result = check_case(case, reference_impl.backprop, ("torch",))
    result.verdict, result.nondeterministic = "fail", "δ[1] (max |Δ| 0.3), ∂W[1] (max |Δ| 0.1)"
    d = diagnose(result)
    assert (d.kind, d.q, d.layer) == ("nondeterministic", "output_delta", 1)
    assert "two runs on the same case differ in δ[1]" in d.detail
