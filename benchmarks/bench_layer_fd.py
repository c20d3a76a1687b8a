"""Finite differences of a layer against a per-entry loop like the course's
eval_numerical_gradient_array, on conv 2×3×8×8 with four 3×3 filters and batchnorm 16×32:

- deltacheck's differences of the user's own forward (entries that do not interact perturbed
  together, the error bar included), warm (the groups known for the shape) and cold (the
  grouping probe included); target 5× the loop;
- the differences of the numpy reference with every perturbation of an input in one call
  (``oracles.layers.folded.reference_fd``, with the same groups); target 50× the loop.

Each is timed as the median of ``--repeat`` runs on one draw of the inputs. Its error is
measured against the gradients computed in extended precision (numpy's longdouble), so that the
comparison is not one of float64 rounding in the truth: the largest error over every gradient
entry, as the median over ``--draws`` draws of the inputs and dout (one draw's largest is a
matter of which rounding it meets), and the median error over all entries of all draws.

    python benchmarks/bench_layer_fd.py [--repeat 5] [--draws 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from deltacheck.layers import grouping, truths
from deltacheck.layers.discovery import LayerSpec
from deltacheck.layers.draws import LayerCase
from deltacheck.oracles.layers import folded, get_kind
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


def exact_conv(inputs, params, dout):
    """dx, dw, db of ⟨dout, conv(x, w, b)⟩ (stride 1) in longdouble."""
    L = np.longdouble
    x, w, dout = (np.asarray(v, dtype=L) for v in (inputs["x"], inputs["w"], dout))
    pad = params["conv_param"]["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, _, HH, WW = w.shape
    Ho, Wo = dout.shape[2:]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for k in range(HH):
        for l in range(WW):
            seen = xp[:, :, k:k + Ho, l:l + Wo]
            dw[:, :, k, l] = np.einsum("nfhw,nchw->fc", dout, seen)
            dxp[:, :, k:k + Ho, l:l + Wo] += np.einsum("nfhw,fc->nchw", dout, w[:, :, k, l])
    return {"dx": dxp[:, :, pad:-pad or None, pad:-pad or None], "dw": dw,
            "db": dout.sum(axis=(0, 2, 3))}


def exact_batchnorm(inputs, params, dout):
    """dx, dgamma, dbeta of ⟨dout, batchnorm_train(x)⟩ (biased variance) in longdouble."""
    L = np.longdouble
    x, gamma, dout = (np.asarray(v, dtype=L) for v in (inputs["x"], inputs["gamma"], dout))
    eps = L(params["bn_param"].get("eps", 1e-5))
    N = x.shape[0]
    mu = x.mean(axis=0)
    sigma = np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    xhat = (x - mu) / sigma
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * sigma)
    return {"dx": dx, "dgamma": (dout * xhat).sum(axis=0), "dbeta": dout.sum(axis=0)}


def errors(got, truth):
    """The largest and the median |error| over every gradient entry."""
    every = np.concatenate([np.abs(np.asarray(got[g], np.longdouble) - truth[g]).reshape(-1)
                            for g in truth]).astype(np.float64)
    return float(every.max()), float(np.median(every))


def median(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(name, kind, forward, backward, draw, exact, repeat, draws):
    k = get_kind(kind)
    spec = LayerSpec(kind, forward, backward, forward.__name__, backward.__name__)
    found: dict[str, list] = {"loop": [], "ours": [], "reference": []}
    for seed in range(draws):
        inputs, params = draw(np.random.default_rng(seed))
        case = LayerCase(kind, "float64", inputs, params, 0)
        out = forward(*[inputs[n].copy() for n in k.inputs], *[params[n] for n in k.params])[0]
        dout = np.random.default_rng(100 + seed).standard_normal(out.shape)
        truth = exact(inputs, params, dout)

        def loop(inputs=inputs, params=params, dout=dout):
            grads = {}
            for n, g in zip(k.inputs, k.grads, strict=True):
                def f(v, n=n):
                    args = {**inputs, n: v}
                    return forward(*[args[m] for m in k.inputs],
                                   *[dict(params[p]) for p in k.params])[0]
                grads[g] = course_loop(f, inputs[n].copy(), dout)
            return grads

        def ours_cold(case=case, params=params, dout=dout):
            grouping.forget()
            return truths.fd_truth(spec, k, case, params, dout)

        def ours_warm(case=case, params=params, dout=dout):
            return truths.fd_truth(spec, k, case, params, dout)

        def reference(inputs=inputs, params=params, dout=dout, case=case):
            # with the groups of the shape, as the user's forward warm
            return folded.reference_fd(kind, inputs, params, dout, truths.STEP,
                                       truths.groups(k, case, params))

        if seed == 0:
            t_loop = median(loop, repeat)
            t_cold, t_warm = median(ours_cold, repeat), median(ours_warm, repeat)
            t_ref = median(reference, repeat)
        found["loop"].append(errors(loop(), truth))
        found["ours"].append(errors(ours_warm()[0], truth))
        found["reference"].append(errors(reference(), truth))
    e = {n: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
         for n, v in found.items()}
    print(f"{name}: error = largest (median of {draws} draws) / median, against longdouble")
    print(f"  loop                 {t_loop * 1e3:9.1f} ms  error {e['loop'][0]:.1e} / "
          f"{e['loop'][1]:.1e}")
    print(f"  user's forward, warm {t_warm * 1e3:9.1f} ms  error {e['ours'][0]:.1e} / "
          f"{e['ours'][1]:.1e}  {t_loop / t_warm:6.1f}x the loop (target 5x)")
    print(f"  user's forward, cold {t_cold * 1e3:9.1f} ms  (the grouping probe included)"
          f"       {t_loop / t_cold:6.1f}x")
    print(f"  reference, one call  {t_ref * 1e3:9.1f} ms  error {e['reference'][0]:.1e} / "
          f"{e['reference'][1]:.1e}  {t_loop / t_ref:6.1f}x the loop (target 50x)", flush=True)


def conv_draw(rng):
    return ({"x": rng.standard_normal((2, 3, 8, 8)), "w": rng.standard_normal((4, 3, 3, 3)),
             "b": rng.standard_normal(4)}, {"conv_param": {"stride": 1, "pad": 1}})


def batchnorm_draw(rng):
    return ({"x": rng.standard_normal((16, 32)), "gamma": rng.standard_normal(32),
             "beta": rng.standard_normal(32)}, {"bn_param": {"mode": "train"}})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    bench("conv 2x3x8x8, 4 3x3 filters", "conv", course.conv_forward_naive,
          course.conv_backward_naive, conv_draw, exact_conv, args.repeat, args.draws)
    bench("batchnorm 16x32", "batchnorm", course.batchnorm_forward, course.batchnorm_backward,
          batchnorm_draw, exact_batchnorm, args.repeat, args.draws)
