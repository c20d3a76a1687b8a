"""Workers, shards and merge: however a campaign is shared out, its results are the same."""

import json
import os
import re
import shlex
import tempfile
import time
from pathlib import Path

import pytest

from deltacheck import campaign
from deltacheck.campaign import planning
from deltacheck.commands import cli
from deltacheck.core.loading import load_implementation

PLANTED = str(Path(__file__).parent / "impls" / "planted.py")
README = Path(__file__).parents[1] / "README.md"


@pytest.fixture
def small_slices(monkeypatch):
    # five cases a slice: a 30-case campaign is then six slices, as a large one would be
    monkeypatch.setattr(planning, "SLICE_CASES", 5)


def _run(folder: Path, name: str, *args: str) -> tuple[int, dict]:
    out = [f"--report={folder / (name + '.html')}", f"--json={folder / (name + '.json')}",
           f"--junit-xml={folder / (name + '.xml')}"]
    code = cli.main(["run", *args, *out])
    return code, json.loads((folder / (name + ".json")).read_text())


def _case_files_apart(failures: list) -> list:
    # each run saves its failing cases beside its own JSON: only that path may differ
    return [{**f, "repro": re.sub(r"--replay \S+-cases/case-", "--replay case-", f["repro"])}
            for f in failures]


def _same_results(a: dict, b: dict) -> None:
    assert a["cases"] == b["cases"]
    assert _case_files_apart(a["failures"]) == _case_files_apart(b["failures"])
    assert a["summary"] == b["summary"]
    assert a["minimal_failures"] == b["minimal_failures"]


BUGGY = ("--impl", f"{PLANTED}:tanh_derivative_of_a", "--activations", "tanh,relu",
         "--losses", "mse,bce", "--oracles", "torch", "--seed", "7")


def test_shards_merge_into_the_unsharded_run(tmp_path, small_slices, capsys):
    code, whole = _run(tmp_path, "whole", *BUGGY, "--examples", "30")
    assert code == 1 and whole["summary"]["failed_cases"] > 0
    assert len(whole["minimal_failures"]) == 2  # one minimal network per loss
    codes = [_run(tmp_path, f"s{k}", *BUGGY, "--examples", "30", "--shard", f"{k}/3")[0]
             for k in (1, 2, 3)]
    assert 1 in codes
    parts = [str(tmp_path / f"s{k}.json") for k in (1, 2, 3)]
    merged_out = [f"--json={tmp_path / 'm.json'}", f"--report={tmp_path / 'm.html'}",
                  f"--junit-xml={tmp_path / 'm.xml'}"]
    assert cli.main(["merge", *parts, *merged_out]) == 1  # a disagreement fails the merge too
    merged = json.loads((tmp_path / "m.json").read_text())
    _same_results(merged, whole)
    assert merged["run"]["merged_from"] == parts
    # a missing shard, a shard given twice, or another campaign's shard is refused
    capsys.readouterr()
    assert cli.main(["merge", *parts[:2], *merged_out]) == 2
    assert "in none of the files" in capsys.readouterr().err
    assert cli.main(["merge", *parts, parts[0], *merged_out]) == 2
    assert "give each shard once" in capsys.readouterr().err
    _run(tmp_path, "other", *BUGGY[:-1], "8", "--examples", "30", "--shard", "1/3")
    assert cli.main(["merge", str(tmp_path / "other.json"), *parts[1:], *merged_out]) == 2
    assert "seed differ" in capsys.readouterr().err
    # given only --report, the merged JSON and JUnit go beside it, as for run
    assert cli.main(["merge", *parts, f"--report={tmp_path / 'beside' / 'm.html'}"]) == 1
    assert {p.name for p in (tmp_path / "beside").iterdir()} == {"m.html", "results.json",
                                                                 "junit.xml"}


def test_two_workers_give_the_same_results_as_one(tmp_path, small_slices):
    args = ("--examples", "20", "--seed", "3", "--oracles", "torch,fd")
    code1, one = _run(tmp_path, "one", *args)
    code2, two = _run(tmp_path, "two", *args, "--workers", "2")
    assert code1 == code2 == 0
    _same_results(one, two)
    assert two["run"]["workers"] == 2 and len(two["run"]["slices"]) == 6  # 7, 7, 6 cases


def test_no_more_processes_start_than_there_are_slices(tmp_path, small_slices, monkeypatch):
    from deltacheck.campaign import parallel

    asked = []
    prestart = parallel.prestart
    monkeypatch.setattr(parallel, "prestart",
                        lambda workers, oracles: asked.append(workers) or prestart(workers, oracles))
    args = ("--seed", "3", "--oracles", "torch,fd", "--workers", "16")
    code, doc = _run(tmp_path, "many", "--examples", "20", *args)
    assert code == 0 and len(doc["run"]["slices"]) == 6 and doc["run"]["workers"] == 16
    code, doc = _run(tmp_path, "one", "--examples", "5", "--losses", "mse", *args)
    assert code == 0 and len(doc["run"]["slices"]) == 1
    code, doc = _run(tmp_path, "shard", "--examples", "20", "--shard", "2/4", *args)
    assert code == 0 and len(doc["run"]["slices"]) == 2
    assert asked == [6, 1, 2]  # one slice: this process alone, none to wait for


