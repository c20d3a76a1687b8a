"""deltacheck model: the correct course models pass, known-wrong gradients and seeded composition
slips fail and are attributed to the composition, a slip in a layer to the layer, and bad specs
are one line with exit code 2."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import deltacheck
from deltacheck.commands.cli import main
from deltacheck.core.loading import load_object
from deltacheck.models.runner import Settings
from deltacheck.models.selftest import load_slips
from deltacheck.models.selftest import run as run_slips
from deltacheck.oracles.layers.composed import Step, loss_and_grads, scores
from deltacheck.testing import assert_model_agrees

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "examples" / "models"
FC = f"{MODELS / 'fc_net.py'}:FullyConnectedNet"
CONV = f"{MODELS / 'cnn.py'}:ThreeLayerConvNet"
FAST = ("torch", "fd")


def _outputs(tmp_path: Path) -> list[str]:
    return ["--report", str(tmp_path / "model.html"), "--json", str(tmp_path / "model.json"),
            "--junit-xml", str(tmp_path / "junit.xml")]


def _wrong(model_cls: type, edit) -> type:
    """A subclass whose loss(X, y) returns ``edit(loss, grads)``: a known-wrong model."""
    class Wrong(model_cls):  # type: ignore[misc, valid-type]
        def loss(self, X, y=None):
            result = super().loss(X, y)
            return result if y is None else edit(*result)

    Wrong.__name__ = model_cls.__name__
    return Wrong


def test_the_correct_fc_net_passes_with_each_normalization_and_dropout(tmp_path, capsys):
    assert main(["model", FC, "--examples", "6", "--oracles", "torch,fd",
                 *_outputs(tmp_path)]) == 0
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["schema"] == "deltacheck-model/1" and doc["summary"]["verdict"] == "pass"
    assert doc["layers"][0]["cases"] == 6 and doc["layers"][0]["judged_by"] == {"torch": 6,
                                                                                 "fd": 6}
    assert "deltacheck model" in (tmp_path / "model.html").read_text()
    assert ET.parse(tmp_path / "junit.xml").getroot().get("failures") == "0"
    out = capsys.readouterr().out
    assert "all agree: FullyConnectedNet, 6 cases" in out
    # each normalization, with and without dropout
    assert out.count("  composition: ") == 6 and "layernorm - relu - dropout" in out


def test_the_correct_conv_net_passes():
    result = deltacheck.check_model(CONV, examples=2, oracles=FAST)
    assert result.passed, result.failure
    assert "deltacheck model" in result._repr_html_()


def test_the_composed_reference_agrees_in_torch_and_jax():
    rng = np.random.default_rng(0)
    values = {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
              "gamma1": 1 + 0.3 * rng.standard_normal(4), "beta1": rng.standard_normal(4),
              "W2": rng.standard_normal((4, 2)), "b2": rng.standard_normal(2)}
    steps = [Step("affine", ("W1", "b1")),
             Step("layernorm", ("gamma1", "beta1"), {"ln_param": {"eps": 1e-5}}),
             Step("relu"), Step("affine", ("W2", "b2")), Step("softmax_loss")]
    X, y = rng.standard_normal((3, 3)), np.array([0, 1, 1])
    torch_loss, torch_grads = loss_and_grads(steps, "torch", X, y, values,
                                             weights=["W1", "W2"], reg=0.3)
    jax_loss, jax_grads = loss_and_grads(steps, "jax", X, y, values, weights=["W1", "W2"],
                                         reg=0.3)
    assert torch_loss == pytest.approx(jax_loss, rel=1e-12)
    for name in values:
        np.testing.assert_allclose(torch_grads[name], jax_grads[name], rtol=1e-10, atol=1e-13)
    # the penalty is 0.5 reg ΣW², and the scores are the composition without its loss
    plain, _ = loss_and_grads(steps, "torch", X, y, values, weights=[], reg=0.3)
    assert torch_loss - plain == pytest.approx(
        0.15 * (np.sum(values["W1"] ** 2) + np.sum(values["W2"] ** 2)), rel=1e-12)
    assert scores(steps[:-1], "numpy", X, values).shape == (3, 2)
    # and jax alone judges a model's gradients, and fails a wrong one
    wrong = _wrong(load_object(FC, argument="model"),
                   lambda loss, g: (loss, {**g, "b1": g["b1"] + 1e-6}))
    failure = deltacheck.check_model(wrong, examples=1, oracles=("jax",)).failure
    assert failure is not None and failure["gradient"] == "b1" and "jax says" in failure["message"]


@pytest.mark.parametrize(("name", "edit", "stage"), [
    ("W1 off in one entry", lambda loss, g: (loss, {**g, "W1": g["W1"] + np.eye(*g["W1"].shape)
                                                    * 1e-4}), "gradient"),
    ("b2 NaN", lambda loss, g: (loss, {**g, "b2": g["b2"] * np.nan}), "gradient"),
    ("loss off by 1e-6", lambda loss, g: (loss + 1e-6, g), "loss"),
    ("grads missing W2", lambda loss, g: (loss, {k: v for k, v in g.items() if k != "W2"}),
     "call"),
])
def test_a_known_wrong_gradient_fails(name, edit, stage):
    model = _wrong(load_object(FC, argument="model"), edit)
    result = deltacheck.check_model(model, examples=1, oracles=FAST)
    assert not result.passed, name
    assert result.failure is not None and result.failure["stage"] == stage
    if stage == "gradient":
        assert result.failure["gradient"] == name.split()[0]


def test_scores_of_another_composition_are_a_composition_slip_never_a_gradient_bug():
    # a model scoring 2 × its scores composes differently from the declared composition
    model = load_object(FC, argument="model")

    class Doubled(model):  # type: ignore[misc, valid-type]
        def loss(self, X, y=None):
            result = super().loss(X, y)
            return 2 * result if y is None else result

    Doubled.__name__ = "FullyConnectedNet"
    failure = deltacheck.check_model(Doubled, examples=1, oracles=FAST).failure
    assert failure is not None and failure["stage"] == "scores"
    assert failure["diagnosis"]["cause"] == "composition"
    assert "composes its layers differently" in failure["message"]


QUICK_SLIPS = ("reg_in_loss_not_gradient", "dropout_seed_ignored", "gamma_beta_swapped",
               "batchnorm_train_in_test_mode", "conv_hidden_relu_skipped_in_backward")


def test_seeded_composition_slips_are_caught_and_attributed_to_the_composition():
    slips = load_slips(str(MODELS / "slips.py"))
    assert len(slips) >= 15
    doc = run_slips({k: slips[k] for k in QUICK_SLIPS}, Settings(examples=6, oracles=FAST))
    assert [(r["slip"], r["caught"], r["cause"]) for r in doc["slips"]] == \
        [(k, True, "composition") for k in QUICK_SLIPS]


@pytest.mark.slow
def test_every_seeded_composition_slip_is_caught(tmp_path, capsys):
    assert main(["selftest", "--models", str(MODELS / "slips.py"), "--oracles", "torch,fd",
                 "--json", str(tmp_path / "selftest.json")]) == 0
    assert "caught and attributed to the composition: 17 of 17" in capsys.readouterr().out


def test_a_slip_in_a_layer_is_attributed_to_the_layer(tmp_path):
    package = tmp_path / "course"
    shutil.copytree(MODELS, package, ignore=shutil.ignore_patterns("slips.py", "__pycache__"))
    layers = (ROOT / "examples" / "layers" / "layers.py").read_text()
    wrong = layers.replace("    db = np.sum(dout, axis=0)\n", "    db = np.sum(dout, axis=0) * 1.01\n")
    assert wrong != layers
    (package / "layers.py").write_text(wrong)
    result = deltacheck.check_model(f"{package / 'fc_net.py'}:FullyConnectedNet", examples=1,
                                    oracles=FAST)
    assert result.failure is not None and result.failure["gradient"].startswith("b")
    assert result.failure["diagnosis"]["cause"] == "layer"
    assert "affine_forward/affine_backward" in result.failure["diagnosis"]["text"]


def test_a_declared_composition_and_arguments(tmp_path):
    source = (MODELS / "fc_net.py").read_text().replace("from .layers import", "from layers import")
    (tmp_path / "layers.py").write_text((ROOT / "examples" / "layers" / "layers.py").read_text())
    (tmp_path / "net.py").write_text(source.replace("class FullyConnectedNet", "class Net"))
    spec = f"{tmp_path / 'net.py'}:Net"
    assert main(["model", spec, "--examples", "1", "--oracles", "torch,fd",
                 *_outputs(tmp_path)]) == 2  # no known composition, none declared
    assert main(["model", spec, "--composition", "affine,relu,affine,relu,affine,softmax_loss",
                 "--arg", "hidden_dims=[3, 2]", "--arg", "input_dim=4", "--examples", "2",
                 "--oracles", "torch,fd", *_outputs(tmp_path)]) == 0
    assert main(["model", spec, "--composition", "affine,relu,affine,softmax_loss",
                 "--arg", "hidden_dims=[3, 2]", "--arg", "input_dim=4", "--examples", "1",
                 "--oracles", "torch,fd", *_outputs(tmp_path)]) == 1  # one affine too few


def test_a_model_that_cannot_be_constructed_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "bad.py").write_text("class FullyConnectedNet:\n    def __init__(self):\n"
                                     "        raise RuntimeError('no')\n"
                                     "    def loss(self, X, y=None):\n        pass\n")
    assert main(["model", f"{tmp_path / 'bad.py'}:FullyConnectedNet", *_outputs(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be constructed" in err[0] and "RuntimeError: no" in err[0]
    assert main(["model", f"{tmp_path / 'bad.py'}:Missing", *_outputs(tmp_path)]) == 2
    assert main(["model", f"{MODELS / 'fc_net.py'}:np", *_outputs(tmp_path)]) == 2
    capsys.readouterr()
    for arg in ("hidden_dims=3", "normalization='bn'", "dropout_keep_ratio=0", "oops"):
        assert main(["model", FC, "--arg", arg, *_outputs(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("deltacheck: error: --arg"), err


def test_the_pytest_helper():
    assert_model_agrees(FC, examples=2)
    slip = load_slips(str(MODELS / "slips.py"))["reg_missing_on_last_layer"].model
    with pytest.raises(AssertionError, match=r"W2(.|\n)*diagnosis: composition"):
        assert_model_agrees(slip, examples=1)


def _l2_of_one(loss, grads, model):
    """The course's loss with reg ΣW² (an L2 factor of 1): both terms doubled, consistently."""
    weights = [k for k in model.params if k.startswith("W")]
    loss += 0.5 * model.reg * sum(np.sum(model.params[w] ** 2) for w in weights)
    return loss, {k: v + model.reg * model.params[k] if k in weights else v
                  for k, v in grads.items()}


