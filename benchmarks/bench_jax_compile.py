"""What the jax oracle's compilation costs in a fresh process, with and without the cache.

Run from the repository root:  python benchmarks/bench_jax_compile.py [--repeats 3] [--whole-run]

Each measurement is a fresh Python process (compilations are per process) that runs the jax
oracle once on one default-sized case per loss (all three losses, every built-in activation
in the table), and reports how many XLA compilations ran, their seconds, persistent-cache
hits, and the wall time of those first calls. Three subjects, in rotating order:

- ``unrolled, per loss``: the previous design, kept here as the anchor: one jit per loss,
  every hidden layer unrolled with its own ``lax.switch`` over all activations;
- ``oracle, empty cache``: the oracle as shipped, first run (a new, empty cache folder);
- ``oracle, warm cache``: the oracle again, on the folder the previous subject filled.

Medians over ``--repeats`` and ratios to the anchor from the same run.

``--whole-run`` then times a whole first run, ``deltacheck run`` (600 cases) on an empty cache
folder, as shipped (the compilation starts on a thread as soon as JAX imports, while torch
imports: ``oracles.prepare``) and with that thread turned off (the compilation then runs on
the first case, as before), alternately.
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
from typing import Any


def _unrolled(branches: tuple[Any, ...], loss: str) -> Any:
    """The previous design: hidden layers unrolled, one compilation per loss."""
    import jax
    import jax.numpy as jnp

    from deltacheck.oracles import jax_oracle

    table = [jax_oracle._branch(act) for act in branches]
    loss_fn = jax_oracle._losses()[jax_oracle.LOSS_ORDER.index(loss)]

    def energy(W, b, p, x, t, act_index, unit_mask, out_mask, sample_mask, loss_index):
        z, a_all = x, []
        for l in range(W.shape[0]):
            a = z @ W[l].T + b[l] + p[l]
            a_all.append(a)
            if l < W.shape[0] - 1:
                real = unit_mask[l][None, :] > 0
                h = jax.lax.switch(act_index[l], table, jnp.where(real, a, a[:, :1]))
                z = jnp.where(real, h, 0.0)
        return loss_fn(a, t, out_mask, sample_mask), a_all

    return jax.jit(jax.value_and_grad(energy, argnums=(0, 1, 2), has_aux=True))


def child(variant: str) -> None:
    """One fresh process: first calls on one case per loss; prints a JSON line."""
    import numpy as np

    t0 = time.perf_counter()
    import jax

    from deltacheck.core.activations import BUILTINS
    from deltacheck.judging.check import activation_objects
    from deltacheck.oracles import jax_oracle, jax_padding
    from tests.helpers import random_case

    imported = time.perf_counter() - t0
    counts = {"compiles": 0, "compile_s": 0.0, "hits": 0}

    def on_duration(event: str, seconds: float, **kwargs: Any) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            counts["compiles"] += 1
            counts["compile_s"] += seconds

    def on_event(event: str, **kwargs: Any) -> None:
        if event == "/jax/compilation_cache/cache_hits":
            counts["hits"] += 1

    jax.monitoring.register_event_duration_secs_listener(on_duration)
    jax.monitoring.register_event_listener(on_event)
    rng = np.random.default_rng(0)
    acts = ("tanh", "relu", "gelu")
    first = 0.0
    for loss in jax_oracle.LOSS_ORDER:
        case = random_case(rng, (4, 8, 6, 5, 3), acts, loss, batch=6)
        hidden = activation_objects(acts)
        t0 = time.perf_counter()
        if variant == "unrolled":
            jax_oracle._jax()  # the same cache settings, though this variant never hits it
            branches = tuple(BUILTINS)
            index = [branches.index(a) for a in hidden]
            identity = next(i for i, a in enumerate(branches) if a.name == "identity")
            padded = jax_padding.pad(*map(list, (case.weights, case.biases)), case.x, case.t,
                                     index, identity=identity, loss=loss)
            with jax.enable_x64(True):
                jax.block_until_ready(_unrolled(branches, loss)(*padded))
        else:
            jax_oracle.gradients(case.weights, case.biases, hidden, loss, case.x, case.t)
        first += time.perf_counter() - t0
    # The backend-compile event also times a load from the persistent cache: count those apart.
    counts["compiles"] -= counts["hits"]
    print(json.dumps({**counts, "first_calls_s": first, "import_s": imported}))


def _measure(variant: str, cache: str) -> dict[str, float]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "DELTACHECK_JAX_CACHE": cache,
           "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, __file__, "--child", variant], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


_WHOLE_RUN = """
import sys
from deltacheck import oracles
from deltacheck.commands import cli
if sys.argv.pop(1) == "off":
    oracles.prepare = lambda names: None
