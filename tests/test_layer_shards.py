"""deltacheck layer --shard K/N, --workers N and merge: the merged document is the one-process
run's; every failing case is saved and replays alone (exit 1 while wrong, 0 once fixed); bad
options are one line, exit 2."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from deltacheck.commands.cli import main
from deltacheck.layers.parallel import shard_indices
from deltacheck.layers.replay import case_data, load_case
from deltacheck.strategies import layer_cases

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "layers"
FAST = ["--examples", "4", "--seed", "5", "--oracles", "torch"]

LAYERS = '''
import numpy as np


def affine_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return (dout @ w.T).reshape(x.shape), x.reshape(len(x), -1).T @ dout, dout.sum(0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0) * SLOPE


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1 - cache**2)


SLOPE = {slope}
'''


def _file(tmp_path: Path, slope: float = 2.0) -> str:
    path = tmp_path / f"layers_{str(slope).replace('.', '_')}.py"
    path.write_text(LAYERS.format(slope=slope))
    return str(path)


def _run(tmp_path: Path, name: str, *words: str) -> tuple[int, dict]:
    out = tmp_path / name
    code = main(["layer", *words, "--report", str(out / "l.html")])
    return code, json.loads((out / "layer.json").read_text())


def _same(doc: dict) -> dict:
    """The document without what differs between runs of the same campaign: times, sharding."""
    run = {k: v for k, v in doc["run"].items()
           if k not in ("wall_time_s", "started", "shard", "merged_from", "indices")}
    layers = [{k: v for k, v in r.items() if k != "wall_time_s"} for r in doc["layers"]]
    for r in layers:
        r["failures"] = [{k: v for k, v in f.items() if k != "replay"} for f in r["failures"]]
    return {**doc, "run": run, "layers": layers}


def test_shard_indices_split_the_layers_disjointly():
    parts = [shard_indices(7, (k, 3)) for k in (1, 2, 3)]
    assert sorted(i for part in parts for i in part) == list(range(7)) and parts[0] == [0, 3, 6]
    assert shard_indices(2, (3, 3)) == [] and shard_indices(3, None) == [0, 1, 2]


def test_merged_shards_equal_the_one_process_run(tmp_path, capsys):
    spec = _file(tmp_path)
    code, one = _run(tmp_path, "one", spec, *FAST)
    assert code == 1 and one["summary"]["failed"] == ["relu_forward/relu_backward"]
    codes = [_run(tmp_path, f"s{k}", spec, *FAST, "--shard", f"{k}/2")[0] for k in (1, 2)]
    assert sorted(codes) == [0, 1]
    merged = tmp_path / "m"
    assert main(["merge", str(tmp_path / "s1" / "layer.json"), str(tmp_path / "s2" / "layer.json"),
                 "--report", str(merged / "r.html")]) == 1
    doc = json.loads((merged / "results.json").read_text())
    assert doc["run"]["merged_from"] and doc["run"]["indices"] == [0, 1, 2]
    assert _same(doc) == _same(one)
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("DISAGREEMENT in 1 of 3")


@pytest.mark.parametrize(("shards", "words"), [
    (["s1"], "layers [1] of the file are in none"),
    (["s1", "s1"], "is in both"),
    (["s1", "other"], "seed differ"),
])
def test_merge_refuses_what_is_not_one_run(shards, words, tmp_path, capsys):
    spec = _file(tmp_path)
    _run(tmp_path, "s1", spec, *FAST, "--shard", "1/2")
    _run(tmp_path, "other", spec, "--examples", "4", "--seed", "6", "--oracles", "torch",
         "--shard", "2/2")
    capsys.readouterr()
    files = [str(tmp_path / s / "layer.json") for s in shards]
    assert main(["merge", *files, "--report", str(tmp_path / "m" / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err


@pytest.mark.parametrize("words", [["--shard", "3/2"], ["--shard", "x"], ["--workers", "0"],
                                   ["--shard", "2/2"],  # one layer: nothing for shard 2
                                   ["--replay", "{tmp}/none.json"],
                                   ["--replay", "{tmp}/bad.json"],
                                   ["--replay", "{tmp}/case.json", "--shard", "1/2"]])
def test_bad_options_are_one_line_and_exit_2(words, tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"schema": "deltacheck-results/1"}')
    (tmp_path / "case.json").write_text("{}")
    spec = f"{_file(tmp_path)}:relu_forward,relu_backward"
    words = [w.format(tmp=tmp_path) for w in words]
    try:
        code = main(["layer", spec, "--as", "relu", *FAST, *words,
                     "--report", str(tmp_path / "o" / "l.html")])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deltacheck"), err


def test_a_failing_case_is_saved_and_replays_alone(tmp_path, capsys):
    wrong, right = _file(tmp_path, 2.0), _file(tmp_path, 1.0)
    code, doc = _run(tmp_path, "run", f"{wrong}:relu_forward,relu_backward", "--as", "relu",
                     *FAST)
    assert code == 1
    failure = doc["layers"][0]["failures"][-1]
    assert "data" not in failure["case"]  # saved apart, in the cases folder
    saved = sorted((tmp_path / "run" / "layer-cases").glob("case-*.json"))
    assert saved and str(saved[-1]) in " ".join(f["replay"] for f in doc["layers"][0]["failures"])
    assert "replay this case" in (tmp_path / "run" / "l.html").read_text()
    words = shlex.split(failure["replay"])
    assert words[:2] == ["deltacheck", "layer"] and "--replay" in words
    out = ["--report", str(tmp_path / "replay" / "l.html")]
    assert main([*words[1:], *out]) == 1  # still wrong
    replayed = json.loads((tmp_path / "replay" / "layer.json").read_text())
    assert replayed["summary"]["cases"] == 1 and replayed["run"]["replay"]
    assert replayed["layers"][0]["failures"][-1]["gradient"] == "dx"
    words[2] = words[2].replace(wrong, right)  # the same case against the fixed layer
    assert main([*words[1:], *out]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("all agree: 1 layer, 1 case")
    with pytest.raises(ValueError):  # a replay is not a shard of a run
        from deltacheck.layers.merge import check

        check(replayed, "replay.json")


@settings(max_examples=20, deadline=None)
@given(layer_cases("conv_bn_relu", dtype="float32"))
def test_a_saved_case_loads_exactly(case):
    path = Path(f"/tmp/deltacheck-case-{case.seed}.json")
    path.write_text(json.dumps(case_data(case)))
    try:
        back = load_case(path)
    finally:
        path.unlink()
    assert back.kind == case.kind and back.region == case.region and back.dtype == case.dtype
    for name, value in case.inputs.items():
        assert back.inputs[name].dtype == value.dtype
        assert np.array_equal(back.inputs[name], value)
        assert back.inputs[name].flags.c_contiguous == value.flags.c_contiguous
    assert json.dumps(case_data(back)) == json.dumps(case_data(case))


@pytest.mark.slow
def test_workers_give_the_one_process_document(tmp_path):
    spec = str(EXAMPLES / "buggy_layers.py")
    docs = []
    for name, extra in (("one", []), ("two", ["--workers", "2"])):
        subprocess.run([sys.executable, "-m", "deltacheck", "layer", spec, *FAST, *extra,
                        "--report", str(tmp_path / name / "l.html")], check=False,
                       capture_output=True, timeout=900)
        docs.append(json.loads((tmp_path / name / "layer.json").read_text()))
    assert docs[0]["summary"]["verdict"] == "fail"
    assert _same(docs[0]) == _same(docs[1])