def test_a_declared_l2_factor_and_the_hint_that_suggests_it():
    base = load_object(FC, argument="model")

    class FullL2(base):  # type: ignore[misc, valid-type]
        def loss(self, X, y=None):
            result = super().loss(X, y)
            return result if y is None else _l2_of_one(*result, self)

    FullL2.__name__ = "FullyConnectedNet"
    failure = deltacheck.check_model(FullL2, examples=1, oracles=FAST).failure
    assert failure is not None and failure["stage"] == "loss"
    assert "declare it with --l2 1" in failure["diagnosis"]["text"]
    assert deltacheck.check_model(FullL2, examples=2, oracles=FAST, l2=1.0).passed


def test_an_argument_fixed_by_the_user_sets_the_composition():
    result = deltacheck.check_model(FC, examples=2, oracles=FAST,
                                    args={"normalization": "layernorm", "hidden_dims": [3]})
    record = result.document["layers"][0]
    assert result.passed and record["params"]["compositions"] == [
        "affine - layernorm - relu - affine - softmax_loss"]


def test_a_loss_that_updates_its_params_fails():
    base = load_object(FC, argument="model")

    class Stepping(base):  # type: ignore[misc, valid-type]
        def loss(self, X, y=None):
            result = super().loss(X, y)
            if y is not None:
                self.params["b1"] = self.params["b1"] - 0.1 * result[1]["b1"]
            return result

    Stepping.__name__ = "FullyConnectedNet"
    failure = deltacheck.check_model(Stepping, examples=1, oracles=FAST).failure
    assert failure is not None and "changed params['b1']" in failure["message"]


