"""What a new user meets at the command line: usage, paths, missing extras, Ctrl-C, file imports."""

import json
import shlex
import sys
import textwrap
from pathlib import Path

import pytest

from deltacheck import oracles
from deltacheck.commands import cli
from tests.helpers import INTERRUPTING

PLANTED = str(Path(__file__).parent / "impls" / "planted.py")


def fast(*args):
    """A cheap run: few cases, finite differences only (no framework import)."""
    return cli.main(["run", "--oracles", "fd", "--max-layers", "2", "--max-width", "3", *args])


def test_bare_deltacheck_prints_usage_and_the_commands(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: deltacheck") and "run" in err


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("deltacheck ")


def test_fewer_examples_than_losses_is_refused(tmp_path, capsys):
    assert fast("--examples", "1", "--report", str(tmp_path / "r.html")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--examples 1 is fewer than the 3 losses" in err and "give --examples 3" in err


def test_without_torch_and_jax_the_hint_names_only_fd(monkeypatch, capsys):
    def missing(name):
        return None if name == "fd" else f"the {name} oracle needs {name}"
    monkeypatch.setattr(oracles, "unavailable_reason", missing)
    assert cli.main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.rstrip().endswith("or leave them out with --oracles fd"), err
    assert "jax,fd" not in err


def test_without_jinja2_the_hint_is_said_once_and_no_empty_report_is_left(tmp_path, monkeypatch,
                                                                          capsys):
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now fails
    import deltacheck.reports

    for name in ("html", "env"):  # jinja2 is imported by env, which html imports
        monkeypatch.delitem(sys.modules, f"deltacheck.reports.{name}", raising=False)
        monkeypatch.delattr(deltacheck.reports, name, raising=False)
    assert fast("--examples", "3", "--report", str(tmp_path / "r.html")) == 0
    out = capsys.readouterr().out
    assert out.count("pip install 'deltacheck[report]'") == 1, out
    assert not (tmp_path / "r.html").exists()
    assert (tmp_path / "results.json").exists()


def test_json_and_junit_follow_the_report(tmp_path):
    assert fast("--examples", "3", "--report", str(tmp_path / "out" / "r.html")) == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"r.html", "results.json",
                                                              "junit.xml"}


def test_failing_cases_are_saved_per_run_and_a_replay_saves_nothing(tmp_path, capsys):
    args = ["--impl", f"{PLANTED}:tanh_derivative_of_a", "--examples", "20", "--seed", "3",
            "--activations", "tanh", "--losses", "mse"]
    assert fast(*args, "--json", str(tmp_path / "a.json"), "--report", str(tmp_path / "a.html")) == 1
    assert fast(*args, "--json", str(tmp_path / "b.json"), "--report", str(tmp_path / "b.html")) == 1
    doc = json.loads((tmp_path / "a.json").read_text())
    saved = sorted((tmp_path / "a-cases").iterdir())
    assert saved and all(p.name.startswith("case-") for p in saved)
    assert len(saved) == len({f["repro"] for f in doc["failures"]})
    assert (tmp_path / "b-cases").is_dir()
    minimal = next(f for f in doc["failures"] if f["minimal"])
    capsys.readouterr()
    replay = shlex.split(minimal["repro"])
    assert cli.main([*replay[1:], "--json", str(tmp_path / "c.json"),
                     "--report", str(tmp_path / "c.html")]) == 1
    out = capsys.readouterr().out
    assert "seed:" not in out and f"replay: {replay[5]}" in out
    assert not (tmp_path / "c-cases").exists()
    assert sorted((tmp_path / "a-cases").iterdir()) == saved
    again = json.loads((tmp_path / "c.json").read_text())
    assert again["failures"][0]["repro"] == minimal["repro"]  # the same file, not a copy


def test_the_campaign_writes_no_file_itself(tmp_path, monkeypatch):
    from deltacheck import campaign
    from tests.impls import planted

    monkeypatch.chdir(tmp_path)
    config = campaign.Config(impl=planted.tanh_derivative_of_a, impl_spec="x:y", examples=6,
                             seed=3, losses=["mse"], activations=["tanh"], oracles=["fd"],
                             max_layers=2, max_width=3, failures_dir=str(tmp_path / "cases"))
    outcome = campaign.run(config)
    assert outcome.exit_code == 1
    assert list(tmp_path.iterdir()) == []


def test_an_implementation_file_may_import_its_neighbours_when_called(tmp_path):
    (tmp_path / "mynet_helpers_for_test.py").write_text(
        "from deltacheck import reference_impl\nbackprop = reference_impl.backprop\n")
    (tmp_path / "mynet.py").write_text(textwrap.dedent("""
        def backprop(*args):
            import mynet_helpers_for_test  # imported at call time, beside this file
            return mynet_helpers_for_test.backprop(*args)
    """))
    assert fast("--impl", f"{tmp_path / 'mynet.py'}:backprop", "--examples", "3",
                "--report", str(tmp_path / "r.html")) == 0




@pytest.mark.parametrize("k", [0, 4])
def test_ctrl_c_exits_130_with_one_line_and_the_cases_so_far(tmp_path, capsys, k):
    impl = tmp_path / f"interrupting_{k}.py"
    # k cases are k + 1 calls: the first case of a slice also probes a case of its shapes
    impl.write_text(INTERRUPTING.replace("LIMIT", str(k + (k > 0))))
    code = fast("--impl", f"{impl}:backprop", "--examples", "30", "--seed", "1",
                "--report", str(tmp_path / "r.html"))
    captured = capsys.readouterr()
    assert code == 130, captured.err
    said = [line for line in captured.err.splitlines() if not line.startswith("checking ")]
    assert said == [f"deltacheck: interrupted after {k} of 30 cases: no verdict; results so "
                    f"far: {tmp_path / 'r.html'}"]
    assert "Traceback" not in captured.err + captured.out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["run"]["interrupted"] is True
    assert doc["summary"]["cases"] == k
    module = sys.modules[next(n for n, m in sys.modules.items()
                              if getattr(m, "__file__", None) == str(impl))]
    # nothing ran after the interrupt: none was swallowed
    assert module.calls["n"] == k + (k > 0) + 1


def test_ctrl_c_inside_an_oracle_is_not_swallowed(tmp_path, capsys):
    (tmp_path / "act.py").write_text(textwrap.dedent("""
        from deltacheck import Activation
        calls = {"n": 0}
        def h(a, xp):
            calls["n"] += 1
            if calls["n"] > 40:
                raise KeyboardInterrupt
            return a * a
        SQUARE = Activation("square", h=h, dh=lambda a, xp: 2 * a)
    """))
    code = fast("--activation", f"{tmp_path / 'act.py'}:SQUARE", "--activations", "square",
                "--max-layers", "3", "--examples", "60",
                "--report", str(tmp_path / "r.html"))
    assert code == 130
    assert "interrupted after" in capsys.readouterr().err


def test_outputs_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    from deltacheck.results.output import write_text

    mask = os.umask(0o022)
    try:
        path = write_text(tmp_path / "r.json", "{}\n")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_real_sigint_ends_the_run_with_130_and_its_results(tmp_path):
    import signal
    import subprocess
    import time

    (tmp_path / "slow.py").write_text(textwrap.dedent("""
        import time
        from deltacheck import reference_impl
        def backprop(*args):
            time.sleep(0.02)
            return reference_impl.backprop(*args)
    """))
    proc = subprocess.Popen(
        [sys.executable, "-m", "deltacheck", "run", "--impl", f"{tmp_path / 'slow.py'}:backprop",
         "--oracles", "fd", "--max-layers", "2", "--examples", "3000",
         "--report", str(tmp_path / "r.html")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    assert proc.stderr.readline().startswith("checking mse")  # the campaign has started
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert out == "" and err.strip().startswith("deltacheck: interrupted after")
    assert err.count("\n") == 1 and "Traceback" not in err
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["run"]["interrupted"] and 0 < doc["summary"]["cases"] < 3000
