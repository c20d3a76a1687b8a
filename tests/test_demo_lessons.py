"""deltacheck demo's lessons: each claim holds on its measurement and fails on a wrong one."""

import copy
import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

from deltacheck.core.conventions import declared
from deltacheck.demo import cost as demo_cost
from deltacheck.demo import depth, fd_step, lessons, links, memory, paths, slow_learning
from deltacheck.demo import output_errors as oe
from deltacheck.demo.student import Student
from deltacheck.reports import demo as demo_report
from tests.test_demo_student import student_backprop


def holds(module, doc):
    return [c["holds"] for c in module.claims(doc)]


@pytest.fixture(scope="module")
def measured():
    return {name: module.run(0) for name, (_, module) in lessons.LESSONS.items()}


def test_every_lesson_holds_on_its_measurement(measured):
    for name, (_, module) in lessons.LESSONS.items():
        shown = module.claims(measured[name])
        assert shown and all(c["holds"] for c in shown), (name, shown)


# ---- the chain rule over paths ---------------------------------------------------------------

def _autograd_deltas(case):
    from deltacheck.core import activations as registry
    from deltacheck.oracles import torch_oracle

    return torch_oracle.gradients(list(case.weights), list(case.biases),
                                  [registry.get(n) for n in case.activations], case.loss,
                                  case.x, case.t).deltas


def test_paths_sum_fails_when_a_path_is_missing():
    case = paths.network(0)
    deltas = [d.copy() for d in _autograd_deltas(case)]
    deltas[1][0, 0] = 0.0  # the path through unit 0 of layer 2 dropped from every sum
    found = paths.measure(case, deltas)
    # both layers break: layer 2 is no longer its own paths' sum, layer 1 misses a path
    assert not found["matches"] and min(found["layers"]) > paths.MATCH_ULP


def test_paths_sum_fails_on_nan_and_on_nothing():
    case = paths.network(0)
    deltas = [d.copy() for d in _autograd_deltas(case)]
    deltas[0][0, 1] = np.nan
    assert not paths.measure(case, deltas)["matches"]
    assert not paths.measure(case, None)["matches"]


def _student(slip=None):
    impl = student_backprop(slip)
    return Student(impl, "student.py:backprop", declared(impl))


def test_paths_on_a_correct_students_delta_hold():
    doc = paths.run(0, lessons.student_deltas(_student()))
    assert all(holds(paths, doc)) and doc["yours"]["matches"]


@pytest.mark.parametrize(("slip", "layer"), [("h_prime_at_z", "hidden layer 2"),
                                             ("no_h_prime", "hidden layer 1")])
def test_paths_on_a_students_slip_fail_where_the_slip_sits(slip, layer):
    doc = paths.run(0, lessons.student_deltas(_student(slip)))
    ok, yours = paths.claims(doc)
    assert ok["holds"] and not yours["holds"]
    assert layer in yours["text"] and "your δ_j" in yours["text"]


# ---- depth ------------------------------------------------------------------------------------

def test_depth_claims_fail_when_sigmoid_decays_like_relu(measured):
    doc = copy.deepcopy(measured["depth"])
    sig = next(s for s in doc["settings"] if s["activation"] == "sigmoid" and s["gain"] == 1)
    relu = next(s for s in doc["settings"] if s["activation"] == "relu" and s["gain"] == 1)
    sig["median_decay"], sig["geometric_share"] = relu["median_decay"], 0.5
    assert holds(depth, doc)[:2] == [False, False]


def test_depth_claims_fail_when_relu_at_gain_2_shrinks_and_on_nan(measured):
    doc = copy.deepcopy(measured["depth"])
    relu2 = next(s for s in doc["settings"] if s["activation"] == "relu" and s["gain"] == 2)
    relu2["median_decay"] = 0.9
    assert not holds(depth, doc)[3]
    for s in doc["settings"]:
        s["median_decay"] = math.nan
    assert not any(holds(depth, doc))


def test_depth_decay_of_a_known_geometric_sequence():
    norms = [0.5 ** (10 - l) for l in range(11)]  # halves per layer towards the input
    assert depth.decay(norms) == pytest.approx(0.5)
    slope, r2 = depth.straightness(norms)
    assert slope > 0 and r2 == pytest.approx(1.0)


# ---- slow learning -----------------------------------------------------------------------------

def test_slow_learning_claims_fail_when_mse_learns_as_fast(measured):
    doc = copy.deepcopy(measured["slow_learning"])
    bce, mse = doc["pairs"]["BCE + sigmoid"], doc["pairs"]["MSE + sigmoid"]
    mse["median_wrong_delta"] = bce["median_wrong_delta"]
    mse["epochs_to_target"] = bce["epochs_to_target"]
    assert holds(slow_learning, doc) == [False, False]