def test_finite_differences_alone_judge_and_catch_a_wrong_gradient():
    assert deltacheck.check_model(FC, examples=2, oracles=("fd",)).passed
    wrong = _wrong(load_object(FC, argument="model"),
                   lambda loss, g: (loss, {**g, "W1": 1.001 * g["W1"]}))
    failure = deltacheck.check_model(wrong, examples=1, oracles=("fd",)).failure
    assert failure is not None and failure["gradient"] == "W1"
    assert "fd says" in failure["message"]


def test_the_selftest_command_runs_a_slips_module(tmp_path, capsys):
    slips = tmp_path / "two_slips.py"
    slips.write_text(f"import sys\nsys.path.insert(0, {str(MODELS.parent)!r})\n"
                     "from models.slips import SLIPS as ALL\n"
                     "SLIPS = {k: ALL[k] for k in ('reg_missing_on_last_layer', "
                     "'conv_reg_missing_on_W1')}\n")
    assert main(["selftest", "--models", str(slips), "--oracles", "torch,fd",
                 "--json", str(tmp_path / "selftest.json")]) == 0
    assert "attributed to the composition: 2 of 2" in capsys.readouterr().out
    doc = json.loads((tmp_path / "selftest-models.json").read_text())
    assert [r["cause"] for r in doc["slips"]] == ["composition", "composition"]


