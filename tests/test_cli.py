"""The command line: exit codes 0/1/2, outputs written, minimal failures with a replay command."""

import json
import shlex
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from deltacheck.commands import cli
from tests.helpers import random_case

PLANTED = str(Path(__file__).parent / "impls" / "planted.py")


def run(tmp_path, *args):
    out = [f"--report={tmp_path / 'r.html'}", f"--json={tmp_path / 'r.json'}",
           f"--junit-xml={tmp_path / 'j.xml'}"]
    return cli.main(["run", *args, *out])


def results(tmp_path):
    return json.loads((tmp_path / "r.json").read_text())


def test_reference_implementation_passes_and_writes_three_outputs(tmp_path, capsys):
    assert run(tmp_path, "--examples", "30", "--seed", "1") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "all agree: 30 cases, oracles torch, jax, fd"
    doc = results(tmp_path)
    assert doc["summary"]["cases"] == 30 and doc["run"]["seed"] == 1
    assert {r["loss"] for r in doc["summary"]["by_loss_oracle"]} == {"mse", "bce", "ce"}
    assert (tmp_path / "r.html").stat().st_size > 0
    assert ET.parse(tmp_path / "j.xml").getroot().get("failures") == "0"


def test_planted_bug_exits_1_with_a_minimal_network_and_a_replay(tmp_path, capsys):
    code = run(tmp_path, "--impl", f"{PLANTED}:tanh_derivative_of_a", "--examples", "60",
               "--seed", "3", "--activations", "tanh,relu", "--losses", "mse")
    out = capsys.readouterr().out
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("DISAGREEMENT")
    doc = results(tmp_path)
    minimal = [f for f in doc["failures"] if f["minimal"]]
    assert len(minimal) == 1
    # the verdict names the cause: tanh's h' written for z, fed a
    assert "activation_derivative at δ[0] (hidden, tanh)" in last and "1 − z²" in last
    assert minimal[0]["diagnosis"]["first_wrong"] == {"q": "hidden_delta", "layer": 0}
    # shrunk: one tanh layer is all it takes
    assert minimal[0]["case"]["activations"] == ["tanh"]
    assert minimal[0]["case"]["batch"] == 1
    assert doc["summary"]["cases"] >= 60  # every budgeted case plus the minimal one
    # the printed command reproduces exactly that failure
    replay = shlex.split(minimal[0]["repro"])
    assert replay[:2] == ["deltacheck", "run"]
    assert run(tmp_path, *replay[2:]) == 1
    again = results(tmp_path)
    assert again["summary"]["cases"] == 1
    assert again["failures"][0]["case"] == minimal[0]["case"]
    assert again["failures"][0]["message"] == minimal[0]["message"]
    junit = ET.parse(tmp_path / "j.xml").getroot()
    assert int(junit.get("failures")) >= 1


@pytest.mark.parametrize("name, words", [
    ("raises_on_ce", "raised RuntimeError: softmax not implemented"),
    ("nan_when_deep", "= nan, but"),
])
def test_misbehaving_implementations_get_a_verdict(tmp_path, capsys, name, words):
    assert run(tmp_path, "--impl", f"{PLANTED}:{name}", "--examples", "45", "--seed", "0") == 1
    assert words in capsys.readouterr().out


def test_declared_activations_are_the_only_ones_drawn(tmp_path):
    assert run(tmp_path, "--impl", f"{PLANTED}:only_tanh_and_relu", "--examples", "30") == 0
    drawn = {a for c in results(tmp_path)["cases"] for a in c["arch"]["activations"]}
    assert drawn <= {"tanh", "relu"}


def test_declared_activations_that_are_not_registered_are_named(tmp_path, capsys):
    impl = tmp_path / "isru_net.py"
    impl.write_text("from deltacheck.reference_impl import backprop as _backprop\n\n"
                    "def backprop(*args):\n    return _backprop(*args)\n\n"
                    "backprop.activations = {'tanh', 'isru'}\n")
    assert run(tmp_path, "--impl", f"{impl}:backprop", "--examples", "10") == 0
    err = capsys.readouterr().err
    assert "--impl declares 'isru', which is not registered and will not be drawn" in err
    assert "--activation MODULE:NAME" in err
    assert run(tmp_path, "--impl", f"{PLANTED}:only_tanh_and_relu", "--examples", "5") == 0
    assert "not registered" not in capsys.readouterr().err


def test_user_activation_joins_the_registry(tmp_path, capsys):
    assert run(tmp_path, "--activation", f"{PLANTED}:SQUARE", "--activations", "square",
               "--examples", "15") == 0
    assert run(tmp_path, "--activation", f"{PLANTED}:WRONG_SQUARE", "--activations",
               "wrong_square", "--examples", "15", "--losses", "bce") == 1
    assert "wrong_square" in capsys.readouterr().out


def test_float32_run_passes_its_tolerances(tmp_path):
    assert run(tmp_path, "--dtype", "float32", "--examples", "30") == 0
    assert results(tmp_path)["run"]["dtype"] == "float32"


