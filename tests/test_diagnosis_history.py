"""A failure that depends on earlier calls is `stateful`, one that does not reproduce is
`nondeterministic`, and returned arrays that alias the inputs or that the next call
overwrites are `aliasing`: each with a known-wrong implementation that gets the kind, and a
plainly wrong or correct one that does not."""

from __future__ import annotations

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.campaign import history
from deltacheck.campaign.planning import Config
from deltacheck.diagnosis import check_case, diagnosed
from deltacheck.judging.calling import input_aliases
from tests.helpers import random_case
from tests.impls import history as impls

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _case(seed: int = 3):
    return random_case(np.random.default_rng(seed), (3, 4, 2), ("tanh",), "mse", batch=2)


def _config(impl, spec: str = "") -> Config:
    return Config(impl=impl, impl_spec=spec, oracles=("torch",), losses=("mse",))


def _failing(impl, case):
    result = check_case(case, impl, ("torch",))
    assert result.verdict == "fail", "the known-wrong implementation should fail here"
    return result


def _doubled_bias(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    out["grad_biases"] = [2 * g for g in out["grad_biases"]]
    return out


@pytest.mark.slow  # two fresh processes, each importing deltacheck and the implementation
def test_a_result_that_passes_in_a_fresh_process_is_stateful():
    pytest.importorskip("torch")
    impl, case = impls._counting(), _case()
    for _ in range(4):  # past its warm-up: from now on it is wrong
        impl(*case.arguments())
    found = history.recheck(_config(impl, "tests/impls/history.py:counting"),
                            _failing(impl, case))
    assert found["kind"] == "stateful", found
    assert "passes as the first call of a fresh process" in found["detail"]


def test_a_result_fixed_by_what_came_just_before_is_stateful_without_a_fresh_process():
    pytest.importorskip("torch")
    impl, case = impls._last_result(), _case()
    impl(*history.other_values(case).arguments())
    found = history.recheck(_config(impl), _failing(impl, case))
    assert found["kind"] == "stateful", found
    assert "the same way every time" in found["detail"]


def test_a_failure_by_chance_is_nondeterministic_with_its_count():
    pytest.importorskip("torch")
    case = _case()
    result = next(r for r in (check_case(case, impls.coin, ("torch",)) for _ in range(200))
                  if r.verdict == "fail")
    found = history.recheck(_config(impls.coin), result)
    assert found["kind"] == "nondeterministic", found
    assert "re-checks of the same case fail" in found["detail"]


def _wrong_on_calls(*wrong: int):
    """Right on every call but the numbered ones (0 is the failure the run saw)."""
    calls = iter(range(10**6))

    def backprop(weights, biases, activations, loss, x, t):
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        if next(calls) in wrong:
            out["grad_weights"] = [2 * g for g in out["grad_weights"]]
        return out
    return backprop


@pytest.mark.parametrize("confirm", [history.CONFIRM, 0])
def test_a_chance_failure_missed_by_the_first_round_is_not_called_steady(confirm, monkeypatch):
    # the first 4 rounds of 3 re-checks (24 calls after the run's failing one) all pass, as
    # a failure on a third of the calls does once in 70 tries; the longer round sees one fail
    pytest.importorskip("torch")
    monkeypatch.setattr(history, "CONFIRM", confirm)
    impl, case = _wrong_on_calls(0, 2 * 3 * history.REPEATS + 8), _case()
    found = history.recheck(_config(impl), _failing(impl, case))
    if confirm:
        assert found["kind"] == "nondeterministic", found
        assert "1 of 48 re-checks of the same case fail" in found["detail"]
    else:  # without the longer round the same calls read as a steady dependence
        assert found["kind"] == "stateful", found


@pytest.mark.slow  # a fresh process
def test_a_plain_wrong_implementation_keeps_its_own_kind():
    pytest.importorskip("torch")
    case = _case()
    found = history.recheck(_config(_doubled_bias, "tests/test_diagnosis_history.py:"
                                    "_doubled_bias"), _failing(_doubled_bias, case))
    assert found["kind"] is None
    assert found["verdicts"]["first call of a fresh process"] == "fail"
    result = history.apply(diagnosed(_failing(_doubled_bias, case)), found)
    assert result.diagnosis["kind"] == "factor"


def test_the_history_kind_replaces_every_other_symptom():
    pytest.importorskip("torch")
    impl, case = impls._last_result(), _case()
    impl(*history.other_values(case).arguments())
    result = diagnosed(_failing(impl, case))
    found = history.recheck(_config(impl), result)
    d = history.apply(result, found).diagnosis
    assert d["kind"] == "stateful" and d["detail"] == found["detail"] and d["rechecks"]


def test_arrays_the_next_call_overwrites_are_aliasing():
    pytest.importorskip("torch")
    case = _case()
    result = check_case(case, impls._reused(), ("torch",), probe=True)
    assert result.verdict == "fail"
    assert result.diagnosis["kind"] == "aliasing", result.diagnosis
    assert result.diagnosis["first_wrong"]["q"] == "grad_biases"
    assert "next call overwrites ∂b[" in result.diagnosis["detail"]
    # without the probe the same implementation looks right: the probe is what sees it
    assert check_case(case, impls._reused(), ("torch",)).verdict == "pass"
    assert check_case(case, reference_impl.backprop, ("torch",), probe=True).verdict == "pass"


def test_returned_arrays_that_share_memory_with_the_inputs_are_named():
    case = _case()
    args = case.arguments()
    x = args[4]
    assert input_aliases({"deltas": [x[:, :1]]}, args) == ["δ[0] shares memory with x"]
    assert input_aliases({"deltas": [x.copy()]}, args) == []
    assert input_aliases(None, args) == []


def test_an_implementation_returning_a_view_of_its_input_fails_as_aliasing():
    pytest.importorskip("torch")
    case = _case()

    def viewing(weights, biases, activations, loss, x, t):
        out = reference_impl.backprop(weights, biases, activations, loss, x, t)
        out["grad_biases"][-1] = t[0]  # a row of the caller's t, not an array of its own
        return out

    result = check_case(case, viewing, ("torch",))
    assert result.verdict == "fail"
    assert result.diagnosis["kind"] == "aliasing", result.diagnosis
    assert "∂b[1] shares memory with t" in result.diagnosis["detail"]


@pytest.mark.slow  # a whole campaign, shrinking included
def test_a_campaign_names_a_stateful_implementation_and_no_other_symptom(tmp_path):
    pytest.importorskip("torch")
    from deltacheck import campaign
    config = Config(impl=impls._last_result(), impl_spec="", profile="ci", examples=40, seed=0,
                    oracles=("torch",), losses=("mse",), failures_dir=str(tmp_path))
    doc = campaign.run(config).document
    minimal = [f for f in doc["failures"] if f["minimal"]]
    assert minimal and minimal[0]["diagnosis"]["kind"] == "stateful", minimal[0]["diagnosis"]
    # no failing case of the run claims another symptom
    kinds = {rec["diagnosis"]["kind"] for rec in doc["cases"] if rec.get("diagnosis")}
    assert kinds == {"stateful"}, kinds


def _squared_softmax(weights, biases, activations, loss, x, t):
    """One layer, ce: the output δ from y² renormalised instead of y (∂W, ∂b follow it)."""
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    y = out["deltas"][0] + t
    d = y * y / (y * y).sum(axis=1, keepdims=True) - t
    return {**out, "deltas": [d], "grad_weights": [d.T @ x], "grad_biases": [d.sum(axis=0)]}


def test_a_kind_the_minimal_case_cannot_tell_comes_from_the_larger_case():
    pytest.importorskip("torch")
    from deltacheck.campaign import larger
    rng = np.random.default_rng(9)
    small = check_case(random_case(rng, (2, 2), (), "ce", batch=1), _squared_softmax,
                       ("torch",))
    big = check_case(random_case(rng, (2, 3), (), "ce", batch=3), _squared_softmax, ("torch",))
    assert small.diagnosis["kind"] == "factor"  # K = 2: each row (u, −u) is a multiple
    assert big.diagnosis["kind"] == "output_error"
    d = larger.survive(small, big).diagnosis
    assert d["kind"] == "output_error" and "K = 2 softmax outputs" in d["detail"], d
    # a kind both agree on stays, and says so
    again = check_case(random_case(rng, (2, 3), (), "ce", batch=2), _squared_softmax,
                       ("torch",))
    d = larger.survive(again, big).diagnosis
    assert d["kind"] == "output_error" and "agrees" in d["detail"]


def _always_wrong_by_chance(weights, biases, activations, loss, x, t):
    out = reference_impl.backprop(weights, biases, activations, loss, x, t)
    out["grad_biases"] = [g * (2 + np.random.default_rng().random()) for g in out["grad_biases"]]
    return out


def test_a_failure_that_differs_every_time_is_nondeterministic_though_every_recheck_fails():
    pytest.importorskip("torch")
    case = _case()
    found = history.recheck(_config(_always_wrong_by_chance), _failing(_always_wrong_by_chance,
                                                                       case))
    assert found["kind"] == "nondeterministic", found
    assert "right after the same call, returns different values" in found["detail"]


def test_a_stateful_failure_replays_the_calls_it_needs_first(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import json

    from deltacheck.commands import cli
    monkeypatch.chdir(tmp_path)

    def run(*words: str, name: str) -> tuple[int, dict]:
        code = cli.main(["run", "--impl", "deltacheck.bugs:cache_by_shape", "--oracles", "torch",
                         *words, f"--json={name}.json", f"--report={name}.html",
                         f"--junit-xml={name}.xml"])
        return code, json.loads((tmp_path / f"{name}.json").read_text())

    code, doc = run("--examples", "40", "--seed", "1", name="r")
    minimal = [f for f in doc["failures"] if f["minimal"]]
    assert code == 1 and minimal and minimal[0]["diagnosis"]["kind"] == "stateful"
    saved = minimal[0]["repro"].split("--replay ")[1].split()[0]
    data = json.loads((tmp_path / saved).read_text())
    assert len(data["before"]) == 1  # the call that makes it fail, saved with it
    code, again = run("--replay", saved, name="again")
    assert code == 1 and again["failures"][0]["diagnosis"]["kind"] == "stateful"
    # alone, in a fresh process, the case passes: the earlier call is what the replay needs
    import subprocess
    import sys
    del data["before"]
    (tmp_path / "alone.json").write_text(json.dumps(data))
    done = subprocess.run([sys.executable, "-m", "deltacheck", "run", "--impl",
                           "deltacheck.bugs:cache_by_shape", "--oracles", "torch", "--replay",
                           "alone.json", "--json=alone.json.out"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
