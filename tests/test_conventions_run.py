"""Real code as it is written: a run checks an implementation in its own declared conventions
(weights (n_in, n_out), mean reduction, class labels, gradients only), and fails it when it is
wrong in them."""

import json
from pathlib import Path

import pytest

from deltacheck.commands import cli
from deltacheck.reports import common

EXAMPLES = Path(__file__).parents[1] / "examples" / "implementations"


def _run(tmp_path, impl, *extra):
    out = [f"--report={tmp_path / 'r.html'}", f"--json={tmp_path / 'r.json'}",
           f"--junit-xml={tmp_path / 'r.xml'}"]
    code = cli.main(["run", "--impl", impl, "--examples", "12", "--seed", "1",
                     "--oracles", "torch,fd", *extra, *out])
    doc = json.loads((tmp_path / "r.json").read_text()) if (tmp_path / "r.json").exists() else None
    return code, doc


@pytest.mark.parametrize(("name", "losses"), [("fc_net", ["ce"]),
                                              ("per_sample_network", ["mse_sigmoid"]),
                                              ("grads_only", ["mse"])])
def test_each_style_passes_with_only_its_declared_attributes(tmp_path, name, losses):
    code, doc = _run(tmp_path, f"{EXAMPLES / name}.py:backprop")
    assert code == 0, doc["summary"]
    assert doc["run"]["losses"] == losses
    assert doc["run"]["conventions"]["provides"]


def test_what_is_not_provided_is_neither_passed_nor_failed(tmp_path):
    code, doc = _run(tmp_path, f"{EXAMPLES / 'grads_only'}.py:backprop")
    assert code == 0
    verdicts = {(q["q"], q["verdict"]) for c in doc["cases"] for o in c["oracles"].values()
                for q in common.quantities(o, len(c["arch"]["widths"]) - 1)}
    assert ("deltas", "not provided") in verdicts and ("loss", "not provided") in verdicts
    assert not any(q == "deltas" and v in ("pass", "fail") for q, v in verdicts)


def test_a_mean_reduced_bug_fails_and_is_named_a_factor(tmp_path):
    source = (EXAMPLES / "fc_net.py").read_text()
    assert "dx /= N" in source
    (tmp_path / "bad.py").write_text(source.replace("dx /= N", "pass"))
    code, doc = _run(tmp_path, f"{tmp_path / 'bad.py'}:backprop")
    assert code == 1
    kinds = {f["diagnosis"]["kind"] for f in doc["failures"] if f["diagnosis"]}
    assert kinds == {"factor"}


def test_declaring_the_wrong_convention_fails(tmp_path):
    # the course net averages its loss: called a sum, every quantity is off by N
    code, _ = _run(tmp_path, f"{EXAMPLES / 'fc_net'}.py:backprop", "--reduction", "sum")
    assert code == 1


def test_the_reproduce_command_carries_the_convention_options(tmp_path):
    source = (EXAMPLES / "fc_net.py").read_text()
    (tmp_path / "bad.py").write_text(source.replace("dx /= N", "pass"))
    code, doc = _run(tmp_path, f"{tmp_path / 'bad.py'}:backprop", "--weight-layout", "in_out")
    assert code == 1 and "--weight-layout in_out" in doc["failures"][0]["repro"]


@pytest.mark.parametrize(("option", "value"), [("--reduction", "avg"), ("--weight-layout", "cols"),
                                               ("--provides", "deltas,velocity")])
def test_a_wrong_convention_option_is_one_line_and_exit_2(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as stop:
        _run(tmp_path, f"{EXAMPLES / 'fc_net'}.py:backprop", option, value)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and option in err[-1]


def test_a_wrong_declared_attribute_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "odd.py").write_text(
        "from deltacheck import reference_impl\n"
        "def backprop(*args):\n    return reference_impl.backprop(*args)\n"
        "backprop.reduction = 'avg'\n")
    code, _ = _run(tmp_path, f"{tmp_path / 'odd.py'}:backprop")
    assert code == 2
    assert "backprop.reduction='avg' must be 'sum' or 'mean'" in capsys.readouterr().err