def test_slow_learning_fails_when_bce_never_learns(measured):
    doc = copy.deepcopy(measured["slow_learning"])
    doc["pairs"]["BCE + sigmoid"]["epochs_to_target"] = None
    assert not holds(slow_learning, doc)[1]


# ---- finite differences' step ---------------------------------------------------------------

def test_fd_step_fails_on_a_forward_difference_curve():
    h = np.logspace(-13, -1, 49)
    eps = np.finfo(float).eps
    forward = fd_step.measured(h.tolist(), (h + eps / h).tolist())  # truncation ∝ h, best at √ε
    assert holds(fd_step, forward) == [False, False]
    central = fd_step.measured(h.tolist(), (h**2 + eps / h).tolist())
    assert holds(fd_step, central) == [True, True]


def test_fd_step_never_holds_on_nan():
    h = np.logspace(-13, -1, 49)
    assert not any(holds(fd_step, fd_step.measured(h.tolist(), [math.nan] * len(h))))


# ---- memory -------------------------------------------------------------------------------------

def test_memory_claims_fail_when_backprop_stores_nothing_and_fd_grows(measured):
    doc = copy.deepcopy(measured["memory"])
    for r in doc["rows"]:
        r["backprop_peak_bytes"] = doc["rows"][0]["backprop_peak_bytes"]
        r["fd_peak_bytes"] = r["stored_a_z_bytes"]
    assert holds(memory, doc) == [False, False]


def test_memory_peak_is_measured():
    kept = []
    assert memory.peak_bytes(lambda: kept.append(np.ones(100_000))) >= 800_000
    assert memory.peak_bytes(lambda: None) < 10_000


# ---- canonical links ------------------------------------------------------------------------

def test_links_fail_when_a_non_canonical_pair_is_claimed_canonical():
    wrong = links.Link("bernoulli", "−t log y − (1 − t) log(1 − y)", "probit", True)
    row = links.measure(wrong, 0) if wrong in links.LINKS else None
    assert row is None  # not in the table as canonical: measure it under its table index
    real = links.measure(links.LINKS[5], 0)
    doc = {"rows": [{**real, "canonical": True}]}
    assert holds(links, doc) == [False]
    canonical = links.measure(links.LINKS[1], 0)
    assert holds(links, {"rows": [{**canonical, "canonical": False}]}) == [False]
    assert real["factor_up_to"] > 2


# ---- cost -------------------------------------------------------------------------------------

def _summary(ratio, slope):
    rows = [{"params": 10, "forward_s": 1.0, "backprop_s": ratio, "fd_s": 20.0}]
    return {"rows": rows, "ratio": {"min": ratio, "median": ratio, "max": ratio},
            "fd_over_backprop_slope": slope}


@pytest.mark.parametrize(("ratio", "slope", "verdicts"), [
    (2.0, 1.0, [True, True]), (12.0, 1.0, [False, True]), (2.0, 2.0, [True, False]),
    (2.0, 0.0, [True, False]), (math.nan, math.nan, [False, False])])
def test_cost_claims(ratio, slope, verdicts):
    assert [ok for ok, _ in demo_cost.claims(_summary(ratio, slope))] == verdicts


# ---- output errors as factors -----------------------------------------------------------------

def test_factors_of_a_formula_off_by_four():
    claim = np.array([1.0, -2.0, 0.5, 1e-9])
    assert oe.factors(claim / 4, claim) == [4.0, 4.0, 4.0]
    assert oe.factors(np.array([np.nan]), np.array([1.0])) == []


# ---- the report ----------------------------------------------------------------------------

def test_every_lesson_has_a_section_in_the_report(measured):
    doc = {"schema": "deltacheck-demo/2", "verdict": "pass", "lessons_run": True,
           **{name: lessons.judged(module, measured[name])
              for name, (_, module) in lessons.LESSONS.items()}}
    html = demo_report.render(doc)
    for heading in ("The chain rule over paths", "Depth: what the recurrence does",
                    "learns slowly", "Finite differences' step", "Memory: what backprop keeps",
                    "Canonical links in general"):
        assert heading in html
    assert html.count('<svg class="plot"') >= 5
    skipped = demo_report.render({"schema": "deltacheck-demo/2", "verdict": "pass",
                                  "lessons_run": False})
    assert "--skip-lessons" in skipped and "Canonical links in general" not in skipped


def test_factors_read_as_a_person_reads_them():
    from deltacheck.reports.env import factor

    assert factor(4.6119) == "4.61" and factor(7036.35) == "7,036" and factor(1.1e34) == "10³⁴"
    assert factor(float("nan")) == "nan"
