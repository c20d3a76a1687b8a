"""Real sizes (``--widths``): per-case cost, peak memory and error bars of each oracle at
784-30-10, 784-100-10 and 3072-100-10, batch 64, against ``torch.autograd.gradcheck`` fast
mode on the same cases.

Run from the repository root:

    nice -n 10 python benchmarks/bench_widths.py [--cases 8] [--activation sigmoid] [--loss ce]

Each network runs in a fresh process (so its peak memory is its own): the cases are
``campaign.exact.exact_case`` of seeds 0..cases−1 (what ``deltacheck run --widths`` checks),
each oracle is warmed up on the first case (imports, JAX's compilation) and then timed alone on
every case, the implementation (the reference) included; then all three together, as a
campaign checks a case (JAX computing beside the others). ``gradcheck`` checks torch's own
autograd of E with respect to every W and b in fast mode (one random projection of the
Jacobian against central differences), on one torch thread as the torch oracle runs; it does not
check δ, and it checks no hand-written code: it is the cost of the cheapest framework check.

Error bars: for every oracle the worst judged error over the cases (the comparison's
err: |impl − oracle| against the oracle's allowance) beside its rtol, and how many entries it
left unresolved or not judged. Peak memory: the process's maximum resident set, and what the
checking added to it after the imports and warm-up case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

NETWORKS = ("784,30,10", "784,100,10", "3072,100,10")
ORACLES = ("torch", "jax", "fd")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _gradcheck_seconds(case: Any) -> tuple[float, bool]:
    """Seconds of one fast-mode gradcheck of ∂E/∂W, ∂E/∂b on the case, and whether it passed."""
    import torch

    from deltacheck.judging.check import activation_objects
    from deltacheck.oracles import torch_oracle

    hidden = [torch_oracle._hidden(a, torch) for a in activation_objects(case.activations)]
    x = torch.tensor(case.x, dtype=torch.float64)
    t = torch.tensor(case.t, dtype=torch.float64)
    L = case.n_layers

    def energy(*params: Any) -> Any:
        z = x
        for l in range(L):
            a = z @ params[l].T + params[L + l]
            z = hidden[l](a) if l < L - 1 else a
        return torch_oracle._loss(case.loss, z, t, torch)

    params = tuple(torch.tensor(w, dtype=torch.float64, requires_grad=True)
                   for w in (*case.weights, *case.biases))
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(energy, params, fast_mode=True, raise_exception=False)
    return time.perf_counter() - start, bool(ok)


def one(widths: str, n_cases: int, activation: str, loss: str) -> dict[str, Any]:
    """Measure one network in this process."""
    import torch

    from deltacheck import reference_impl
    from deltacheck.campaign.exact import exact_case
    from deltacheck.judging.check import check_case

    torch.set_num_threads(1)
    n = tuple(int(w) for w in widths.split(","))
    cases = [exact_case(n, (activation,) * (len(n) - 2), loss, "float64", 64, seed)
             for seed in range(n_cases)]
    for oracle in ORACLES:  # imports, compilation, first graphs
        check_case(cases[0], reference_impl.backprop, [oracle])
    _gradcheck_seconds(cases[0])
    warm = _rss_mb()
    out: dict[str, Any] = {"widths": widths, "cases": n_cases, "batch": 64,
                           "activation": activation, "loss": loss, "oracles": {}}
    for oracle in ORACLES:
        times, errs, rtol, unresolved, not_judged = [], [], 0.0, 0, 0
        for case in cases:
            start = time.perf_counter()
            result = check_case(case, reference_impl.backprop, [oracle])
            times.append(time.perf_counter() - start)
            r = result.oracles[oracle]
            errs.append(r.err)
            rtol = r.rtol
            unresolved += sum(q.unresolved for q in r.quantities)
            not_judged += r.not_judged
        out["oracles"][oracle] = {"median_s": statistics.median(times), "max_s": max(times),
                                  "worst_err": max(errs), "rtol": rtol,
                                  "unresolved": unresolved, "not_judged": not_judged}
    together = []
    for case in cases:
        start = time.perf_counter()
        check_case(case, reference_impl.backprop, list(ORACLES))
        together.append(time.perf_counter() - start)
    out["all_three_median_s"] = statistics.median(together)
    grad = [_gradcheck_seconds(case) for case in cases]
    out["gradcheck_fast_median_s"] = statistics.median(s for s, _ in grad)
    out["gradcheck_passed"] = sum(ok for _, ok in grad)
    out["peak_rss_mb"] = _rss_mb()
    out["added_rss_mb"] = _rss_mb() - warm
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--activation", default="sigmoid")
    parser.add_argument("--loss", default="ce")
    parser.add_argument("--networks", default=",".join(n.replace(",", "-") for n in NETWORKS),
                        help="comma-separated, each as 784-30-10")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.cases, args.activation, args.loss)))
        return
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"batch 64, {args.activation} hidden, {args.loss}, float64, {args.cases} cases each; "
          f"one torch thread; load {load}")
    print(f"{'network':<12} {'oracle':<10} {'median/case':>12} {'max':>9} {'worst err':>10} "
          f"{'rtol':>7} {'unresolved':>10} {'not judged':>10}")
    for net in args.networks.split(","):
        widths = net.replace("-", ",")
        proc = subprocess.run([sys.executable, __file__, "--one", widths, "--cases",
                               str(args.cases), "--activation", args.activation, "--loss",
                               args.loss], capture_output=True, text=True)
        if proc.returncode:
            print(f"{net}: failed\n{proc.stderr[-2000:]}")
            continue
        m = json.loads(proc.stdout.strip().splitlines()[-1])
        for oracle, o in m["oracles"].items():
            print(f"{net:<12} {oracle:<10} {o['median_s'] * 1e3:>10.1f}ms "
                  f"{o['max_s'] * 1e3:>7.1f}ms {o['worst_err']:>10.1e} {o['rtol']:>7.0e} "
                  f"{o['unresolved']:>10} {o['not_judged']:>10}")
        print(f"{net:<12} {'all three':<10} {m['all_three_median_s'] * 1e3:>10.1f}ms")
        print(f"{net:<12} {'gradcheck':<10} {m['gradcheck_fast_median_s'] * 1e3:>10.1f}ms  "
              f"(fast mode, ∂W and ∂b of torch's own autograd; passed "
              f"{m['gradcheck_passed']}/{m['cases']})")
        print(f"{net:<12} peak memory {m['peak_rss_mb']:.0f} MB (checking added "
              f"{m['added_rss_mb']:.0f} MB after the warm-up)")


if __name__ == "__main__":
    main()
