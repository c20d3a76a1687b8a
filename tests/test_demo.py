"""deltacheck demo: every claim it shows gets a verdict that can fail."""

import dataclasses
import functools
import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

from deltacheck.commands import cli
from deltacheck.demo import cost as demo_cost
from deltacheck.demo import output_errors as oe
from deltacheck.demo import runner as demo
from deltacheck.demo import training as demo_training
from deltacheck.demo import worked as demo_worked
from deltacheck.reports import demo as demo_report

QUICK = {"training_scale": 0.05, "widths": (32, 128)}
PAIR = {p.key: p for p in oe.PAIRS}


def measured(pair, cases=25, seed=3):
    return oe.measure(pair, oe.draw_cases(pair, cases, seed), pairs=(pair,))


# ---- output errors -----------------------------------------------------------------------

@pytest.mark.parametrize("key", ["mse-identity-real", "bce-sigmoid-unit", "ce-softmax-simplex"])
def test_canonical_pairs_output_error_is_y_minus_t(key):
    row = measured(PAIR[key])
    assert row["canonical"] and row["matches_y_minus_t"], row["max_dev_ulp"]
    assert row["max_dev_ulp"] <= oe.MATCH_ULP
    assert row["matches_general_form"]
    assert oe.holds(row)


@pytest.mark.parametrize("key", ["mse-sigmoid-unit", "mse-tanh-real", "bce-softmax-unit"])
def test_non_canonical_pairs_are_not_y_minus_t_but_the_general_form(key):
    row = measured(PAIR[key])
    assert not row["canonical"]
    assert not row["matches_y_minus_t"] and row["max_dev_ulp"] > 1e6
    assert row["matches_general_form"], row["detail"]["general_dev_ulp"]
    assert oe.holds(row)


def test_softmax_subtlety_rows_not_summing_to_one():
    row = measured(PAIR["ce-softmax-unnormalised"])
    low, high = row["detail"]["row_sums"]
    assert low < 0.9 or high > 1.1  # the targets really are unnormalised
    assert not row["matches_y_minus_t"]
    assert row["matches_general_form"]  # δ = y Σt − t
    assert oe.holds(row)


def test_saturated_outputs_are_drawn():
    cases = oe.draw_cases(PAIR["bce-sigmoid-unit"], 60, 0)
    assert sum(oe.saturated("sigmoid", c.a) for c in cases) >= 3


def test_y_minus_t_claimed_for_mse_with_sigmoid_is_shown_as_not_matching():
    wrong = dataclasses.replace(PAIR["mse-sigmoid-unit"], canonical=True)  # claims δ = y − t
    row = measured(wrong)
    assert row["canonical"] and not row["matches_y_minus_t"]
    assert not oe.holds(row)


def test_a_wrong_general_form_is_shown_as_not_matching():
    def missing_factor(a, y, t):  # (y − t) y, without the (1 − y) of σ′
        return (y - t) * y, np.maximum(np.abs(y), np.abs(t))

    wrong = dataclasses.replace(PAIR["mse-sigmoid-unit"], general=missing_factor)
    row = measured(wrong)
    assert not row["matches_general_form"]
    assert not oe.holds(row)


def test_nan_in_a_claim_never_matches():
    def nan_claim(a, y, t):
        d = y - t
        d.flat[0] = np.nan
        return d, np.abs(d)

    row = measured(dataclasses.replace(PAIR["mse-identity-real"], claim=nan_claim))
    assert not row["matches_y_minus_t"] and row["max_dev_ulp"] == float("inf")


def test_no_cases_match_nothing():
    row = oe.measure(PAIR["mse-identity-real"], [], pairs=())
    assert not row["matches_y_minus_t"] and not row["matches_general_form"]


def test_jax_padding_changes_no_gradient():
    pair = PAIR["bce-softmax-unit"]
    rng = np.random.default_rng(0)
    a, t = rng.normal(size=(5, 3)) * 5, rng.uniform(size=(5, 3))
    np.testing.assert_allclose(oe.jax_delta(pair, a, t), oe.torch_delta(pair, a, t),
                               rtol=1e-13, atol=1e-15)


# ---- the worked example ------------------------------------------------------------------

def test_worked_example_numbers_match_autograd():
    out = demo_worked.run()
    assert out["matches"]
    delta2 = next(s for s in out["steps"] if s["key"] == "delta2")
    y, t = np.array(out["forward"]["y"]), np.array(out["t"])
    np.testing.assert_allclose(delta2["value"], y - t)  # δ⁽²⁾ = y − t


def test_worked_example_with_a_wrong_number_differs():
    values = demo_worked.formulas(demo_worked.W1, demo_worked.B1, demo_worked.W2, demo_worked.B2,
                                  demo_worked.X, demo_worked.T)
    values["delta1"] = values["delta1"] * (1 + 1e-9)
    out = demo_worked.run(values=values)
    assert not out["matches"]
    assert [s["key"] for s in out["steps"] if not s["agrees"]] == ["delta1"]


