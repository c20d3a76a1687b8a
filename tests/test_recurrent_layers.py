"""The recurrent kinds: the course-style example agrees with every oracle, every seeded slip is
caught and named (across time steps, gate order, mask, repeated indices), and a backward that
changes an upstream gradient in place is reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deltacheck.commands.cli import main
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.judging import check_case
from deltacheck.layers.runner import Settings
from deltacheck.layers.selftest import load_slips
from deltacheck.layers.selftest import run as run_slips
from deltacheck.oracles.layers import forward, get_kind
from deltacheck.oracles.layers.kinds import RECURRENT
from tests.layer_cases import central_differences, draw_cases, run_course_layer
from tests.test_layer_reference import ORACLES, _by_path, _disagrees, assert_close, truth

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "layers"
rnn = _by_path(EXAMPLES / "rnn_layers.py")
SLIPS = load_slips(str(EXAMPLES / "rnn_slips.py"))
CAUSES = {  # the diagnosis each slip gets on the case it shrinks to
    "rnn_backward_hidden_not_carried": "across time steps",
    "rnn_backward_drops_last_dh": "across time steps",
    "rnn_backward_weights_overwritten": "across time steps",
    "lstm_step_backward_gates_ifgo": "gate order",
    "lstm_step_backward_dprev_c_without_f": "missing path",
    "lstm_backward_cell_not_carried": "across time steps",
    "word_embedding_backward_assigns": "repeated indices",
    "temporal_softmax_loss_ignores_mask_in_dx": "mask",
    "temporal_softmax_loss_not_divided_by_n": "factor",
}


def _functions(kind: str) -> tuple:
    k = get_kind(kind)
    return getattr(rnn, k.forward_name), (None if k.loss else getattr(rnn, k.backward_names[0]))


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("kind", RECURRENT)
def test_the_example_matches_the_reference(kind, oracle, rng):
    forward_fn, backward_fn = _functions(kind)
    for case in draw_cases(kind, rng):
        run = run_course_layer(kind, forward_fn, backward_fn, case, rng)
        want_out, _ = forward(kind, "numpy", case.inputs, run.ref_params)
        assert_close(run.out, want_out, tol="example", what=f"{kind} out ({case.label})")
        want = truth(oracle, kind, case.inputs, run.ref_params, run.dout)
        for name, value in run.grads.items():
            assert_close(value, want[name], tol="fd" if oracle == "fd" else "example",
                         what=f"{kind} {name} ({case.label}, {oracle})")


def test_lstm_gates_are_in_the_course_order_i_f_o_g():
    x, h, c = np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0)
    Wx, Wh = np.zeros((1, 4)), np.zeros((1, 4))
    b = np.array([50.0, -50.0, 50.0, 0.5])  # i = 1, f = 0, o = 1, g = tanh(0.5)
    out, _ = forward("lstm_step", "numpy", {"x": x, "prev_h": h, "prev_c": c, "Wx": Wx,
                                            "Wh": Wh, "b": b}, {})
    assert np.allclose(out[1], np.tanh(0.5)) and np.allclose(out[0], np.tanh(np.tanh(0.5)))


def test_the_embedding_adds_up_repeated_words_and_the_loss_respects_the_mask():
    W, words = np.arange(6.0).reshape(3, 2), np.array([[2, 2, 0]])
    dout = np.ones((1, 3, 2))
    grads = central_differences("word_embedding", {"W": W}, {"x": words}, dout)
    assert np.allclose(grads["dW"], [[1, 1], [0, 0], [2, 2]])
    x = np.random.default_rng(0).standard_normal((2, 2, 3))
    params = {"y": np.array([[0, 1], [2, 0]]), "mask": np.array([[True, False], [False, False]])}
    dx = central_differences("temporal_softmax_loss", {"x": x}, params, 1.0)["dx"]
    assert np.all(dx[0, 1] == 0) and np.all(dx[1] == 0) and np.any(dx[0, 0] != 0)


@pytest.mark.parametrize("oracle", ORACLES)
@pytest.mark.parametrize("name", list(SLIPS))
def test_every_recurrent_slip_disagrees_with_the_reference(name, oracle, rng):
    slip = SLIPS[name]
    assert _disagrees(slip.kind, slip.forward, slip.backward, oracle, rng), \
        f"slip {name!r} ({slip.description}) agrees with {oracle} on every drawn case"


def test_the_example_file_passes(tmp_path, capsys):
    args = ["layer", str(EXAMPLES / "rnn_layers.py"), "--examples", "6", "--seed", "0",
            "--oracles", "torch,fd", "--report", str(tmp_path / "layer.html"),
            "--json", str(tmp_path / "layer.json")]
    assert main(args) == 0
    doc = json.loads((tmp_path / "layer.json").read_text())
    assert {r["kind"] for r in doc["layers"]} == set(RECURRENT)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("all agree")


def test_every_slip_is_caught_and_named():
    doc = run_slips(SLIPS, Settings(examples=10, seed=0, oracles=("torch", "fd")))
    assert len(SLIPS) >= 8 and doc["summary"]["caught"] == len(SLIPS), \
        [r["slip"] for r in doc["slips"] if not r["caught"]]
    causes = {r["slip"]: r["cause"] for r in doc["slips"]}
    assert {name: causes[name] for name in CAUSES} == CAUSES


def _lstm_step_backward_changing_dnext_c(dnext_h, dnext_c, cache):
    dnext_c += dnext_h  # in place: the caller's array changes
    return rnn.lstm_step_backward(dnext_h, dnext_c - dnext_h, cache)


def test_a_backward_that_changes_dnext_c_in_place_is_reported(rng):
    from deltacheck.layers.draws import LayerCase

    case = draw_cases("lstm_step", rng)[0]
    spec = LayerSpec("lstm_step", rnn.lstm_step_forward, _lstm_step_backward_changing_dnext_c,
                     "lstm_step_forward", "lstm_step_backward")
    outcome = check_case(spec, LayerCase("lstm_step", "float64", case.inputs, {}, 0),
                         ["torch"])
    assert outcome.verdict == "fail" and outcome.stage == "modified"
    assert "changed dnext_c in place" in outcome.message


@pytest.mark.parametrize("kind", ["rnn_step", "rnn", "lstm_step", "lstm"])
def test_a_saturated_correct_layer_passes_and_its_floor_names_every_gradient(kind, rng):
    from deltacheck.layers.draws import LayerCase
    from deltacheck.layers.recurrent_floors import saturation_scale

    case = draw_cases(kind, rng)[1]  # T = 1, weights ×6: tanh and the gates at 0 or ±1
    forward_fn, backward_fn = _functions(kind)
    spec = LayerSpec(kind, forward_fn, backward_fn, forward_fn.__name__, backward_fn.__name__)
    outcome = check_case(spec, LayerCase(kind, "float64", case.inputs, {}, 0), ["torch", "fd"])
    assert outcome.verdict == "pass", outcome.message
    out, _ = forward(kind, "numpy", case.inputs, {})
    scale = saturation_scale(kind, case.inputs, np.ones(out.shape))
    assert scale is not None and set(scale) == set(get_kind(kind).grads)
    assert saturation_scale("temporal_affine", case.inputs, np.ones(out.shape)) is None