sys.exit(cli.console_main())
"""


def _whole_run(prepare: str, folder: str) -> float:
    """Wall seconds of a fresh ``deltacheck run`` of 600 cases on an empty cache folder."""
    env = {**os.environ, "DELTACHECK_JAX_CACHE": os.path.join(folder, "jax")}
    out = [f"--json={folder}/r.json", f"--report={folder}/r.html", f"--junit-xml={folder}/r.xml"]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", _WHOLE_RUN, prepare, "run", "--examples", "600",
                    "--seed", "11", *out], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def part_whole_run(repeats: int) -> None:
    """A first run as shipped against one with the compilation left to the first case."""
    walls: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(repeats):
        for prepare in (("on", "off") if r % 2 == 0 else ("off", "on")):
            with tempfile.TemporaryDirectory() as folder:
                walls[prepare].append(_whole_run(prepare, folder))
    on, off = statistics.median(walls["on"]), statistics.median(walls["off"])
    print(f"\nwhole first run, deltacheck run --examples 600 on an empty cache (load "
          f"{os.getloadavg()[0]:.2f}), medians of {repeats}: compiling on a thread {on:.2f} s, "
          f"on the first case {off:.2f} s: {on / off:.2f}× ({off - on:.2f} s less)")


def main() -> None:
    """Parse the options, run the subjects, print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--whole-run", action="store_true",
                        help="also time a whole first deltacheck run, compiling on a thread or not")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    rows: dict[str, list[dict[str, float]]] = {}
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            runs = [("unrolled, per loss", "unrolled", "off"),
                    ("oracle, empty cache", "oracle", folder),
                    ("oracle, warm cache", "oracle", folder)]
            if r % 2:  # alternate which runs first; the warm run must follow the cold one
                runs = runs[1:] + runs[:1]
            for label, variant, cache in runs:
                rows.setdefault(label, []).append(_measure(variant, cache))
    anchor = statistics.median(m["compile_s"] for m in rows["unrolled, per loss"])
    anchor_first = statistics.median(m["first_calls_s"] for m in rows["unrolled, per loss"])
    print(f"{'subject':22s} {'compiles':>8s} {'compile s':>10s} {'× anchor':>9s} "
          f"{'cache hits':>10s} {'first calls s':>14s} {'× anchor':>9s}")
    for label, ms in rows.items():
        comp = statistics.median(m["compile_s"] for m in ms)
        first = statistics.median(m["first_calls_s"] for m in ms)
        print(f"{label:22s} {statistics.median(m['compiles'] for m in ms):8.0f} {comp:10.2f} "
              f"{comp / anchor:9.2f} {statistics.median(m['hits'] for m in ms):10.0f} "
              f"{first:14.2f} {first / anchor_first:9.2f}")
    print(f"\nmedians of {args.repeats} fresh processes each. compiles: XLA compilations (loads "
          f"from the persistent cache not counted); compile s: their seconds, cache loads "
          f"included; first calls: the oracle's first call for each of the three losses "
          f"(tracing, compiling or loading, running).")
    if args.whole_run:
        part_whole_run(args.repeats)


if __name__ == "__main__":
    main()
