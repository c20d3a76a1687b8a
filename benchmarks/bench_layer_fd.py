"""Differencing a user's layer forward: deltacheck's vectorised central differences (entries that
do not interact perturbed together, the error bar included) against a per-entry loop like the
course's eval_numerical_gradient_array, on conv 2×3×8×8 with four 3×3 filters and batchnorm
16×32. Prints the medians, the ratio and the largest error of each against torch's VJP.

    python benchmarks/bench_layer_fd.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deltacheck.layers import truths
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import get_kind, vjp
from examples.layers.slips import course


def course_loop(f, x, dout, h=1e-5):
    """eval_numerical_gradient_array of the course: two forwards per entry."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        pos = f(x).copy()
        x[i] = old - h
        neg = f(x).copy()
        x[i] = old
        grad[i] = np.sum((pos - neg) * dout) / (2 * h)
        it.iternext()
    return grad


def median(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name, kind, forward, backward, inputs, params):
    k = get_kind(kind)
    rng = np.random.default_rng(1)
    spec = LayerSpec(kind, forward, backward, forward.__name__, backward.__name__)
    case = LayerCase(kind, "float64", inputs, params, 0)
    out = forward(*[inputs[n].copy() for n in k.inputs], *[params[n] for n in k.params])[0]
    dout = rng.standard_normal(out.shape)
    truth = vjp(kind, "torch", inputs, params, dout)

    def loop():
        grads = {}
        for n, g in zip(k.inputs, k.grads, strict=True):
            def f(v, n=n):
                args = {**inputs, n: v}
                return forward(*[args[m] for m in k.inputs],
                               *[dict(params[p]) for p in k.params])[0]
            grads[g] = course_loop(f, inputs[n].copy(), dout)
        return grads

    def ours_cold():
        truths._GROUPS.clear()
        return truths.fd_truth(spec, k, case, params, dout)

    def ours_warm():
        return truths.fd_truth(spec, k, case, params, dout)

    t_loop, t_cold, t_warm = median(loop), median(ours_cold), median(ours_warm)
    err_loop = max(np.max(np.abs(v - truth[g])) for g, v in loop().items())
    fd = ours_warm()[0]
    err_ours = max(np.max(np.abs(v - truth[g])) for g, v in fd.items())
    print(f"{name:<28} loop {t_loop * 1e3:8.1f} ms (err {err_loop:.1e})  deltacheck "
          f"{t_warm * 1e3:7.1f} ms warm, {t_cold * 1e3:7.1f} ms with the grouping "
          f"(err {err_ours:.1e})  ratio {t_loop / t_warm:5.1f}x warm, {t_loop / t_cold:5.1f}x cold")


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    bench("conv 2x3x8x8, 4 3x3 filters", "conv", course.conv_forward_naive,
          course.conv_backward_naive,
          {"x": rng.standard_normal((2, 3, 8, 8)), "w": rng.standard_normal((4, 3, 3, 3)),
           "b": rng.standard_normal(4)}, {"conv_param": {"stride": 1, "pad": 1}})
    bench("batchnorm 16x32", "batchnorm", course.batchnorm_forward, course.batchnorm_backward,
          {"x": rng.standard_normal((16, 32)), "gamma": rng.standard_normal(32),
           "beta": rng.standard_normal(32)}, {"bn_param": {"mode": "train"}})
