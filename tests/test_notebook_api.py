"""The one-call Python API: check_backprop, audit_activation, run_demo, each a result whose
card (``_repr_html_``) shows the verdict, the first disagreement and its diagnosis, and the
path of the full report written beside the notebook."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

import deltacheck
from deltacheck.bugs import slope_of_z
from deltacheck.demo import runner as demo_runner


@pytest.fixture
def beside(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook's folder: the reports go beside it
    return tmp_path


def test_check_backprop_card_of_a_correct_implementation_passes(beside):
    result = deltacheck.check_backprop(examples=6, oracles=["torch"], progress=False)
    html = result._repr_html_()
    assert result.passed and result.verdict == "pass"
    assert "PASS" in html and "all agree" in html and "First disagreement" not in html
    assert (beside / result.report).is_file() and result.report in html


def test_check_backprop_card_of_a_known_wrong_implementation_fails_with_where_and_why(beside):
    result = deltacheck.check_backprop(slope_of_z, examples=12, oracles=["torch", "jax"],
                                       progress=False, report="out/backprop.html")
    html = result._repr_html_()
    assert not result.passed and result.verdict == "fail"
    assert "FAIL" in html and "First disagreement" in html and "but torch says" in html
    assert "Diagnosis" in html and "evaluated at z" in html
    assert "out/backprop.html" in html and (beside / "out" / "backprop.html").is_file()
    assert "<script" not in html


def test_check_backprop_takes_conventions_as_keywords(beside):
    def mean_backprop(weights, biases, activations, loss, x, t):
        out = deltacheck.reference_impl.backprop(weights, biases, activations, loss, x, t)
        n = len(x)
        return {"loss": out["loss"] / n, "grad_weights": [g / n for g in out["grad_weights"]],
                "grad_biases": [g / n for g in out["grad_biases"]]}

    result = deltacheck.check_backprop(mean_backprop, examples=6, oracles=["torch"],
                                       progress=False, reduction="mean",
                                       provides={"loss", "grad_weights", "grad_biases"})
    assert result.passed, result


def _bad_swish():
    return deltacheck.Activation(
        "bad_swish", h=lambda a, xp: a / (1 + xp.exp(-a)),
        dh=lambda a, xp: 1 / (1 + xp.exp(-a)))  # the a σ′(a) term forgotten


def test_audit_activation_card_fails_on_a_wrong_derivative(beside):
    result = deltacheck.audit_activation(_bad_swish(), batches=2, examples=3,
                                         oracles=["torch", "fd"])
    html = result._repr_html_()
    assert result.verdict == "fail" and "FAIL" in html
    assert "derivative" in html and "First disagreement" in html and "h′(" in html
    assert (beside / result.report).is_file()


def test_audit_activation_card_of_a_builtin_passes(beside):
    result = deltacheck.audit_activation("tanh", batches=2, examples=3, report=None)
    assert result.passed and "PASS" in result._repr_html_() and result.report is None


def test_run_demo_card_names_the_broken_claim_where_and_why(beside, monkeypatch):
    real = demo_runner.Config
    monkeypatch.setattr(demo_runner, "Config", lambda **kw: real(
        **{**kw, "training_scale": 0.02, "widths": (8, 16)}))
    result = deltacheck.run_demo(impl=slope_of_z, cases=5)
    html = result._repr_html_()
    assert result.verdict == "fail" and not result.passed
    assert "claims do not hold" in html and "First disagreement" in html
    assert "worked example" in html and "evaluated at z" in html
    assert (beside / result.report).is_file()
    assert "Your implementation" in (beside / result.report).read_text()


def test_bad_arguments_are_one_deltacheck_error(beside):
    with pytest.raises(deltacheck.DeltacheckError, match="backprop="):
        deltacheck.check_backprop(np.zeros(3))
    with pytest.raises(deltacheck.DeltacheckError, match="oracles"):
        deltacheck.check_backprop(oracles="fd")


def test_run_demo_on_an_implementation_that_raises_fails_every_claim_on_it(beside, monkeypatch):
    real = demo_runner.Config
    monkeypatch.setattr(demo_runner, "Config", lambda **kw: real(
        **{**kw, "training_scale": 0.02, "widths": (8, 16)}))

    def broken(weights, biases, activations, loss, x, t):
        raise ValueError("not written yet")

    result = deltacheck.run_demo(impl=broken, cases=3, progress=False)
    assert result.verdict == "fail" and "raised ValueError" in result._repr_html_()
    yours = result.document["implementation"]
    assert not any(r["holds"] for r in yours["output_delta"])
    assert not any(t["holds"] for t in yours["training"])
