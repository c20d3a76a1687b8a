"""JAX compiles once per shape: the padded oracle against naive per-shape jit and no jit at all.

Run from the repository root:  python benchmarks/bench_jax_oracle.py [--cases 300] [--seed 0]

Every variant computes the same thing (E, δ, ∂W and ∂b in float64 under ``jax.enable_x64``)
on the same Hypothesis-drawn cases from the default bounds (1–5 layers, widths 1–8, batch
1–6, all built-in activations, three losses):

  padded          ``oracles.jax_oracle.gradients``: one bucket, activations by ``lax.switch``;
  padded, numpy   the same compiled function, given numpy arrays and its outputs sliced in
                  numpy (a possible fix: jax compiles every eager slice shape, see below);
  naive jit       ``jax.jit(jax.value_and_grad(...))`` on the unpadded lists, activations and
                  loss static: one compilation per architecture and batch size;
  naive no jit    the same function run eagerly, op by op.

Anchors in the same run: ``reference_impl.backprop`` and the torch oracle. Each case runs every
variant before the next case, in an order that rotates from case to case, so machine noise
falls on all of them alike. Compilations are counted with ``jax.monitoring`` (every XLA
compilation, named) and with jit's own cache sizes.
"""

from __future__ import annotations

import argparse
import collections
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from bench_oracles import Timer, draw_cases, median_ms, rotated

from deltacheck import reference_impl
from deltacheck.core import tolerances
from deltacheck.core.case import Case
from deltacheck.core.gradients import Gradients
from deltacheck.judging.check import activation_objects
from deltacheck.oracles import jax_oracle, torch_oracle
from deltacheck.oracles.base import as_float64, kink_taint
from deltacheck.reference_impl import activations

# Which variant is running, so that jax's compile events can be charged to it.
_running = [""]
COMPILES: collections.Counter[tuple[str, str]] = collections.Counter()
COMPILE_SECONDS: collections.Counter[str] = collections.Counter()
TRACES: collections.Counter[str] = collections.Counter()


def _on_duration(event: str, seconds: float, **kwargs: Any) -> None:
    if event == "/jax/core/compile/backend_compile_duration":
        COMPILES[_running[0], str(kwargs.get("fun_name", "?"))] += 1
        COMPILE_SECONDS[_running[0]] += seconds


# The naive variants use the padded oracle's own activation table, so they differ from it
# only in padding and compilation.
HIDDEN: dict[str, Callable[[Any], Any]] = {
    name: jax_oracle._branch(activations.get(name)) for name in activations.BUILTIN_NAMES}


def _loss(loss: str, a: Any, t: Any) -> Any:
    if loss == "mse":
        return 0.5 * jnp.sum((a - t) ** 2)
    if loss == "bce":
        return -jnp.sum(t * jax.nn.log_sigmoid(a) + (1.0 - t) * jax.nn.log_sigmoid(-a))
    return -jnp.sum(t * jax.nn.log_softmax(a, axis=-1))


def _energy(W: list[Any], b: list[Any], p: list[Any], x: Any, t: Any,
            activations: tuple[str, ...], loss: str) -> tuple[Any, tuple[list[Any], list[Any]]]:
    TRACES[_running[0]] += 1  # Python runs only while jax traces: once per compilation under jit
    z, a_all, z_all = x, [], [x]
    for m in range(len(W)):
        a = z @ W[m].T + b[m] + p[m]  # p = 0: ∂E/∂p = δ
        a_all.append(a)
        if m < len(W) - 1:
            z = HIDDEN[activations[m]](a)
            z_all.append(z)
    return _loss(loss, a, t), (a_all, z_all)


_naive = jax.value_and_grad(_energy, argnums=(0, 1, 2), has_aux=True)
_naive_jit = jax.jit(_naive, static_argnums=(5, 6))


