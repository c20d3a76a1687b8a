"""deltacheck layer: whole files, one pair, bad specs, the outputs, the Python surfaces, and every
seeded layer slip caught while the correct layers pass."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

import deltacheck
from deltacheck.commands.cli import main
from deltacheck.layers.runner import Settings
from deltacheck.layers.selftest import load_slips
from deltacheck.layers.selftest import run as run_slips
from deltacheck.strategies import layer_cases
from deltacheck.testing import assert_layer_agrees

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "layers"
FAST = ["--examples", "8", "--seed", "0", "--oracles", "torch,fd"]
BUGGY = {"affine_forward/affine_backward": "dw", "batchnorm_forward/batchnorm_backward": "dx",
         "layernorm_forward/layernorm_backward": "dgamma",
         "dropout_forward/dropout_backward": "dx",
         "conv_forward_naive/conv_backward_naive": "dx",
         "max_pool_forward_naive/max_pool_backward_naive": "dx", "softmax_loss": "dx",
         # the sandwiches call the slipped affine and convolution
         "affine_relu_forward/affine_relu_backward": "dw",
         "conv_relu_pool_forward/conv_relu_pool_backward": "dx"}


def _outputs(tmp_path: Path) -> list[str]:
    return ["--report", str(tmp_path / "layer.html"), "--json", str(tmp_path / "layer.json"),
            "--junit-xml", str(tmp_path / "junit.xml")]


def test_the_correct_layers_pass(tmp_path, capsys):
    assert main(["layer", str(EXAMPLES / "layers.py"), *FAST, *_outputs(tmp_path)]) == 0
    doc = json.loads((tmp_path / "layer.json").read_text())
    assert doc["schema"] == "deltacheck-layer/1" and doc["summary"]["verdict"] == "pass"
    assert {r["kind"] for r in doc["layers"]} >= {"affine", "relu", "act:tanh", "batchnorm",
                                                  "layernorm", "dropout", "conv", "max_pool",
                                                  "spatial_batchnorm", "spatial_groupnorm",
                                                  "softmax_loss", "svm_loss"}
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("all agree")


def test_the_buggy_file_fails_and_names_layer_gradient_and_cause(tmp_path, capsys):
    assert main(["layer", str(EXAMPLES / "buggy_layers.py"), *FAST, *_outputs(tmp_path)]) == 1
    doc = json.loads((tmp_path / "layer.json").read_text())
    failed = {r["name"]: r["failures"][-1] for r in doc["layers"] if r["verdict"] == "fail"}
    assert {name: f["gradient"] for name, f in failed.items()} == BUGGY
    assert failed["max_pool_forward_naive/max_pool_backward_naive"]["diagnosis"]["cause"] == \
        "routing"
    assert failed["softmax_loss"]["diagnosis"]["cause"] == "factor"
    assert all(f["minimal"] and f["repro"].startswith("deltacheck layer") for f in failed.values())
    suite = ET.parse(tmp_path / "junit.xml").getroot()
    assert int(suite.get("tests")) == len(doc["layers"]) and int(suite.get("failures")) == 9
    html = (tmp_path / "layer.html").read_text()
    assert "routing" in html and "minimal failing case" in html
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("DISAGREEMENT in 9 of") and "max_pool" in last
    assert failed["affine_relu_forward/affine_relu_backward"]["diagnosis"]["attribution"][
        "layer"] == "affine"


def test_one_pair_and_one_loss_by_name(tmp_path):
    pair = f"{EXAMPLES / 'buggy_layers.py'}:affine_forward,affine_backward"
    assert main(["layer", pair, "--as", "affine", *FAST, *_outputs(tmp_path)]) == 1
    loss = f"{EXAMPLES / 'layers.py'}:svm_loss"
    assert main(["layer", loss, "--as", "svm_loss", *FAST, *_outputs(tmp_path)]) == 0


@pytest.mark.parametrize("spec", ["no/such/file.py", "{ex}:nothing,here", "{ex}:affine_forward",
                                  "{ex}:relu_forward,relu_backward --as nokind"])
def test_a_bad_spec_is_one_line_and_exit_2(spec, tmp_path, capsys):
    words = spec.format(ex=EXAMPLES / "layers.py").split()
    assert main(["layer", *words, *FAST, *_outputs(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deltacheck: error:")


def _affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def _raises(dout, cache):
    raise RuntimeError("not written yet")


def _nan(dout, cache):
    x, _ = cache
    return np.full(x.shape, np.nan), dout.T @ x.reshape(len(x), -1), dout.sum(0)


def _modifies(dout, cache):
    x, w = cache
    x *= 2  # the forward cached the caller's array
    return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum(0)


@pytest.mark.parametrize(("backward", "words"), [(_raises, "raised RuntimeError"),
                                                 (_nan, "non-finite"), (_nan, "dw"),
                                                 (_modifies, "changed its input")])
def test_a_broken_layer_fails_with_the_reason(backward, words):
    def forward(x, w, b):  # caches x itself, so that _modifies changes the caller's x
        return x.reshape(x.shape[0], -1) @ w + b, (x, w)

    result = deltacheck.check_layer((forward, backward), kind="affine", examples=3,
                                    oracles=("torch",))
    assert not result.passed and result.verdict == "fail"
    failure = result.document["layers"][0]["failures"][-1]
    assert words in failure["message"] + failure["gradient"] or words == "dw"
    assert "<html" in result._repr_html_()


def test_check_layer_with_jax_passes_a_correct_pair():
    def backward(dout, cache):
        x, w = cache
        return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum(0)

    result = deltacheck.check_layer((_affine_forward, backward), kind="affine", examples=4,
                                    oracles=("torch", "jax", "fd"))
    assert result.passed, result
    assert result.document["layers"][0]["judged_by"]["jax"] >= 1


def _relu_forward(x):
    return np.maximum(x, 0), x


def _relu_backward_wrong(dout, cache):
    return dout * (cache > 0) + 1.0


@settings(max_examples=5, deadline=None)
@given(layer_cases("relu"))
def test_assert_layer_agrees_fails_on_a_wrong_backward(case):
    with pytest.raises(AssertionError, match="diagnosis"):
        assert_layer_agrees(case, _relu_forward, _relu_backward_wrong, oracles=("torch",))


def test_every_seeded_slip_is_caught_and_no_correct_layer_is():
    config = Settings(examples=20, seed=0, oracles=("torch", "fd"), shrink=False)
    doc = run_slips(load_slips(str(EXAMPLES / "slips.py")), config)
    missed = [r["slip"] for r in doc["slips"] if not r["caught"]]
    assert doc["summary"]["slips"] >= 25 and not missed, missed
    correct = deltacheck.check_layer(str(EXAMPLES / "layers.py"), examples=20,
                                     oracles=("torch", "fd"))
    assert correct.passed, correct


def test_an_unplaced_pair_is_named_forward_then_backward():
    from deltacheck.layers.document import unplaced_hints

    hints = unplaced_hints("l.py", ["affine_relu_forward", "affine_relu_backward", "odd_forward"])
    assert [h["hint"] for h in hints] == [
        "l.py:affine_relu_forward,affine_relu_backward --as KIND",
        "l.py:odd_forward,BACKWARD --as KIND"]


def test_a_gradient_with_its_inputs_entries_in_another_shape_is_named_reshaped():
    pytest.importorskip("torch")
    from deltacheck.layers.diagnosis import diagnose
    from deltacheck.layers.discovery import LayerSpec
    from deltacheck.layers.draws import LayerCase
    from deltacheck.layers.judging import check_case
    from examples.layers.slips import SLIPS

    slip = SLIPS["affine_dx_not_reshaped"]
    spec = LayerSpec("affine", slip.forward, slip.backward, "affine_forward", "backward")
    rng = np.random.default_rng(0)
    # x (1, 1, 1): dx (1, 1) also has the shape of x summed over an axis; the entries say more
    for shape in ((1, 1, 1), (2, 3, 2)):
        D = int(np.prod(shape[1:]))
        case = LayerCase("affine", "float64", {"x": rng.standard_normal(shape),
                                               "w": rng.standard_normal((D, 2)),
                                               "b": rng.standard_normal(2)}, {}, 0)
        outcome = check_case(spec, case, ["torch"])
        d = diagnose(case, outcome)
        assert d["cause"] == "transposed or reshaped" and d["gradient"] == "dx", d
