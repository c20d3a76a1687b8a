"""The fd oracle against torch.autograd.gradcheck, and its memory on large networks.

Run from the repository root:  python benchmarks/bench_fd.py [--repeats 15]

Subject: ``oracles.fd.gradients`` on a 16-32-32-4 tanh MLP, batch 8, float64, mse: E, δ of
every layer, ∂W and ∂b, with error bars and kink masks. Anchor: ``torch.autograd.gradcheck``
in slow mode (``fast_mode=False``) checking ∂E/∂W and ∂E/∂b only, on the same network. Both
run in each repeat, in alternating order; the script prints their medians, the ratio, the
normwise error of fd's values against torch autograd, and the largest fd error bar relative
to its quantity.

Then, with ``--large``: the fd oracle on a network of the largest sizes that
``deltacheck run --max-width 256 --max-batch 64`` draws (5 layers, width 256, batch 64): its
time and its peak memory (tracemalloc, numpy's allocations included).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
import tracemalloc
from typing import Any

import numpy as np
import torch

from deltacheck.judging.check import activation_objects
from deltacheck.oracles import fd, torch_oracle


def _network(rng: np.random.Generator, widths: tuple[int, ...], batch: int) -> dict[str, Any]:
    L = len(widths) - 1
    return {"weights": [rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
                        for l in range(L)],
            "biases": [0.5 * rng.normal(size=widths[l + 1]) for l in range(L)],
            "x": rng.normal(size=(batch, widths[0])), "t": rng.normal(size=(batch, widths[-1])),
            "acts": activation_objects(["tanh"] * (L - 1))}


def _gradcheck(net: dict[str, Any]) -> bool:
    """torch.autograd.gradcheck, slow mode, on ∂E/∂W and ∂E/∂b of the same network."""
    W = [torch.tensor(w, requires_grad=True) for w in net["weights"]]
    b = [torch.tensor(v, requires_grad=True) for v in net["biases"]]
    x, t = torch.tensor(net["x"]), torch.tensor(net["t"])
    L = len(W)

    def energy(*params: torch.Tensor) -> torch.Tensor:
        z = x
        for l in range(L):
            a = z @ params[l].T + params[L + l]
            z = torch.tanh(a) if l < L - 1 else a
        return 0.5 * ((z - t) ** 2).sum()

    return torch.autograd.gradcheck(energy, (*W, *b), fast_mode=False)


def _fd(net: dict[str, Any]) -> Any:
    return fd.gradients(net["weights"], net["biases"], net["acts"], "mse", net["x"], net["t"])


def _timed(fn: Any, *args: Any) -> float:
    gc.disable()
    try:
        start = time.perf_counter()
        fn(*args)
        return time.perf_counter() - start
    finally:
        gc.enable()


def _normwise(mine: Any, ref: Any) -> float:
    worst = 0.0
    for key in ("deltas", "grad_weights", "grad_biases"):
        for x, y in zip(mine.quantity(key), ref.quantity(key), strict=True):
            worst = max(worst, float(np.linalg.norm(x - y) / np.linalg.norm(y)))
    return worst


def main() -> None:
    """Time both, print medians and the ratio; optionally the large network's memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--large", action="store_true",
                        help="also run fd on a 5-layer, width-256, batch-64 network")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the torch oracle runs; gradcheck's tiny ops gain nothing
    load = os.getloadavg()
    print(f"load: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    net = _network(np.random.default_rng(0), (16, 32, 32, 4), batch=8)
    n_params = sum(w.size + v.size for w, v in zip(net["weights"], net["biases"], strict=True))
    assert _gradcheck(net)
    times: dict[str, list[float]] = {"gradcheck slow (∂W, ∂b)": [], "fd oracle (E, δ, ∂W, ∂b)": []}
    for r in range(args.repeats):
        order = list(times) if r % 2 == 0 else list(reversed(times))
        for label in order:
            fn = _gradcheck if label.startswith("gradcheck") else _fd
            times[label].append(_timed(fn, net))
    anchor = statistics.median(times["gradcheck slow (∂W, ∂b)"])
    print(f"16-32-32-4 tanh MLP, batch 8, float64, mse ({n_params} parameters); "
          f"medians of {args.repeats}")
    for label, t in times.items():
        med = statistics.median(t)
        print(f"  {label:28s} {1e3 * med:9.2f} ms   gradcheck / this = {anchor / med:7.1f}")
    mine = _fd(net)
    ref = torch_oracle.gradients(net["weights"], net["biases"], net["acts"], "mse", net["x"],
                                 net["t"])
    bar = max(float(np.max(u) / np.max(np.abs(y)))
              for key in ("deltas", "grad_weights", "grad_biases")
              for u, y in zip(mine.uncertainty[key], ref.quantity(key), strict=True))
    print(f"  fd normwise error against torch autograd: {_normwise(mine, ref):.2e} "
          f"(largest error bar / max |value| of its quantity: {bar:.1e})")
    if args.large:
        big = _network(np.random.default_rng(1), (256,) * 6, batch=64)
        tracemalloc.start()
        seconds = _timed(_fd, big)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"5 layers, width 256, batch 64 (329,000 parameters): fd {seconds:.1f} s, "
              f"peak traced memory {peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