def naive(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], activations: Sequence[Any],
          loss: str, x: np.ndarray, t: np.ndarray, *, jit: bool = True) -> Gradients:
    """The unpadded oracle: per-shape jit (or none), same outputs as the project's."""
    W64, b64 = as_float64(weights), as_float64(biases)
    x64, t64 = as_float64([x, t])
    names = tuple(act.name for act in activations)
    p = [np.zeros((len(x64), w.shape[0])) for w in W64]
    with jax.enable_x64(True):  # numpy in, numpy out: no eager jax op compiles per shape
        (E, (a_all, z_all)), (gW, gb, gp) = jax.device_get(
            (_naive_jit if jit else _naive)(W64, b64, p, x64, t64, names, loss))
    return Gradients(loss=float(E), deltas=list(gp), grad_weights=list(gW), grad_biases=list(gb),
                     unjudged=kink_taint(W64, a_all, z_all[:len(W64)], activations))


VARIANTS: dict[str, Callable[..., Any]] = {
    "reference_impl.backprop": lambda w, b, acts, loss, x, t: reference_impl.backprop(
        w, b, [act.name for act in acts], loss, x, t),
    "torch oracle": torch_oracle.gradients,
    "jax padded (oracles.jax_oracle)": jax_oracle.gradients,
    "jax naive jit per shape": naive,
    "jax naive, no jit": lambda *args: naive(*args, jit=False),
}
PADDED, NAIVE_JIT = "jax padded (oracles.jax_oracle)", "jax naive jit per shape"


def _max_rel_diff(got: Gradients, want: Gradients) -> float:
    """max |got − want| / (max |want| + atol) per array, leaving out entries either cannot judge.

    atol (deltacheck.tolerances) keeps a quantity that cancels to 0 (δ = 1e-17 from one
    oracle, 1.4e-17 from the other) from reading as a disagreement.
    """
    floor = tolerances.atol("float64", want.loss)
    worst = abs(got.loss - want.loss) / (abs(want.loss) + floor)
    for key in ("deltas", "grad_weights", "grad_biases"):
        for m, (g, w) in enumerate(zip(got.quantity(key), want.quantity(key), strict=True)):
            if np.asarray(g).dtype != np.float64 or np.shape(g) != np.shape(w):
                return float("inf")
            judged = ~(got.unjudged[key][m] | want.unjudged[key][m])
            scale = float(np.abs(w).max(initial=0.0)) + floor
            diff = np.where(judged, np.abs(np.asarray(g) - w), 0.0)
            worst = max(worst, float(diff.max(initial=0.0)) / scale)
    return worst


def _time_pass(drawn: list[Case], timer: Timer, check: bool) -> dict[str, float]:
    """Run every variant on every case; return each jax/torch variant's worst disagreement."""
    disagreement: dict[str, float] = collections.defaultdict(float)
    for i, case in enumerate(drawn):
        acts = activation_objects(case.activations)
        args = (list(case.weights), list(case.biases), acts, case.loss, case.x, case.t)
        out = {}
        for label in rotated(list(VARIANTS), i):
            _running[0] = label
            out[label] = timer(label, VARIANTS[label], *args)
        _running[0] = ""
        if check:
            for label, value in out.items():
                if isinstance(value, Gradients):
                    disagreement[label] = max(disagreement[label],
                                              _max_rel_diff(value, out[PADDED]))
    return disagreement


def _whole_function_compiles() -> dict[str, int]:
    padded = sum(fn._cache_size() for fn in jax_oracle.compiled_functions())
    return {PADDED: padded, NAIVE_JIT: _naive_jit._cache_size()}


