"""Whole campaigns: against gradcheck, marginal throughput, workers, and the size of the results.

Run from the repository root:  python benchmarks/bench_campaign.py [--repeats 3] [--parts ...]

Parts (all by default):

- ``gradcheck``: the default ``deltacheck run`` (600 cases; E, δ, ∂W and ∂b against torch,
  jax and fd), timed as a fresh process from the shell, against
  ``torch.autograd.gradcheck`` in slow mode checking only ∂W and ∂b of the same 600 cases
  (recorded from an in-process run of the same seed), on one torch thread, as the torch
  oracle runs. Each repeat times both.
- ``throughput``: marginal cases per second in one process with all three oracles on the
  default ranges: 600 / (wall(620 cases) − wall(20 cases)), after a warm-up run.
- ``workers``: ``deltacheck run --examples 600`` (``--workers-examples``) with ``--workers 1``
  and ``--workers 2``, alternately: the process's wall time and the campaign's own
  (``run.wall_time_s``), the most the process could gain, and whether both documents hold
  the same cases.
- ``auto`` (not by default): ``--workers auto`` against ``--workers 1`` on runs of
  ``--auto-sizes`` cases (20, 600, 3,000), alone and beside another CPU-bound job; the ratio
  of the medians must stay ≥ 0.95.
- ``size``: JSON bytes per case and the HTML size of the default run, and of a 600-case run
  of an implementation that fails most cases.

The JAX compilation cache is warmed first, so that no part pays for a compilation. Medians
of ``--repeats``; the load average is printed with every part.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def _deltacheck(folder: Path, name: str, *args: str) -> tuple[float, dict[str, Any]]:
    """Wall seconds of a fresh ``deltacheck run`` process, and its results document."""
    out = [f"--json={folder / (name + '.json')}", f"--report={folder / (name + '.html')}",
           f"--junit-xml={folder / (name + '.xml')}"]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "deltacheck", "run", *args, *out],
                          capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(proc.stderr[-2000:])
    return wall, json.loads((folder / (name + ".json")).read_text())


def _recorded_cases(seed: int, examples: int) -> list[Any]:
    """The cases a run of this seed checks, recorded from an in-process run."""
    from deltacheck import campaign, reference_impl
    from deltacheck.campaign import slices

    seen: list[Any] = []
    check = slices.check_case

    def recording(case: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(case)
        return check(case, *args, **kwargs)

    slices.check_case = recording
    try:
        campaign.run(campaign.Config(impl=reference_impl.backprop, impl_spec="reference",
                                     examples=examples, seed=seed))
    finally:
        slices.check_case = check
    return seen


def _cores_of_one_process(seed: int, examples: int) -> float:
    """CPU seconds over wall seconds of a one-process campaign (in this process, warmed up):
    more than 1 where JAX computes on another core meanwhile."""
    from deltacheck import campaign, reference_impl

    config = campaign.Config(impl=reference_impl.backprop, impl_spec="reference",
                             examples=examples, seed=seed)
    campaign.run(replace(config, examples=20))  # imports, first calls
    wall, cpu = time.perf_counter(), time.process_time()  # every thread of this process
    campaign.run(config)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


def _gradcheck_all(cases: list[Any]) -> tuple[float, int]:
    """Seconds of gradcheck (slow mode, ∂W and ∂b) over every case; how many it rejected."""
    import torch

    from deltacheck.judging.check import activation_objects
    from deltacheck.oracles import torch_oracle

    rejected = 0
    start = time.perf_counter()
    for case in cases:
        hidden = [torch_oracle._hidden(a, torch) for a in activation_objects(case.activations)]
        x = torch.tensor(case.x, dtype=torch.float64)
        t = torch.tensor(case.t, dtype=torch.float64)
        L = case.n_layers

        def energy(*params: Any, hidden: Any = hidden, x: Any = x, t: Any = t, L: int = L,
                   loss: str = case.loss) -> Any:
            z = x
            for l in range(L):
                a = z @ params[l].T + params[L + l]
                z = hidden[l](a) if l < L - 1 else a
            return torch_oracle._loss(loss, z, t, torch)

        params = [torch.tensor(w, dtype=torch.float64, requires_grad=True)
                  for w in (*case.weights, *case.biases)]
        if not torch.autograd.gradcheck(energy, tuple(params), fast_mode=False,
                                        raise_exception=False):
            rejected += 1  # a case at a kink: gradcheck's own differences straddle it
    return time.perf_counter() - start, rejected


def part_gradcheck(repeats: int, seed: int) -> None:
    """deltacheck run (600 cases, 3 oracles) against gradcheck slow mode on ∂W, ∂b alone."""
    import torch

    torch.set_num_threads(1)
    cases = _recorded_cases(seed, 600)
    ours, theirs = [], []
    rejected = 0
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
            for who in order:
                if who == "ours":
                    ours.append(_deltacheck(Path(tmp), "run", "--examples", "600",
                                            "--seed", str(seed))[0])
                else:
                    seconds, rejected = _gradcheck_all(cases)
                    theirs.append(seconds)
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"[gradcheck] {_load()}; {len(cases)} cases (seed {seed}), medians of {repeats}")
    print(f"  deltacheck run (fresh process: E, δ, ∂W, ∂b; torch, jax, fd) {a:8.2f} s")
    print(f"  gradcheck slow mode, ∂W and ∂b only, same cases           {b:8.2f} s "
          f"({rejected} cases rejected at kinks)")
    print(f"  gradcheck / deltacheck = {b / a:.2f}")


def part_throughput(repeats: int, seed: int) -> None:
    """Marginal cases per second of one process, all three oracles, default ranges."""
    from deltacheck import campaign, reference_impl

    def wall(n: int) -> float:
        cfg = campaign.Config(impl=reference_impl.backprop, impl_spec="reference", examples=n,
                              seed=seed)
        start = time.perf_counter()
        campaign.run(cfg)
        return time.perf_counter() - start

    wall(20)  # imports, compilations (or cache loads)
    rates, spins = [], []
    for _ in range(repeats):
        spins.append(_spin(0))
        small, large = wall(20), wall(620)
        rates.append(600 / (large - small))
    print(f"[throughput] {_load()}; medians of {repeats}")
    print(f"  marginal throughput: {statistics.median(rates):.0f} cases/s "
          f"(runs: {', '.join(f'{r:.0f}' for r in rates)})")
    print(f"  machine speed: a pure-Python loop of 3,000,000 additions took "
          f"{statistics.median(spins):.3f} s (the same loop as in --parts workers; this machine's "
          f"speed drifts by 20% over a day, so compare figures taken beside equal loop times)")


def _spin(_: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return time.perf_counter() - start


def _parallel_capacity(rounds: int = 3) -> float:
    """How many cores two processes get now: a pure-Python loop alone, then two at once.

    Medians of ``rounds``, and never more than two (a loop alone slowed down by another job
    would otherwise make two at once look faster than two cores).
    """
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        alone = statistics.median(_spin(0) for _ in range(rounds))
        together = statistics.median(max(pool.map(_spin, [0, 1])) for _ in range(rounds))
    return min(2.0, os.cpu_count() or 1, 2 * alone / together)


def part_workers(repeats: int, seed: int, examples: int) -> None:
    """``examples`` cases with one worker and with two: wall times, ratios, identical results.

    Two ratios: the whole process, and the campaign (``run.wall_time_s``: the slices, each
    process's first calls to its oracles included). The time outside the campaign (imports,
    writing, exiting) is paid once whatever the number of workers, which bounds what the
    whole process can gain; the bound is printed beside it.
    """
    walls: dict[int, list[float]] = {1: [], 2: []}
    inner: dict[int, list[float]] = {1: [], 2: []}
    docs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                seconds, docs[n] = _deltacheck(Path(tmp), f"w{n}", "--examples", str(examples),
                                               "--seed", str(seed), "--workers", str(n))
                walls[n].append(seconds)
                inner[n].append(docs[n]["run"]["wall_time_s"])
    same = docs[1]["cases"] == docs[2]["cases"] and docs[1]["summary"] == docs[2]["summary"]
    wall = {n: statistics.median(walls[n]) for n in walls}
    campaign = {n: statistics.median(inner[n]) for n in inner}
    print(f"[workers] {_load()}; {os.cpu_count()} cores; {examples} cases; medians of {repeats}")
    capacity, busy = _parallel_capacity(), _cores_of_one_process(seed, examples)
    print(f"  two processes get {capacity:.2f} cores' worth of CPU right now (a pure-Python "
          f"loop alone and two at once); one process's campaign already keeps {busy:.2f} cores "
          f"busy (JAX computes on the side): two workers can check at most "
          f"{capacity / busy:.2f}× as fast")
    for n in (1, 2):
        print(f"  --workers {n}: process {wall[n]:6.2f} s, campaign {campaign[n]:6.2f} s")
    fixed = wall[1] - campaign[1]
    print(f"  speed-up with 2 workers: process {wall[1] / wall[2]:.2f}×, campaign "
          f"{campaign[1] / campaign[2]:.2f}×; same cases and summary: {same}")
    print(f"  outside the campaign, {fixed:.2f} s of the one-worker process (imports, writing, "
          f"exiting) cannot be shared out: even with the campaign halved, the whole process "
          f"would gain at most {wall[1] / (fixed + campaign[1] / 2):.2f}×")
    if not same:
        for a, b in zip(docs[1]["cases"], docs[2]["cases"], strict=False):
            if a != b:
                print(f"  first difference, case {a['id']}:\n    {json.dumps(a)[:600]}\n"
                      f"    {json.dumps(b)[:600]}")
                break
        print(f"  cases {len(docs[1]['cases'])} and {len(docs[2]['cases'])}; summaries "
              f"{'equal' if docs[1]['summary'] == docs[2]['summary'] else 'differ'}")


def part_auto(repeats: int, seed: int, sizes: list[int]) -> None:
    """``--workers auto`` against one process on runs of ``sizes`` cases, alone and with another
    CPU-bound job (a spinning Python process) running: medians of wall times and their ratio
    (one process's time over auto's: ≥ 0.95 means auto is never more than 5 % slower), and the
    number of processes auto chose."""
    print(f"[auto] {_load()}; {os.cpu_count()} cores; medians of {repeats}")
    for busy in (False, True):
        spin = (subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None)
        try:
            time.sleep(1.0 if busy else 0.0)  # the job is running before the runs start
            for examples in sizes:
                walls: dict[str, list[float]] = {"1": [], "auto": []}
                chosen = []
                with tempfile.TemporaryDirectory() as tmp:
                    for r in range(repeats):
                        for n in (("1", "auto") if r % 2 == 0 else ("auto", "1")):
                            seconds, doc = _deltacheck(Path(tmp), f"a{n}", "--examples",
                                                       str(examples), "--seed", str(seed),
                                                       "--workers", n)
                            walls[n].append(seconds)
                            if n == "auto":
                                chosen.append(doc["run"]["workers"])
                one, auto = statistics.median(walls["1"]), statistics.median(walls["auto"])
                print(f"  {examples:>5} cases, {'with' if busy else 'without'} another "
                      f"CPU-bound job: one process {one:6.2f} s, auto {auto:6.2f} s "
                      f"(chose {chosen}), ratio {one / auto:.2f} ({_load()})", flush=True)
        finally:
            if spin is not None:
                spin.kill()
                spin.wait()


def part_size(seed: int) -> None:
    """Bytes of the JSON per case and of the HTML, passing and mostly failing."""
    planted = ROOT / "tests" / "impls" / "planted.py"
    print(f"[size] {_load()}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, args in (("reference (passes)", ()),
                            ("planted bug (fails)", ("--impl", f"{planted}:tanh_derivative_of_a",
                                                     "--activations", "tanh,relu"))):
            _, doc = _deltacheck(Path(tmp), "s", "--examples", "600", "--seed", str(seed), *args)
            size = (Path(tmp) / "s.json").stat().st_size
            html = (Path(tmp) / "s.html").stat().st_size
            passing = [c for c in doc["cases"] if c["verdict"] == "pass"]
            per_pass = sum(len(json.dumps(c, separators=(",", ":"))) for c in passing)
            print(f"  {label:20s} {len(doc['cases'])} cases ({len(passing)} passing): JSON "
                  f"{size / 1e6:.2f} MB, {size / len(doc['cases']) / 1e3:.2f} KB a case; passing "
                  f"records {per_pass / max(1, len(passing)) / 1e3:.2f} KB each; HTML "
                  f"{html / 1e6:.2f} MB")


def main() -> None:
    """Parse the options and run the parts asked for."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--parts", default="gradcheck,throughput,workers,size")
    parser.add_argument("--workers-examples", type=int, default=600,
                        help="cases of each run in --parts workers")
    parser.add_argument("--auto-sizes", default="20,600,3000",
                        help="cases of the runs in --parts auto")
    args = parser.parse_args()
    _deltacheck(Path(tempfile.mkdtemp()), "warm", "--examples", "3")  # fill the JAX cache
    for part in args.parts.split(","):
        if part == "size":
            part_size(args.seed)
        elif part == "workers":
            part_workers(args.repeats, args.seed, args.workers_examples)
        elif part == "auto":
            part_auto(args.repeats, args.seed, [int(n) for n in args.auto_sizes.split(",")])
        else:
            globals()[f"part_{part}"](args.repeats, args.seed)


if __name__ == "__main__":
    main()