INLINE = '''
import numpy as np


class TwoLayerNet:
    def __init__(self, input_dim=3072, hidden_dim=100, num_classes=10, weight_scale=1e-3,
                 reg=0.0):
        self.reg = reg
        self.params = {"W1": weight_scale * np.ones((input_dim, hidden_dim)),
                       "b1": np.zeros(hidden_dim),
                       "W2": weight_scale * np.ones((hidden_dim, num_classes)),
                       "b2": np.zeros(num_classes)}

    def loss(self, X, y=None):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        a = X.reshape(len(X), -1) @ W1 + b1
        h = np.maximum(a, 0)
        scores = h @ W2 + b2
        if y is None:
            return scores
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        N = len(X)
        loss = -np.log(p[np.arange(N), y]).mean() + 0.5 * self.reg * ((W1**2).sum() + (W2**2).sum())
        d = p.copy()
        d[np.arange(N), y] -= 1
        d /= N
        dh = d @ W2.T * (a > 0)
        grads = {"W2": h.T @ d + self.reg * W2, "b2": d.sum(axis=0),
                 "W1": X.reshape(N, -1).T @ dh + self.reg * W1, "b1": dh.sum(axis=0) * SLIP}
        return loss, grads
'''


@pytest.mark.parametrize(("slip", "cause"), [(1.0, None), (1.01, "gradient")])
def test_a_two_layer_net_without_layer_functions(tmp_path, slip, cause):
    (tmp_path / "inline.py").write_text(INLINE + f"\nSLIP = {slip}\n")
    result = deltacheck.check_model(f"{tmp_path / 'inline.py'}:TwoLayerNet", examples=2,
                                    oracles=FAST)
    if cause is None:
        assert result.passed, result.failure
    else:
        assert result.failure is not None and result.failure["gradient"] == "b1"
        assert result.failure["diagnosis"]["cause"] == cause
        assert "cannot be told" in result.failure["diagnosis"]["text"]


def test_dropout_called_by_another_name_is_read_as_the_course_seeds_it(tmp_path):
    # the masks cannot be read back from a call of dropout_forward: the course's convention
    # (numpy seeded with dropout_param's seed, keep where rand < p) gives them
    package = tmp_path / "renamed"
    shutil.copytree(MODELS, package, ignore=shutil.ignore_patterns("slips.py", "__pycache__"))
    (package / "layers.py").write_text((ROOT / "examples" / "layers" / "layers.py").read_text())
    source = (package / "fc_net.py").read_text()
    source = source.replace("    dropout_forward,\n", "    dropout_forward as drop,\n")
    source = source.replace("= dropout_forward(out,", "= drop(out,")
    (package / "fc_net.py").write_text(source)
    spec = f"{package / 'fc_net.py'}:FullyConnectedNet"
    result = deltacheck.check_model(spec, examples=3, oracles=FAST,
                                    args={"dropout_keep_ratio": 0.6})
    assert result.passed, result.failure
    assert all("dropout" in c for c in result.document["layers"][0]["params"]["compositions"])
