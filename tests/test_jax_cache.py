"""The jax oracle's compilations persist between runs, in a folder runs can share."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deltacheck.oracles import jax_cache, jax_oracle

_CHILD = """
import json, jax, numpy as np
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import jax_oracle
counts = {"compiles": 0, "hits": 0}
def on_duration(event, seconds, **kw):
    if event == "/jax/core/compile/backend_compile_duration":
        counts["compiles"] += 1
def on_event(event, **kw):
    if event == "/jax/compilation_cache/cache_hits":
        counts["hits"] += 1
jax.monitoring.register_event_duration_secs_listener(on_duration)
jax.monitoring.register_event_listener(on_event)
rng = np.random.default_rng(0)
W = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]
b = [rng.normal(size=3), rng.normal(size=2)]
x, t = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
for loss in ("mse", "ce"):
    g = jax_oracle.gradients(W, b, activation_objects(["tanh"]), loss, x, t)
print(json.dumps({"compiles": counts["compiles"] - counts["hits"], "hits": counts["hits"],
                  "dir": jax.config.jax_compilation_cache_dir}))
"""


def _start(cache: str, child: str = _CHILD) -> subprocess.Popen:
    env = {**os.environ, jax_cache.CACHE_ENV: cache}
    return subprocess.Popen([sys.executable, "-c", child], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    return json.loads(out.strip().splitlines()[-1])


def test_a_second_run_compiles_nothing_and_two_runs_can_share_the_folder(tmp_path):
    pytest.importorskip("jax")
    cache = str(tmp_path / "jax-cache")
    first = [_start(cache), _start(cache)]  # two runs at once, on one empty folder
    cold = [_result(p) for p in first]
    assert all(r["dir"] == cache for r in cold)
    assert all(r["compiles"] >= 1 for r in cold)  # nothing to load yet: the check can fail
    warm = _result(_start(cache))
    assert warm == {"compiles": 0, "hits": 1, "dir": cache}


def test_the_cache_can_be_turned_off_and_moved(monkeypatch, tmp_path):
    monkeypatch.setenv(jax_cache.CACHE_ENV, "off")
    assert jax_cache.cache_dir() is None
    monkeypatch.setenv(jax_cache.CACHE_ENV, str(tmp_path / "c"))
    assert jax_cache.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(jax_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jax_cache.cache_dir() == Path(tmp_path / "xdg" / "deltacheck" / "jax")


def test_prepare_compiles_once_on_a_thread_for_the_calls_that_follow():
    pytest.importorskip("jax")
    # prepare() compiles the smallest bucket in the background; the calls wait for it and use
    # it: one compilation in all (a second would mean another bucket, or two at once)
    child = _CHILD.replace("rng = np.random", "started = jax_oracle.prepare()\nrng = np.random")
    child = child.replace('"hits": counts["hits"],', '"hits": counts["hits"], '
                          '"waiting": started.running(),')
    assert _result(_start("off", child)) == {"compiles": 1, "hits": 0, "waiting": False,
                                             "dir": None}


def test_a_run_that_ends_early_waits_for_the_compilation_it_started():
    pytest.importorskip("jax")
    from deltacheck.campaign.session import Session

    with Session() as session:  # as the command does, an error or not
        session.start_compiling(["jax"])
        started = session.compiling
        assert started is not None
    assert not started.running() and session.compiling is None
    again = jax_oracle.prepare()  # nothing left running: a new one may start
    assert again is not None
    again.wait()
    session.close()  # closing twice is harmless


def test_a_second_prepare_while_one_compiles_starts_nothing():
    pytest.importorskip("jax")
    first = jax_oracle.prepare()
    second = jax_oracle.prepare()
    try:
        assert first is not None and (second is None or not first.running())
    finally:
        for started in (first, second):
            if started is not None:
                started.wait()