# ---- the training loop -------------------------------------------------------------------

@pytest.mark.parametrize("index", [0, 1, 2], ids=["spirals", "sine", "disc"])
def test_trajectories_agree_at_every_step(index):
    task = demo_training.tasks(0, scale=0.1)[index]
    row = demo_training.run_task(task, seed=index)
    for fw, r in row["frameworks"].items():
        assert demo_training.holds(r), (fw, r["max_rel_weight_diff"])
        assert r["epoch_loss"] == pytest.approx(row["reference"]["epoch_loss"], rel=1e-9)


def test_a_wrong_gradient_makes_the_trajectories_part(monkeypatch):
    from deltacheck.reference_impl import network, training

    def off_by_a_little(*args):
        out = network.backprop(*args)
        out["grad_weights"][0] = out["grad_weights"][0] * (1 + 1e-6)
        return out

    monkeypatch.setattr(training, "backprop", off_by_a_little)
    task = demo_training.tasks(0, scale=0.1)[1]
    row = demo_training.run_task(task, seed=1, frameworks=("torch",))
    assert not demo_training.holds(row["frameworks"]["torch"])


def test_nan_weights_never_agree():
    p = [np.array([1.0, np.nan])]
    assert demo_training.rel_diffs([p], [[np.array([1.0, 2.0])]]) == [float("inf")]
    assert not demo_training.holds({"max_rel_weight_diff": float("nan")})


def test_sgd_steps_take_the_batches_given(rng):
    from deltacheck.reference_impl import backprop, sgd_steps

    W, b = [rng.normal(size=(2, 3))], [np.zeros(2)]
    x, t = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    batches = [np.array([4, 1]), np.array([0, 5, 2])]
    steps = [(w[0].copy(), E) for w, _, E in sgd_steps(W, b, [], "mse", x, t, batches,
                                                       learning_rate=0.1)]
    first = backprop(W, b, [], "mse", x[[4, 1]], t[[4, 1]])
    np.testing.assert_allclose(steps[0][0], W[0] - 0.1 * first["grad_weights"][0])
    assert steps[0][1] == first["loss"] and len(steps) == 2


# ---- the cost claim ----------------------------------------------------------------------

def test_central_differences_timed_are_real_gradients(rng):
    from deltacheck.reference_impl import backprop

    W, b, x, t = demo_cost.network(8, rng)
    which = [(0, 3), (1, 10), (2, 5), (3, 2)]
    fd = demo_cost.central_differences(W, b, x, t, which)
    out = backprop(W, b, [demo_cost.HIDDEN] * 2, "ce", x, t)
    exact = [out["grad_weights"][k].reshape(-1)[i] if k < 3 else out["grad_biases"][k - 3][i]
             for k, i in which]
    np.testing.assert_allclose(fd, exact, rtol=1e-5, atol=1e-7)


def test_slope_of_a_power_law():
    P = [10.0, 100.0, 1000.0]
    assert demo_cost.slope(P, [3 * p**2 for p in P]) == pytest.approx(2.0)


def test_cost_rows_grow_with_the_parameters():
    cost = demo_cost.run((8, 16), seed=0)
    rows = cost["rows"]
    assert rows[0]["params"] < rows[1]["params"]
    for r in rows:
        assert 0 < r["forward_s"] and r["backprop_s"] < r["fd_s"]


# ---- the whole demo, its documents and its command ---------------------------------------

SCHEMA_KEYS = {"schema", "verdict", "output_errors", "training", "worked_example", "cost",
               "cost_claims", "lessons_run"}
LESSON_KEYS = {"chain_rule_paths", "depth", "slow_learning", "fd_step", "memory",
               "canonical_links"}


def untimed(claims):
    """The claims that do not time anything: the cost's depend on the machine's load."""
    return [(ok, text) for ok, text in claims if not text.startswith("cost:")]


def test_a_wrong_claim_fails_the_demo_and_the_documents_keep_their_schema():
    wrong = dataclasses.replace(PAIR["mse-sigmoid-unit"], canonical=True)
    outcome = demo.run(demo.Config(cases=15, pairs=(PAIR["mse-identity-real"], wrong),
                                   lessons=False, **QUICK))
    doc = outcome.document
    assert outcome.exit_code == 1 and doc["verdict"] == "fail"
    assert set(doc) == SCHEMA_KEYS and doc["schema"] == "deltacheck-demo/2"
    assert doc["lessons_run"] is False
    assert [set(r) for r in doc["cost_claims"]] in (
        [{"claim", "holds", "measured", "needed", "text"},
         {"claim", "holds", "measured", "needed", "range", "text"}],)
    assert [set(r) for r in doc["output_errors"]] == [
        {"loss", "output", "canonical", "cases", "max_dev_ulp", "matches_y_minus_t",
         "matches_general_form"}] * 2
    assert {tuple(sorted(r)) for r in doc["training"]} == {
        ("framework", "loss", "max_rel_weight_diff", "steps", "task")}
    assert {tuple(sorted(r)) for r in doc["cost"]} == {
        ("backprop_s", "fd_s", "forward_s", "params")}
    json.dumps(doc, allow_nan=False)
    failing = [text for ok, text in untimed(outcome.claims) if not ok]
    assert len(failing) == 1 and "MSE with sigmoid" in failing[0]
    html = demo_report.render(outcome.report)
    assert "a claim does not hold" in html and "δ = y − t fails" in html


