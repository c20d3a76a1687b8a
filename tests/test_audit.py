"""``deltacheck audit``: correct activations pass every check; the document, report and CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from deltacheck.audit import derivative as audit_derivative
from deltacheck.audit import frameworks as audit_frameworks
from deltacheck.audit import runner as audit
from deltacheck.audit import shape as audit_shape
from deltacheck.commands.cli import main
from deltacheck.core import activations as registry

pytest.importorskip("torch")
pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "activations"
ORACLES = ("torch", "jax", "fd")


def plain(act):
    """A built-in as a plain object: the oracles then run its h under each namespace."""
    return SimpleNamespace(name=f"plain_{act.name}", h=act.h, dh=act.dh, kinks=act.kinks)


@pytest.mark.parametrize("builtin", registry.BUILTINS, ids=lambda a: a.name)
def test_builtins_as_plain_objects_pass_checks_1_to_4(builtin):
    act = plain(builtin)
    evals = audit_derivative.setup(act, ORACLES)
    kinks = audit_shape.check_kinks(act, act.kinks, evals)
    assert kinks["verdict"] == "pass", kinks["warnings"]
    assert kinks["found"] == list(act.kinks)
    record, _ = audit_derivative.check_derivative(act, ORACLES, act.kinks, batches=2, seed=0)
    assert record["verdict"] == "pass", record["message"]
    assert record["points"] > 40_000
    f = audit_frameworks.check_frameworks(act, audit_derivative.grid()[::40],
                                          ["numpy", "torch", "jax"])
    assert f["verdict"] == "pass", f
    r = audit_shape.check_range(act)
    assert r["float64"]["h"] == [-1e4, 1e4] and r["float64"]["dh"] == [-1e4, 1e4]


def test_a_whole_audit_passes_and_writes_the_json_shape_of_the_readme(tmp_path):
    out = tmp_path / "audit.json"
    code = main(["audit", f"{EXAMPLES / 'swish.py'}:SWISH", "tanh", "--examples", "3",
                 "--batches", "2", "--seed", "3", "--json", str(out),
                 "--report", str(tmp_path / "audit.html")])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "deltacheck-audit/1"
    assert [a["name"] for a in doc["activations"]] == ["swish", "tanh"]
    for a in doc["activations"]:
        assert a["verdict"] == "pass"
        d = a["derivative"]
        assert d["verdict"] == "pass" and d["points"] > 40_000
        assert set(d["worst"]) >= {"a", "dh", "torch", "jax", "fd", "err"}
        assert set(a["kinks"]) >= {"declared", "found"}
        for dtype in ("float64", "float32"):
            assert a["finite"][dtype]["h"] == [-1e4, 1e4]
            assert a["finite"][dtype]["dh"] == [-1e4, 1e4]
        assert a["frameworks"]["verdict"] == "pass"
        assert a["networks"]["verdict"] == "pass" and a["networks"]["cases"] >= 3
        assert a["networks"]["activations"] == [a["name"], "identity"]
    html = (tmp_path / "audit.html").read_text()
    assert "<svg" in html and "swish" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # self-contained


def _audit_example(spec, tmp_path, examples=6):
    out = tmp_path / "a.json"
    code = main(["audit", spec, "--examples", str(examples), "--batches", "2", "--seed", "0",
                 "--json", str(out), "--report", str(tmp_path / "a.html")])
    return code, json.loads(out.read_text())["activations"][0]


def test_example_band_fails_on_its_band(tmp_path):
    code, a = _audit_example(f"{EXAMPLES / 'band.py'}:SWISH_BAND", tmp_path, examples=0)
    assert code == 1 and a["verdict"] == "fail"
    lo, hi = a["derivative"]["failing_ranges"][0]
    assert 1.0 < lo < 1.01 and 1.49 < hi < 1.5


def test_example_relu6_passes_with_a_kink_warning(tmp_path):
    code, a = _audit_example(f"{EXAMPLES / 'relu6.py'}:RELU6", tmp_path)
    assert code == 0 and a["verdict"] == "pass"
    assert a["kinks"]["verdict"] == "warn" and a["kinks"]["undeclared"] == [6.0]


def test_example_naive_softplus_fails_and_overflows_above_709_78(tmp_path):
    code, a = _audit_example(f"{EXAMPLES / 'naive.py'}:NAIVE_SOFTPLUS", tmp_path, examples=0)
    assert code == 1 and a["derivative"]["verdict"] == "fail"
    assert abs(a["derivative"]["worst"]["a"]) <= 20  # the headline: a point a reader knows
    assert a["derivative"]["worst_beyond"][0]["dh"] == "nan"
    assert "logaddexp" in a["derivative"]["message"]  # the overflow fix, as run's diagnosis
    assert a["finite"]["float64"]["h"][1] == pytest.approx(709.78, abs=0.01)
    assert a["finite"]["float32"]["h"][1] == pytest.approx(88.72, abs=0.01)


def test_cli_prints_one_line_per_check_and_the_verdict(tmp_path, capsys):
    main(["audit", "relu", "--examples", "0", "--batches", "1", "--seed", "0",
          "--json", str(tmp_path / "a.json"), "--report", str(tmp_path / "a.html")])
    out = capsys.readouterr().out.splitlines()
    for check in ("derivative", "kinks", "frameworks", "range", "networks"):
        assert any(line.startswith(f"  {check}") for line in out), check
    assert any("at 0: slopes 0 | 1; dh 0, torch 0, jax 0" in line for line in out)
    assert out[-1].startswith("FAIL relu: networks")  # --examples 0 leaves check 5 unpassed


def test_too_few_network_examples_name_audits_own_option(tmp_path, capsys):
    code = main(["audit", "tanh", "--examples", "2", "--json", str(tmp_path / "a.json"),
                 "--report", str(tmp_path / "a.html")])
    err = capsys.readouterr().err
    assert code == 2 and "--examples 2" in err and "3 losses" in err and "--losses" not in err


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deltacheck", "audit", "no_module_q:X",
                           "--json", str(tmp_path / "a.json"), "--report",
                           str(tmp_path / "a.html")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("spec", ["nope", "deltacheck.activations:get",
                                  f"{EXAMPLES / 'naive.py'}:MISSING"])
def test_cli_bad_specs_exit_2_before_any_work(spec, tmp_path, capsys):
    assert main(["audit", "tanh", spec, "--json", str(tmp_path / "a.json"),
                 "--report", str(tmp_path / "a.html")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("deltacheck: error: audit") and err.count("\n") == 1
    assert not (tmp_path / "a.json").exists() or not (tmp_path / "a.json").read_text()


def _docs() -> str:
    """The pages that show the audit: the activation to copy, and the commands."""
    return "".join((ROOT / "docs" / page).read_text(encoding="utf-8")
                   for page in ("activations.md", "audit.md"))


def test_docs_audit_snippet_runs(tmp_path):
    readme = _docs()
    code = re.search(r"```python\n# my_act.py\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "my_act.py").write_text(code)
    assert "deltacheck audit my_act.py:SWISH" in readme
    rc = main(["audit", f"{tmp_path / 'my_act.py'}:SWISH", "--examples", "3", "--batches", "1",
               "--seed", "0", "--json", str(tmp_path / "a.json"),
               "--report", str(tmp_path / "a.html")])
    assert rc == 0


def test_docs_audit_commands_parse_and_run(tmp_path):
    readme = _docs()
    (tmp_path / "my_act.py").write_text(
        re.search(r"```python\n# my_act.py\n(.*?)```", readme, re.S).group(1))
    commands = dict.fromkeys(tuple(line.split("||")[0].split("#")[0].split()[2:])
                             for line in readme.splitlines() if line.startswith("deltacheck audit "))
    assert len(commands) >= 2
    for words in commands:
        specs = [str(tmp_path / w) if w.startswith("my_act.py") else
                 str(ROOT / w) if w.startswith("examples/") else w for w in words]
        rc = main(["audit", *specs, "--examples", "0", "--batches", "0", "--seed", "0",
                   "--json", str(tmp_path / "a.json"), "--report", str(tmp_path / "a.html")])
        assert rc == 1, words  # --examples 0 leaves check 5 unpassed; anything else is rc 2
        doc = json.loads((tmp_path / "a.json").read_text())
        verdicts = {a["name"]: a["derivative"]["verdict"] for a in doc["activations"]}
        assert verdicts.pop("swish_band", "fail") == "fail"
        assert set(verdicts.values()) == {"pass"}, verdicts


def test_report_escapes_user_text_and_marks_nonfinite():
    doc = audit.run([f"{EXAMPLES / 'naive.py'}:NAIVE_SWISH"],
                    audit.AuditConfig(examples=0, batches=0, seed=0))
    doc["activations"][0]["spec"] = "<script>x</script>"
    from deltacheck.reports.audit import render

    html = render(doc)
    assert "<script>x" not in html and "&lt;script&gt;" in html
    assert "nan on [-10000, -703.3]" in html  # dh turns nan below −703.23 (float64)
    assert np.isclose(doc["activations"][0]["finite"]["float64"]["dh"][0], -703.227, atol=1e-3)


def test_oracles_fd_alone_audits_without_torch_and_jax(tmp_path, capsys):
    rc = main(["audit", "relu", "--oracles", "fd", "--examples", "3", "--batches", "1",
               "--seed", "0", "--json", str(tmp_path / "a.json"),
               "--report", str(tmp_path / "a.html")])
    assert rc == 0
    a = json.loads((tmp_path / "a.json").read_text())["activations"][0]
    assert set(a["derivative"]["oracles"]) == {"fd"}
    assert "torch" not in a["frameworks"] and a["networks"]["oracles"] == ["fd"]
    assert "torch, jax not checked" in capsys.readouterr().out


def test_the_json_follows_the_report_as_in_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["audit", "tanh", "--examples", "3", "--batches", "1",
                     "--report", str(tmp_path / "out" / "x.html")])
    assert code == 0
    assert (tmp_path / "out" / "audit.json").is_file()
    assert not (tmp_path / "deltacheck-reports").exists()
