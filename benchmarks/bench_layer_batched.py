"""The layer reference's VJP for many small cases: one vectorised call (``vjp_many``: torch.func
.vmap or jax.vmap of the same reference) against one ``vjp`` call per case, on the same cases.
Prints per kind and framework the medians, the ratio (target: 50x for small cases) and the
largest difference between the two (they must agree to the last bit or nearly).

Then the memory of checking one convolution case at 8x16x32x32 (16 filters of 3x3, pad 1):
the course's naive layer, the torch and jax truths and the rounding floors (fd's grouping probe
is one forward per input entry, and is left out at this size), as tracemalloc's peak of numpy's
allocations and the growth of the peak RSS.

    python benchmarks/bench_layer_batched.py [--cases 200] [--repeat 3] [--frameworks torch,jax]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.layers.judging import check_case
from deltacheck.oracles.layers import forward, vjp, vjp_many
from examples.layers.slips import course

SMALL = [  # (kind, input shapes, params): the sizes the campaign draws
    ("affine", {"x": (3, 4), "w": (4, 3), "b": (3,)}, {}),
    ("relu", {"x": (3, 4)}, {}),
    ("batchnorm", {"x": (4, 3), "gamma": (3,), "beta": (3,)}, {"bn_param": {"mode": "train"}}),
    ("layernorm", {"x": (4, 3), "gamma": (3,), "beta": (3,)}, {"ln_param": {}}),
    ("conv", {"x": (2, 2, 5, 5), "w": (3, 2, 3, 3), "b": (3,)},
     {"conv_param": {"stride": 1, "pad": 1}}),
    ("max_pool", {"x": (2, 2, 4, 4)},
     {"pool_param": {"pool_height": 2, "pool_width": 2, "stride": 2}}),
    ("softmax_loss", {"x": (4, 5)}, {"y": np.array([0, 1, 2, 3])}),
    ("affine_bn_relu", {"x": (4, 3), "w": (3, 3), "b": (3,), "gamma": (3,), "beta": (3,)},
     {"bn_param": {"mode": "train"}}),
]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench(kind: str, shapes: dict, params: dict, frameworks: list[str], cases: int,
          repeat: int) -> None:
    rng = np.random.default_rng(0)
    inputs = {n: rng.standard_normal((cases, *s)) for n, s in shapes.items()}
    out, _ = forward(kind, "numpy", {n: v[0] for n, v in inputs.items()}, params)
    douts = rng.standard_normal((cases, *np.shape(out))) if np.ndim(out) else np.ones(cases)
    for fw in frameworks:
        def each(fw=fw):
            return [vjp(kind, fw, {n: v[i] for n, v in inputs.items()}, params, douts[i])
                    for i in range(cases)]

        def batched(fw=fw):
            return vjp_many(kind, fw, inputs, params, douts)

        batched(), each()  # warm up: first graphs, first traces
        loop_t, many_t = [], []
        for r in range(repeat):  # alternate the order, so that noise hits both alike
            pair = [(loop_t, each), (many_t, batched)]
            for times, fn in pair if r % 2 == 0 else pair[::-1]:
                times.append(timed(fn))
        one, many = each(), batched()
        diff = max(float(np.max(np.abs(many[g][i] - one[i][g]))) for i in range(cases)
                   for g in many)
        t_loop, t_many = statistics.median(loop_t), statistics.median(many_t)
        print(f"{kind:<16} {fw:<6} {cases} cases: one call each {t_loop * 1e3:8.1f} ms, "
              f"one batched call {t_many * 1e3:7.1f} ms, ratio {t_loop / t_many:6.1f}x "
              f"(largest difference {diff:.1e})", flush=True)


def conv_memory(frameworks: list[str]) -> None:
    rng = np.random.default_rng(1)
    inputs = {"x": rng.standard_normal((8, 16, 32, 32)), "w": rng.standard_normal((16, 16, 3, 3)),
              "b": rng.standard_normal(16)}
    params = {"conv_param": {"stride": 1, "pad": 1}}
    spec = LayerSpec("conv", course.conv_forward_naive, course.conv_backward_naive,
                     "conv_forward_naive", "conv_backward_naive")
    case = LayerCase("conv", "float64", inputs, params, 0)
    size = sum(v.nbytes for v in inputs.values())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    start = time.perf_counter()
    outcome = check_case(spec, case, frameworks)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"conv 8x16x32x32, 16 3x3 filters, oracles {','.join(frameworks)}: {outcome.verdict} "
          f"in {seconds:.1f} s; inputs {size / 2**20:.1f} MiB, tracemalloc peak "
          f"{peak / 2**20:.1f} MiB ({peak / size:.1f}x the inputs), peak RSS "
          f"{rss_before:.0f} -> {rss_after:.0f} MiB", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frameworks", default="torch,jax")
    parser.add_argument("--kinds", default=",".join(k for k, _, _ in SMALL))
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    frameworks = args.frameworks.split(",")
    for kind, shapes, params in SMALL:
        if kind in args.kinds.split(","):
            bench(kind, shapes, params, frameworks, args.cases, args.repeat)
    if not args.no_memory:
        conv_memory(frameworks)