def test_report_is_self_contained_and_renders_from_the_json_alone(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "Config", functools.partial(demo.Config, **QUICK))
    report, out = tmp_path / "demo.html", tmp_path / "demo.json"
    code = cli.main(["demo", "--cases", "15", "--report", str(report), "--json", str(out)])
    doc = json.loads(out.read_text())
    cost_ok = all(c["holds"] for c in doc["cost_claims"])
    assert code == (0 if cost_ok else 1)  # every other claim holds here
    html = report.read_text()
    for heading in ("Output errors are y − t", "The softmax subtlety", "A worked example",
                    "The whole training loop", "What a gradient costs",
                    "The chain rule over paths", "Canonical links in general"):
        assert heading in html
    assert "<svg" in html and "<math" in html
    assert "http" not in html and "<script" not in html and "<link" not in html
    assert doc["verdict"] == ("pass" if cost_ok else "fail")
    assert set(doc) == SCHEMA_KEYS | LESSON_KEYS
    assert all(doc[k]["verdict"] == "pass" for k in LESSON_KEYS)
    bare = demo_report.render(doc)  # no details: tables without plots
    assert "What a gradient costs" in bare and "the JSON alone" in bare


@pytest.mark.parametrize("args, words", [
    (["--cases", "0"], "--cases"),
    (["--seed", "-1"], "--seed"),
])
def test_demo_bad_usage_is_one_line_and_exit_2(args, words, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_demo_outputs_must_be_writable_files(tmp_path, capsys):
    assert cli.main(["demo", "--report", str(tmp_path), "--json", str(tmp_path / "d.json")]) == 2
    assert "--report" in capsys.readouterr().err


# ---- independence: the autograd side knows nothing of the formulas it checks -------------

AUTOGRAD_SIDE = {
    "oracles/output_layer.py": ("_torch_delta", "_jax_energy", "_log1m_softmax"),
    "deltacheck/demo/training.py": ("torch_loop", "_torch_step", "jax_loop", "_jax_update"),
    "deltacheck/demo/worked.py": ("_torch_values", "_jax_values"),
}
FORMULAS = {"H_PRIME", "H_PRIME_TERMS", "general_form", "y_minus_t", "softmax_with_target_sums",
            "_dE_dy", "one_minus_y", "formulas", "sgd_steps", "backprop", "reference",
            "reference_impl", "dh", "output_delta", "derivative"}


def names_used(source: str, function: str) -> set[str]:
    import ast

    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == function)
    used = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            used.add(node.id)
        elif isinstance(node, ast.Attribute):
            used.add(node.attr)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            used.update((getattr(node, "module", "") or "").split("."))
            used.update(part for alias in node.names for part in alias.name.split("."))
    return used


@pytest.mark.parametrize("path, function", [(p, f) for p, fs in AUTOGRAD_SIDE.items() for f in fs])
def test_autograd_side_uses_no_formula_and_no_reference_derivative(path, function):
    from pathlib import Path

    source = (Path(__file__).parents[1] / path).read_text(encoding="utf-8")
    assert not names_used(source, function) & FORMULAS


def test_the_independence_check_can_fail():
    leaky = "def _torch_delta(pair, a, t):\n    return H_PRIME[pair.output](a) * (a - t)\n"
    assert names_used(leaky, "_torch_delta") & FORMULAS == {"H_PRIME"}
    importing = "def jax_loop(task):\n    from deltacheck.reference_impl import backprop\n"
    assert {"reference_impl", "backprop"} <= names_used(importing, "jax_loop")


class _Seen(BaseException):
    """Carries the configuration the command built out of the command line."""


@pytest.mark.parametrize(("args", "lessons"), [([], True), (["--skip-lessons"], False)])
def test_skip_lessons_reaches_the_configuration(args, lessons, monkeypatch, tmp_path):
    def seen(config, progress=None):
        raise _Seen(config)

    monkeypatch.setattr(demo, "run", seen)
    with pytest.raises(_Seen) as got:
        cli.main(["demo", *args, "--report", str(tmp_path / "d.html")])
    assert got.value.args[0].lessons is lessons
