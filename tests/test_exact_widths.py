"""``--widths``: exactly the network a user trains; only its values are drawn and shrunk, and a
failure at real size is stored as its seed and worst entries, yet replays."""

import json
import shlex
from pathlib import Path

import numpy as np
import pytest

from deltacheck.campaign import exact
from deltacheck.commands import cli


def _run(tmp_path, *extra, name="r"):
    out = [f"--report={tmp_path / (name + '.html')}", f"--json={tmp_path / (name + '.json')}",
           f"--junit-xml={tmp_path / (name + '.xml')}"]
    code = cli.main(["run", "--seed", "2", "--oracles", "torch,fd", *extra, *out])
    path = tmp_path / (name + ".json")
    return code, json.loads(path.read_text()) if path.exists() else None


def test_every_case_has_exactly_the_widths_and_activations(tmp_path):
    code, doc = _run(tmp_path, "--widths", "9,5,4,3", "--activations", "relu,tanh",
                     "--examples", "9")
    assert code == 0, doc["summary"]
    assert doc["run"]["widths"] == [9, 5, 4, 3]
    assert {(tuple(c["arch"]["widths"]), tuple(c["arch"]["activations"]))
            for c in doc["cases"]} == {((9, 5, 4, 3), ("relu", "tanh"))}
    assert len({c["arch"]["batch"] for c in doc["cases"]}) > 1  # the batch is drawn


def test_one_activation_serves_every_hidden_layer(tmp_path):
    code, doc = _run(tmp_path, "--widths", "6,4,4,2", "--activations", "sigmoid",
                     "--examples", "3", "--losses", "bce")
    assert code == 0 and doc["cases"][0]["arch"]["activations"] == ["sigmoid", "sigmoid"]


@pytest.mark.parametrize(("args", "fix"), [
    (["--widths", "784,30,10", "--activations", "relu,tanh"], "one name for all of them or 1"),
    (["--widths", "784,30,10"], "give --activations"),
    (["--widths", "784"], "two or more whole numbers"),
    (["--widths", "784,x,10"], "two or more whole numbers"),
    (["--widths", "5,3,1", "--activations", "tanh", "--losses", "ce"], "one class"),
])
def test_a_wrong_widths_option_is_one_line_and_exit_2(tmp_path, capsys, args, fix):
    try:
        code, _ = _run(tmp_path, *args, "--examples", "3")
    except SystemExit as stop:
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert fix in err[-1]


def test_a_failure_at_real_size_is_stored_as_its_seed_and_replays(tmp_path):
    code, doc = _run(tmp_path, "--impl", "deltacheck.bugs:slope_dropped", "--widths",
                     "784,30,10", "--activations", "tanh", "--examples", "3", "--losses", "mse")
    assert code == 1
    minimal = [f for f in doc["failures"] if f["minimal"]]
    assert minimal and minimal[0]["case"]["widths"] == [784, 30, 10]  # never shrunk
    for f in doc["failures"]:
        assert f["compact"] and f["values"] == {} and "weights" not in f["case"]
        assert isinstance(f["case"]["seed"], int)
        worst = [q for o in f["oracles"].values() for q in o["quantities"] if "worst" in q]
        assert worst and all("impl_value" in q and "oracle_value" in q for q in worst)
    assert (tmp_path / "r.json").stat().st_size < 300_000  # the case alone would be 2 MB
    words = shlex.split(minimal[0]["repro"])
    replay = words[words.index("--replay") + 1]
    assert len(Path(replay).read_text()) < 300  # the seed, the widths, the batch
    code, again = _run(tmp_path, "--impl", "deltacheck.bugs:slope_dropped", "--replay", replay,
                       name="again")
    assert code == 1 and again["failures"][0]["message"] == minimal[0]["message"]


def test_a_seed_regenerates_the_same_case():
    one = exact.exact_case((7, 5, 3), ("elu",), "ce", "float64", 4, 123)
    two = exact.regenerate(json.loads(one.dumps()))
    for a, b in zip((*one.weights, *one.biases, one.x, one.t),
                    (*two.weights, *two.biases, two.x, two.t), strict=True):
        np.testing.assert_array_equal(a, b)
    assert two.seed == 123 and two.widths == (7, 5, 3)


@pytest.mark.parametrize(("widths", "acts", "loss", "batch"), [
    ((100, 9, 3), ("tanh",), "ce", 5), ((70, 66, 2), ("relu",), "bce", 3), ((65, 4), (), "mse", 2)])
def test_jax_at_real_size_agrees_with_torch(widths, acts, loss, batch):
    # wider than jax_large.LARGE: the real widths, not a square bucket of 128 × 128 per layer
    from deltacheck.judging.check import activation_objects
    from deltacheck.oracles import jax_large, jax_oracle, torch_oracle

    case = exact.exact_case(widths, acts, loss, "float64", batch, 11)
    assert jax_large.large(case.weights, case.x)
    args = (list(case.weights), list(case.biases), activation_objects(case.activations),
            case.loss, case.x, case.t)
    got, ref = jax_oracle.gradients(*args), torch_oracle.gradients(*args)
    assert got.loss == pytest.approx(ref.loss, rel=1e-12, abs=1e-12)
    for key in ("deltas", "grad_weights", "grad_biases"):
        for g, r in zip(getattr(got, key), getattr(ref, key), strict=True):
            assert g.shape == r.shape
            np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(r).max()))