def test_a_worker_that_dies_loses_no_result(tmp_path, small_slices):
    args = ("--examples", "20", "--seed", "3", "--oracles", "torch,fd")
    _, one = _run(tmp_path, "one", *args)
    # the implementation ends any worker process on its first case: this one checks it all
    mark = Path(tempfile.gettempdir(), f"deltacheck-test-worker-died-{os.getpid()}")
    mark.unlink(missing_ok=True)
    code, two = _run(tmp_path, "two", *args, "--workers", "2",
                     "--impl", f"{PLANTED}:dies_in_a_worker")
    assert mark.exists(), "the worker took a slice and died"
    mark.unlink()
    assert code == 0
    _same_results(one, {**two, "run": one["run"]})


def test_a_worker_that_cannot_start_leaves_its_share_to_this_process(tmp_path, small_slices,
                                                                     monkeypatch, capsys):
    args = ("--examples", "20", "--seed", "3", "--oracles", "torch,fd")
    _, one = _run(tmp_path, "one", *args)

    def no_more_processes(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("multiprocessing.process.BaseProcess.start", no_more_processes)
    capsys.readouterr()
    code, two = _run(tmp_path, "two", *args, "--workers", "3")
    assert code == 0
    _same_results(one, two)
    err = capsys.readouterr().err
    assert err.count("--workers: a worker process could not start (BlockingIOError") == 2
    assert "Traceback" not in err


def test_a_worker_that_fails_leaves_its_share_to_the_others(small_slices, capsys):
    # the worker cannot load the implementation (a module only this process has): it says so
    # and exits; this process checks every slice
    from deltacheck.campaign import parallel

    config = campaign.Config(impl=load_implementation(cli.DEFAULT_IMPL),
                             impl_spec="no_such_module:f", seed=3, oracles=["torch", "fd"],
                             workers=2)
    slices = campaign.plan(20, list(config.losses))
    acts = planning.drawn_activations(config)
    here = parallel.run_slices(config, 3, slices, acts, lambda *args: None)
    assert [o.index for o in here] == [s.index for s in slices]
    assert sum(len(o.records) for o in here) == 20
    assert {r["verdict"] for o in here for r in o.records} == {"pass"}
    err = capsys.readouterr().err
    assert "a worker process failed and left its share to the others" in err
    assert "no_such_module" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, fix", [
    (["--workers", "0"], "at least 1"),
    (["--workers", "many"], "not a whole number"),
    (["--shard", "3/2"], "K/N with 1 ≤ K ≤ N"),
    (["--shard", "1"], "K/N with 1 ≤ K ≤ N"),
])
def test_bad_scale_options_name_the_fix(argv, fix, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", *argv])
    assert exc.value.code == 2
    assert fix in capsys.readouterr().err


def test_every_slice_belongs_to_exactly_one_shard():
    slices = campaign.plan(600, ["mse", "bce", "ce"])
    assert sum(s.budget for s in slices) == 600
    assert [s.index for s in slices] == list(range(len(slices)))
    for n in (1, 2, 5):
        shares = [[s.index for s in slices if s.index % n == k - 1] for k in range(1, n + 1)]
        assert sorted(i for share in shares for i in share) == list(range(len(slices)))


def _workflow() -> str:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    found = [b for b in blocks if "deltacheck merge" in b]
    assert found, "the README has no CI workflow with 'deltacheck merge'"
    return found[0]


def test_the_readme_ci_workflow_runs_valid_deltacheck_commands():
    workflow = _workflow()
    shards = re.search(r"shard:\s*\[([\d,\s]+)\]", workflow)
    assert shards, "the workflow's matrix lists its shards"
    numbers = [int(k) for k in shards.group(1).split(",")]
    n = len(numbers)
    assert numbers == list(range(1, n + 1))
    commands = [line.split("run:", 1)[1].strip() if "run:" in line else line.strip()
                for line in workflow.splitlines() if re.search(r"\bdeltacheck (run|merge)", line)]
    assert any(" run " in f" {c} " and "--shard" in c for c in commands)
    assert any("deltacheck merge" in c for c in commands)
    for command in commands:
        command = command.replace("${{ matrix.shard }}", "1").replace(
            "${{ strategy.job-total }}", str(n))
        assert "${{" not in command, f"unknown expression left in {command!r}"
        argv = shlex.split(command)
        assert argv[0] == "deltacheck"
        args = cli.parser().parse_args(argv[1:])  # exits 2 on an invalid invocation
        if args.command == "run" and args.shard is not None:
            assert args.shard[1] == n, "the shards' N must match the matrix"


def _state(pid: int) -> str:
    """A process's state letter from /proc (Z: ended, not yet reaped); "" when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_the_fork_server_is_ended_when_the_command_exits():
    from multiprocessing import forkserver

    from deltacheck.campaign import parallel

    parallel.release(parallel.prestart(2, ["fd"]))  # the worker exits; the server stays
    pid = forkserver._forkserver._forkserver_pid
    assert pid is not None and _state(pid) not in ("Z", "")
    parallel.stop_server()
    deadline = time.monotonic() + 10
    while _state(pid) not in ("Z", "") and time.monotonic() < deadline:
        time.sleep(0.05)
    # ended (multiprocessing reaps it, and starts another, when a next run needs one)
    assert _state(pid) in ("Z", "")
