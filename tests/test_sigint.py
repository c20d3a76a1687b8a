"""Ctrl-C at any moment of ``deltacheck run``: real SIGINTs at a spread of delays, while another
CPU-bound process runs, end the run with exit 130, one line, and whatever was checked — never
exit 0 (a KeyboardInterrupt swallowed by JAX's gc callback) nor 134 (nanobind's terminate)."""

import json
import signal
import subprocess
import sys
import time

import pytest

FAST_DELAYS = [0.3, 2.0, 4.5]
SLOW_DELAYS = [0.2, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0]
SLIPS = ("Traceback", "Exception ignored", "terminate called", "KeyboardInterrupt")


@pytest.fixture(scope="module")
def load():
    """Another CPU-bound process for the whole module: start-up and JAX compile slow down."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    yield
    busy.kill()
    busy.wait()


def interrupt_after(delay, folder, *extra):
    """Start a long run, send it SIGINT after ``delay`` s; its code, output lines, JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deltacheck", "run", "--examples", "3000", "--seed", "5",
         "--report", str(folder / "r.html"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=folder)
    seen = []
    if isinstance(delay, str):  # wait for the progress line that starts with it, then a moment
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line or line.startswith(delay):
                break
            seen.append(line)
        time.sleep(0.5)
    else:
        time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"still running 90 s after SIGINT at {delay} s:\n{err[-2000:]}")
    lines = [line for line in (out + "".join(seen) + err).splitlines()
             if not line.startswith("checking ")]
    results = folder / "results.json"
    doc = json.loads(results.read_text()) if results.exists() else None
    return proc.returncode, lines, doc


def assert_honest(delay, code, lines, doc):
    said = "\n".join(lines)
    assert code == 130, f"SIGINT at {delay} s: exit {code}\n{said[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("deltacheck: interrupted"), said[-2000:]
    assert not any(slip in said for slip in SLIPS), said[-2000:]
    if doc is not None:  # written: what was checked, never called a pass
        assert doc["summary"]["verdict"] in ("interrupted", "fail")
        assert doc["summary"]["not_checked"] > 0


@pytest.mark.parametrize("delay", FAST_DELAYS)
def test_sigint_at_any_moment_ends_with_130_and_one_line(tmp_path, load, delay):
    assert_honest(delay, *interrupt_after(delay, tmp_path))


def test_sigint_during_the_campaign_keeps_the_cases_checked(tmp_path, load):
    # sent once the campaign is under way, however long start-up took on a loaded machine
    code, lines, doc = interrupt_after("checking", tmp_path, "--oracles", "fd")
    assert_honest("checking", code, lines, doc)
    assert doc is not None and doc["summary"]["verdict"] == "interrupted"
    assert "results so far:" in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(3))
@pytest.mark.parametrize("delay", SLOW_DELAYS)
def test_sigint_spread_repeated_under_load(tmp_path, load, delay, repeat):
    assert_honest(delay, *interrupt_after(delay, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("delay", [1.0, 3.0, 6.0])
def test_sigint_with_worker_processes(tmp_path, load, delay):
    assert_honest(delay, *interrupt_after(delay, tmp_path, "--workers", "2"))