@pytest.mark.parametrize("args, words", [
    (["--impl", "nosuchmodule:backprop"], "--impl: cannot import 'nosuchmodule'"),
    (["--impl", "reference_impl"], "must look like MODULE:NAME"),
    (["--impl", "reference_impl:nothing"], "has no attribute 'nothing'"),
    (["--impl", f"{PLANTED}:NOT_AN_ACTIVATION"], "not a callable"),
    (["--examples", "0"], "argument --examples: 0 must be at least 1"),
    (["--examples", "many"], "argument --examples: 'many' is not a whole number"),
    (["--losses", "hinge"], "argument --losses: unknown hinge"),
    (["--oracles", "torch,magic"], "argument --oracles: unknown magic"),
    (["--activations", "swish"], "--activations has unknown swish"),
    (["--activation", f"{PLANTED}:NOT_AN_ACTIVATION"], "lacks name, h, dh"),
    (["--replay", "missing.json"], "--replay 'missing.json': no such file"),
    (["--dtype", "float16"], "argument --dtype: invalid choice"),
])
def test_bad_usage_is_one_line_and_exit_2(tmp_path, capsys, args, words):
    try:
        code = run(tmp_path, *args)
    except SystemExit as exc:  # argparse's own checks exit from inside the parser
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_console_script_never_shows_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deltacheck", "run", "--impl", "x.py:f"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "deltacheck: error: --impl: no file 'x.py'; give an existing .py file"
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.fixture
def bad_inputs(tmp_path, rng):
    """Files that a careless user might hand to the command line."""
    case = random_case(rng, (2, 3, 2), ("tanh",), "ce", dtype="float32")
    (tmp_path / "f32.json").write_text(case.dumps())
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00not json\x80")
    (tmp_path / "bad_widths.json").write_text(json.dumps({**case.to_json(), "widths": ["a", 1]}))
    (tmp_path / "unregistered.json").write_text(
        json.dumps({**case.to_json(), "activations": ["swish"]}))
    (tmp_path / "impls.py").write_text(textwrap.dedent("""
        import sys
        from deltacheck import reference_impl
        def int_acts(*args):
            return reference_impl.backprop(*args)
        int_acts.activations = 5
        def str_acts(*args):
            return reference_impl.backprop(*args)
        str_acts.activations = "tanh"
        class Act:
            name = "letters"
            kinks = "abc"
            def h(self, a, xp):
                return a
            def dh(self, a, xp):
                return xp.ones_like(a)
        BAD_KINKS = Act()
    """))
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(4)\n")
    (tmp_path / "deltacheck_test_exits_module.py").write_text("raise SystemExit(5)\n")
    return tmp_path


@pytest.mark.parametrize("args, words", [
    (["--replay", "{d}/binary.json"], "is not UTF-8 text; give a case JSON"),
    (["--replay", "{d}/bad_widths.json"], "must hold whole numbers"),
    (["--replay", "{d}/unregistered.json"],
     "unregistered activation 'swish'; add it with --activation MODULE:NAME"),
    (["--replay", "{d}/f32.json", "--dtype", "float64"],
     "--dtype float64: the --replay case is float32; leave --dtype out"),
    (["--impl", "{d}/impls.py:int_acts"], "--impl: the implementation's activations attribute"),
    (["--impl", "{d}/impls.py:str_acts"], "got str 'tanh'"),
    (["--impl", "{d}/exits.py:f"], "--impl: running '{d}/exits.py' called sys.exit(4)"),
    (["--impl", "deltacheck_test_exits_module:f"], "called sys.exit(5)"),
    (["--activation", "{d}/impls.py:BAD_KINKS"], "kinks='abc' must be a sequence of finite"),
    (["--losses", "ce", "--max-width", "1"], "--max-width 1 leaves ce with one class"),
])
def test_bad_files_and_combinations_are_one_line_and_exit_2(bad_inputs, capsys, monkeypatch,
                                                            args, words):
    monkeypatch.chdir(bad_inputs)
    args = [a.format(d=bad_inputs) for a in args]
    try:
        code = run(bad_inputs, *args, "--examples", "3", "--oracles", "fd")
    except SystemExit as exc:  # what used to escape from a user's module
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and words.format(d=bad_inputs) in err, err


def test_replay_keeps_its_dtype_when_dtype_is_left_out_or_the_same(bad_inputs, capsys):
    for extra in ([], ["--dtype", "float32"]):
        assert run(bad_inputs, "--replay", str(bad_inputs / "f32.json"), "--oracles", "fd",
                   *extra) == 0
        assert results(bad_inputs)["run"]["dtype"] == "float32"


def test_outputs_must_not_overwrite_each_other(tmp_path, capsys):
    same = tmp_path / "out"
    code = cli.main(["run", "--examples", "3", "--oracles", "fd", f"--report={same}",
                     f"--json={tmp_path}/x/../out", f"--junit-xml={tmp_path / 'j.xml'}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("deltacheck: error: --report and --json both write") and \
        "give each output its own path" in err
    assert not same.exists()  # refused before anything was written


def test_a_clash_inside_the_registry_is_exit_2(tmp_path, capsys, monkeypatch):
    from deltacheck.core import activations as registry

    monkeypatch.setitem(registry.REGISTRY, "square", object())  # left over from elsewhere
    assert run(tmp_path, "--activation", f"{PLANTED}:SQUARE", "--examples", "3") == 2
    err = capsys.readouterr().err
    assert err == "deltacheck: error: --activation: activation name 'square' is already registered\n"
