"""``--workers auto`` never makes a run slower: one process where a second would not pay."""

import json

import pytest

from deltacheck.campaign import cores
from deltacheck.commands import cli


@pytest.mark.parametrize(("examples", "busy", "mine", "expected"), [
    (20, 0.0, 16, 1),      # shorter than a worker's start-up
    (600, 0.0, 2, 1),      # about 6 s: a second process would start when it is nearly over
    (3000, 0.0, 2, 2),     # long, and a free core
    (3000, 1.0, 2, 1),     # another CPU-bound job holds one of the two cores
    (3000, 0.6, 2, 1),     # more than half a core busy counts as busy
    (5000, 0.2, 16, 6),    # as many as pay: one more each further 9 s of work
    (5000, 14.0, 16, 2),
])
def test_auto_picks_free_cores_that_pay(examples, busy, mine, expected):
    slices = -(-examples // 50)
    workers, why = cores.auto_workers(examples, slices, busy=busy, mine=mine)
    assert workers == expected, why
    assert f"of {mine} cores free" in why


def test_auto_never_exceeds_the_slices():
    assert cores.auto_workers(100_000, 3, busy=0.0, mine=64)[0] == 3


def test_busy_elsewhere_sees_another_cpu_bound_process():
    import subprocess
    import sys
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert cores.busy_elsewhere(0.3) >= 0.7
    finally:
        spin.kill()
        spin.wait()


def test_a_short_auto_run_uses_one_process(tmp_path, capsys):
    out = [f"--report={tmp_path / 'r.html'}", f"--json={tmp_path / 'r.json'}",
           f"--junit-xml={tmp_path / 'r.xml'}"]
    code = cli.main(["run", "--examples", "20", "--seed", "1", "--oracles", "torch,fd",
                     "--workers", "auto", *out])
    doc = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and doc["run"]["workers"] == 1
    assert "workers: 1 (" in capsys.readouterr().err


def test_a_run_too_short_for_a_second_process_does_not_sample_the_load(monkeypatch):
    def sampled(*args):
        raise AssertionError("the load was sampled")
    monkeypatch.setattr(cores, "busy_elsewhere", sampled)
    workers, why = cores.auto_workers(20, 3, mine=2)
    assert workers == 1 and "would not pay" in why
    with pytest.raises(AssertionError, match="sampled"):  # a long run does sample it
        cores.auto_workers(3000, 3, mine=2)