def run(n_cases: int, seed: int, skip: int, torch_threads: int) -> None:
    """Draw the cases, time every variant cold then warm, print the tables."""
    import torch

    if torch_threads:
        torch.set_num_threads(torch_threads)
    jax.monitoring.register_event_duration_secs_listener(_on_duration)
    t0 = time.perf_counter()
    drawn = draw_cases(n_cases, seed=seed)
    shapes = {(c.widths, c.batch, c.activations, c.loss) for c in drawn}
    print(f"drew {len(drawn)} cases with Hypothesis (seed {seed}) in "
          f"{time.perf_counter() - t0:.1f} s: {len(shapes)} distinct (widths, batch, "
          f"activations, loss); jax {jax.__version__} on {jax.default_backend()}, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads")

    cold, warm = Timer(), Timer()
    t0 = time.perf_counter()
    disagreement = _time_pass(drawn, cold, check=True)
    wall_cold = time.perf_counter() - t0
    cold_compiles = collections.Counter({k: v for k, v in COMPILES.items()})
    cold_seconds = collections.Counter(COMPILE_SECONDS)
    whole = _whole_function_compiles()
    traces = collections.Counter(TRACES)
    t0 = time.perf_counter()
    _time_pass(drawn, warm, check=False)
    wall_warm = time.perf_counter() - t0
    warm_compiles = sum(COMPILES.values()) - sum(cold_compiles.values())
    print(f"cold pass {wall_cold:.1f} s, warm pass {wall_warm:.1f} s "
          f"(XLA compilations in the warm pass: {warm_compiles})\n")

    anchor_cold = median_ms(cold.times["reference_impl.backprop"][skip:])
    anchor_warm = median_ms(warm.times["reference_impl.backprop"])
    print(f"{'variant':33s} {'total s':>8s} {'median ms':>10s} {'× impl':>8s} {'warm ms':>8s} "
          f"{'× impl':>7s} {'compiles':>9s} {'compile s':>10s} {'whole fn':>9s} {'traces':>7s}")
    for label in VARIANTS:
        n_comp = sum(v for (who, _), v in cold_compiles.items() if who == label)
        med, med_warm = median_ms(cold.times[label][skip:]), median_ms(warm.times[label])
        print(f"{label:33s} {sum(cold.times[label]):8.2f} {med:10.3f} {med / anchor_cold:8.1f} "
              f"{med_warm:8.3f} {med_warm / anchor_warm:7.1f} {n_comp:9d} "
              f"{cold_seconds[label]:10.2f} {whole.get(label, '-')!s:>9s} "
              f"{traces.get(label, '-')!s:>7s}")
    print(f"""
total s     wall time of the cold pass over all {len(drawn)} cases (one-time costs included)
median ms   median per case of the cold pass after the first {skip} cases (warm-up)
warm ms     median per case of a second pass over the same cases (every cache hot)
× impl      divided by reference_impl.backprop's median in the same pass
compiles    XLA compilations during the cold pass (jax.monitoring), charged to the variant
            that triggered them; compile s is their total time
whole fn    compilations of the whole value-and-grad function (jit's cache size)
traces      how often Python ran the naive energy function (no jit: every call)""")

    print("\nratios, padded / other (below 1: padded is faster):")
    for other in ("jax naive jit per shape", "jax naive, no jit"):
        total = sum(cold.times[PADDED]) / sum(cold.times[other])
        med = median_ms(cold.times[PADDED][skip:]) / median_ms(cold.times[other][skip:])
        med_warm = median_ms(warm.times[PADDED]) / median_ms(warm.times[other])
        print(f"  padded / {other:26s} total {total:7.3f}   median {med:7.3f}   "
              f"warm median {med_warm:7.3f}")

    print("\nXLA compilations in the cold pass, by compiled function:")
    for label in VARIANTS:
        named = sorted(((v, fn) for (who, fn), v in cold_compiles.items() if who == label),
                       reverse=True)
        if named:
            print(f"  {label:33s} " + ", ".join(f"{fn} {v}" for v, fn in named[:5])
                  + (f", ... ({len(named) - 5} more)" if len(named) > 5 else ""))
    half = len(drawn) // 2
    padded_times = np.array(cold.times[PADDED])
    print(f"\npadded oracle, cold pass: total of cases 1–{half} {padded_times[:half].sum():.2f} s, "
          f"of cases {half + 1}–{len(drawn)} {padded_times[half:].sum():.2f} s")
    print("\nworst relative disagreement with the padded oracle (max |Δ| / (max |value| + atol) "
          "per array, over all\ncases; entries on or near a kink, which the oracles leave "
          "unjudged, left out):")
    for label, d in disagreement.items():
        if label != PADDED:
            print(f"  {label:33s} {d:.1e}")


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="number of cases (300)")
    parser.add_argument("--seed", type=int, default=0, help="Hypothesis seed (0)")
    parser.add_argument("--warmup", type=int, default=10,
                        help="cases left out of the cold-pass medians (10)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads for the torch anchor (0: torch's default)")
    args = parser.parse_args()
    run(args.cases, args.seed, args.warmup, args.torch_threads)


if __name__ == "__main__":
    main()
