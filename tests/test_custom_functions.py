"""Custom backward passes: deltacheck.Layer written against xp, torch.autograd.Function and
jax.custom_vjp (``deltacheck layer MODULE:NAME --as function``). Correct ones pass, seeded slips
fail with the gradient named, misbehaving functions get a verdict, bad options exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import deltacheck
from deltacheck.commands.cli import main
from deltacheck.core.loading import load_module

pytest.importorskip("torch")
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "functions"
FAST = {"examples": 10, "seed": 0, "oracles": ("torch", "fd")}
DENSE = {"inputs": {"x": ("N", "D"), "w": ("D", "M")}}


def _slips():
    return load_module(str(EXAMPLES / "slips.py"), argument="test")


def _function(backward, forward=None, signature=DENSE):
    def matmul(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x @ w
    return type("MatMul", (torch.autograd.Function,), {
        "forward": staticmethod(forward or matmul), "backward": staticmethod(backward),
        "deltacheck_signature": signature})


def _good(ctx, g):
    x, w = ctx.saved_tensors
    return g @ w.T, x.T @ g


def _failure(result):
    record = result.document["layers"][0]
    assert result.verdict == "fail", record
    return record["failures"][-1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_correct_function_passes_against_fd_and_torch(dtype):
    result = deltacheck.check_layer(_function(_good), kind="function", dtype=dtype, **FAST)
    record = result.document["layers"][0]
    assert result.passed, record
    assert record["judged_by"] == {"torch": 10, "fd": 10}
    assert record["kind"] == "function:MatMul"


def test_the_examples_pass():
    torch_fn = load_module(str(EXAMPLES / "torch_functions.py"), argument="test")
    assert deltacheck.check_layer(torch_fn.ScaledTanhLinear, kind="function", double=True,
                                  **FAST).passed
    layers = deltacheck.check_layer(str(EXAMPLES / "custom_layers.py"), **FAST)
    assert layers.passed and layers.document["layers"][0]["kind"] == "layer:rms_scale"
    assert layers.document["unplaced"] == []  # the Layer's own functions are placed


def test_a_correct_jax_custom_vjp_passes():
    pytest.importorskip("jax")
    jax_fn = load_module(str(EXAMPLES / "jax_functions.py"), argument="test")
    result = deltacheck.check_layer(jax_fn.softplus_scale, kind="function", examples=6,
                                    oracles=("jax", "fd"))
    assert result.passed and result.document["layers"][0]["judged_by"]["jax"] >= 1


@pytest.mark.parametrize(("backward", "gradient", "cause"), [
    (lambda ctx, g: (-_good(ctx, g)[0], _good(ctx, g)[1]), "dx", "sign"),
    (lambda ctx, g: (_good(ctx, g)[0], 2 * _good(ctx, g)[1]), "dw", "factor"),
    # float32 accumulation: too small for gradcheck's atol 1e-5, not for a float64 truth
    (lambda ctx, g: (_good(ctx, g)[0], _good(ctx, g)[1].float().double()), "dw", None),
])
def test_a_known_wrong_backward_fails(backward, gradient, cause):
    failure = _failure(deltacheck.check_layer(_function(backward), kind="function", **FAST))
    assert failure["gradient"] == gradient
    assert cause is None or failure["diagnosis"]["cause"] == cause


@pytest.mark.parametrize(("backward", "stage", "words"), [
    (lambda ctx, g: 1 / 0, "backward", "raised ZeroDivisionError"),
    (lambda ctx, g: (_good(ctx, g)[0] * float("nan"), _good(ctx, g)[1]), "gradient",
     "non-finite"),
    # torch itself refuses a gradient of the wrong shape
    (lambda ctx, g: (_good(ctx, g)[0][:1], _good(ctx, g)[1]), "backward", "invalid gradient"),
    (lambda ctx, g: (g.mul_(2) @ ctx.saved_tensors[1].T, None), "modified", "dout in place"),
])
def test_a_misbehaving_function_gets_a_verdict(backward, stage, words):
    failure = _failure(deltacheck.check_layer(_function(backward), kind="function", **FAST))
    assert failure["stage"] == stage and words in failure["message"], failure["message"]
    if "raised" in words or "invalid" in words:
        assert failure["diagnosis"]["cause"] == "raised"


def test_a_forward_that_raises_or_returns_two_outputs_gets_a_verdict():
    def two(ctx, x, w):
        return x @ w, x
    for forward in (lambda ctx, x, w: 1 / 0, two):
        failure = _failure(deltacheck.check_layer(_function(_good, forward), kind="function",
                                                  **FAST))
        assert failure["stage"] in ("raised", "forward")


def test_double_backward_fails_where_an_intermediate_is_saved():
    def forward(ctx, x, w):
        y = torch.tanh(x @ w)
        ctx.save_for_backward(x, w, y)  # y is neither input nor output: no second order
        return 2 * y

    def backward(ctx, g):
        x, w, y = ctx.saved_tensors
        da = 2 * (1 - y * y) * g
        return da @ w.T, x.T @ da

    fn = _function(backward, forward)
    assert deltacheck.check_layer(fn, kind="function", **FAST).passed
    failure = _failure(deltacheck.check_layer(fn, kind="function", double=True, **FAST))
    assert failure["stage"] == "double backward" and failure["gradient"].startswith("dd")
    assert failure["diagnosis"]["cause"] == "double backward"


def _layer(backward=None, vjp=None, forward=None, **kw):
    return deltacheck.Layer("bilinear", forward=forward or (lambda x, w, c, xp: c * (x @ w)),
                            inputs={"x": ("N", "D"), "w": ("D", "M")}, params={"c": [0.5, 2.0]},
                            backward=backward, vjp=vjp, **kw)


def test_a_custom_layer_with_a_vjp_or_backward():
    good = _layer(vjp=lambda dout, x, w, c: (c * dout @ w.T, c * x.T @ dout))
    result = deltacheck.check_layer(good, examples=10, oracles=("torch", "jax", "fd"))
    assert result.passed and set(result.document["layers"][0]["judged_by"]) == {
        "torch", "jax", "fd"}
    bad = _layer(backward=lambda dout, cache: (dout @ cache[1].T, cache[0].T @ dout))
    failure = _failure(deltacheck.check_layer(bad, **FAST))
    assert failure["diagnosis"]["cause"] == "factor" and failure["gradient"] == "dx"


def test_a_numpy_only_forward_is_judged_by_fd_and_says_so():
    layer = _layer(forward=lambda x, w, c, xp: c * np.dot(np.asarray(x), np.asarray(w)),
                   vjp=lambda dout, x, w, c: (c * dout @ w.T, c * x.T @ dout))
    record = deltacheck.check_layer(layer, **FAST).document["layers"][0]
    assert record["verdict"] == "pass" and record["judged_by"] == {"fd": 10}
    assert "Can't call numpy()" in record["oracles_skipped"]["torch"]
    declared = _layer(forward=layer.forward, vjp=layer.vjp, frameworks=("numpy",))
    record = deltacheck.check_layer(declared, **FAST).document["layers"][0]
    assert record["judged_by"] == {"fd": 10}
    assert "numpy only" in record["oracles_skipped"]["torch"]
    wrong = _layer(forward=layer.forward, vjp=lambda dout, x, w, c: (dout @ w.T, x.T @ dout),
                   frameworks=("numpy",))
    assert _failure(deltacheck.check_layer(wrong, **FAST))["gradient"] == "dx"


def test_a_signature_given_beside_the_function():
    fn = _function(_good, signature=None)
    assert deltacheck.check_layer(fn, kind="function", signature=DENSE, **FAST).passed
    with pytest.raises(deltacheck.DeltacheckError, match="deltacheck_signature"):
        deltacheck.check_layer(fn, kind="function", **FAST)


@pytest.mark.parametrize("bad", [
    {"name": "not an id"}, {"inputs": {}}, {"inputs": {"x": "N"}}, {"backward": None},
    {"params": {"c": []}}, {"sizes": {"N": (0, 3)}},
])
def test_a_bad_layer_declaration_says_what_to_fix(bad):
    args = {"name": "bilinear", "forward": lambda x, xp: x, "inputs": {"x": ("N",)},
            "backward": lambda dout, cache: dout, **bad}
    with pytest.raises(deltacheck.DeltacheckError):
        deltacheck.Layer(**args)


def test_the_command_checks_a_function_and_writes_its_report(tmp_path, capsys):
    out = ["--report", str(tmp_path / "l.html"), "--examples", "6", "--oracles", "torch,fd"]
    spec = f"{EXAMPLES / 'torch_functions.py'}:ScaledTanhLinear"
    assert main(["layer", spec, "--as", "function", "--dtype", "float32", *out]) == 0
    doc = json.loads((tmp_path / "layer.json").read_text())
    assert doc["layers"][0]["kind"] == "function:ScaledTanhLinear"
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("all agree")


@pytest.mark.parametrize(("args", "words"), [
    (["{ex}/torch_functions.py:ScaledTanhLinear", "--double"], "--as function"),
    (["{ex}/torch_functions.py:ScaledTanhLinear", "--signature", "x:Y"], "--as function"),
    (["{ex}/torch_functions.py:torch", "--as", "function"], "neither a torch"),
    (["{ex}/torch_functions.py", "--as", "function"], "name the function"),
    (["{ex}/torch_functions.py:Nope", "--as", "function"], "has no 'Nope'"),
    (["{ex}/torch_functions.py:ScaledTanhLinear", "--as", "function", "--signature",
      "{ex}/slips.py:Nope"], "--signature"),
    (["{ex}/torch_functions.py:ScaledTanhLinear", "--as", "function", "--signature",
      "{ex}/slips.py:C"], "must be a dict"),
    (["{ex}/torch_functions.py:ScaledTanhLinear", "--as", "function", "--signature",
      "nocolon"], "MODULE:NAME"),
])
def test_bad_function_options_are_one_line_exit_2(args, words, capsys, tmp_path):
    argv = ["layer", *[a.format(ex=EXAMPLES) for a in args], "--report",
            str(tmp_path / "l.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "Traceback" not in err


def test_a_function_without_a_signature_is_one_line_exit_2(tmp_path, capsys):
    (tmp_path / "bare.py").write_text(
        "import torch\nclass Bare(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, x):\n        return 2 * x\n"
        "    @staticmethod\n    def backward(ctx, g):\n        return 2 * g\n"
        "SIG = {'inputs': {'x': ('N', 3)}}\n")
    argv = ["layer", f"{tmp_path / 'bare.py'}:Bare", "--as", "function", "--report",
            str(tmp_path / "l.html"), "--examples", "4", "--oracles", "torch,fd"]
    assert main(argv) == 2
    assert "deltacheck_signature" in capsys.readouterr().err
    assert main([*argv, "--signature", f"{tmp_path / 'bare.py'}:SIG"]) == 0


@pytest.mark.parametrize("name", ["dense_float32_accumulation", "pair_grads_swapped",
                                  "dense_saved_input_modified", "softmax_sum_no_keepdim"])
def test_seeded_function_slips_are_caught(name):
    from deltacheck.layers.runner import Settings
    from deltacheck.layers.selftest import run

    doc = run({name: _slips().SLIPS[name]}, Settings(examples=20, oracles=("torch", "fd"),
                                                      shrink=False))
    assert doc["summary"]["verdict"] == "pass", doc["slips"]


@pytest.mark.slow
def test_every_seeded_function_slip_is_caught_and_the_correct_ones_pass(tmp_path):
    assert main(["selftest", "--functions", str(EXAMPLES / "slips.py"), "--examples", "30",
                 "--json", str(tmp_path / "s.json")]) == 0
    for fn in _slips().CORRECT.values():
        assert deltacheck.check_layer(fn, kind="function", examples=20).passed


@pytest.mark.slow
def test_a_jax_custom_vjp_double_backward_is_checked():
    pytest.importorskip("jax")
    jax_fn = load_module(str(EXAMPLES / "jax_functions.py"), argument="test")
    result = deltacheck.check_layer(jax_fn.softplus_scale, kind="function", double=True,
                                    examples=6, oracles=("jax", "fd"))
    assert result.passed and result.document["layers"][0]["judged_by"]["double"] == 6


def test_param_fixes_a_declared_hyperparameter():
    def forward(ctx, x, w, c):
        ctx.save_for_backward(x, w)
        return c * (x @ w)

    def backward(ctx, g):  # a slip: the scale is taken as 2 whatever was given
        x, w = ctx.saved_tensors
        return 2.0 * g @ w.T, 2.0 * x.T @ g, None

    fn = _function(backward, forward, {**DENSE, "params": {"c": 2.0}})
    assert deltacheck.check_layer(fn, kind="function", **FAST).passed
    failure = _failure(deltacheck.check_layer(fn, kind="function", params={"c": 3.0}, **FAST))
    assert failure["case"]["settings"] == {"c": 3.0} and failure["diagnosis"]["cause"] == "factor"


def test_selftest_takes_one_part_at_a_time(tmp_path, capsys):
    argv = ["selftest", "--layers", "--functions", "--json", str(tmp_path / "s.json")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "one selftest part" in err


def _replayed(tmp_path, spec: str, *words: str) -> tuple[str, int]:
    """Run ``deltacheck layer spec words`` (which fails), then its printed replay command."""
    import shlex

    out = ["--examples", "10", "--seed", "0", "--oracles", "torch,fd",
           "--json", str(tmp_path / "l.json"), "--report", str(tmp_path / "l.html")]
    assert main(["layer", spec, *words, *out]) == 1
    doc = json.loads((tmp_path / "l.json").read_text())
    replay = doc["layers"][0]["failures"][0]["replay"]
    args = [*shlex.split(replay)[1:], "--json", str(tmp_path / "again.json"),
            "--report", str(tmp_path / "again.html")]
    return replay, main(args)


def test_a_functions_failing_case_replays_with_its_own_command(tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text(f"from deltacheck.core.loading import load_module\n"
                    f"slips = load_module({str(EXAMPLES / 'slips.py')!r}, argument='test')\n"
                    f"DenseSign = slips.SLIPS['dense_wrong_sign'].function\n")
    replay, code = _replayed(tmp_path, f"{mine}:DenseSign", "--as", "function")
    assert "--as function " in replay and "function:" not in replay
    assert code == 1  # the same case fails again


def test_a_custom_layers_failing_case_replays_by_its_name(tmp_path):
    text = (EXAMPLES / "custom_layers.py").read_text()
    bad = tmp_path / "custom.py"
    bad.write_text(text.replace("dg = np.sum(dout * x / r, axis=0)",
                                "dg = 2 * np.sum(dout * x / r, axis=0)"))
    replay, code = _replayed(tmp_path, str(bad))
    assert f"{bad}:rms_scale --replay" in replay and "--as" not in replay
    assert code == 1
    # a deltacheck.Layer declares its kind: --as beside it is one line, exit 2
    assert main(["layer", f"{bad}:rms_scale", "--as", "affine"]) == 2
