"""Custom backward passes: deltacheck's ``--as function`` campaign against
torch.autograd.gradcheck and jax.test_util.check_grads on the same functions
(examples/functions/slips.py): bugs caught out of the seeded set, and cases checked per second
on the correct functions. gradcheck and check_grads run as their users run them: on one
hand-picked input (x 3×4, w 4×2, b 2; float64), default tolerances. deltacheck runs its
campaign (EXAMPLES drawn cases, seed 0, torch or jax and fd). Prints the kill table, the rates
and their ratio.

    python benchmarks/bench_custom_backward.py [EXAMPLES]
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import deltacheck
from deltacheck.oracles.layers import functions

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"N": 3, "D": 4, "M": 2}  # the hand-picked shapes gradcheck's users write


def _inputs(fn):
    """One fixed input per signature entry (seeded), and the first value of each param."""
    rng = np.random.default_rng(0)
    sig = fn.deltacheck_signature
    arrays = [rng.standard_normal(tuple(SIZES.get(d, d) for d in dims))
              for dims in sig["inputs"].values()]
    params = [v[0] if isinstance(v, (list, tuple)) else v
              for v in sig.get("params", {}).values()]
    return arrays, params


def framework_check(fn) -> bool:
    """True when gradcheck (torch) or check_grads (jax) reports the function correct."""
    arrays, params = _inputs(fn)
    try:
        if functions.framework_of(fn) == "torch":
            import torch

            xs = tuple(torch.tensor(a, requires_grad=True) for a in arrays)
            return bool(torch.autograd.gradcheck(lambda *x: fn.apply(*x, *params), xs,
                                                 raise_exception=False))
        import jax
        from jax.test_util import check_grads

        with jax.enable_x64(True):
            check_grads(lambda *x: fn(*x, *params), [jax.numpy.asarray(a) for a in arrays],
                        order=1, modes=["rev"])
        return True
    except Exception:  # an error raised is a bug found too
        return False


def deltacheck_check(fn, examples: int) -> tuple[bool, int, float]:
    """(passed, cases, seconds) of deltacheck's campaign on fn."""
    own = functions.framework_of(fn)
    start = time.perf_counter()
    result = deltacheck.check_layer(fn, kind="function", examples=examples, seed=0,
                                    oracles=(own, "fd"))
    return result.passed, result.document["summary"]["cases"], time.perf_counter() - start


def rate_of_framework(fns, repeats: int = 5) -> float:
    """Cases per second of gradcheck / check_grads: one call checks one case."""
    start = time.perf_counter()
    for _ in range(repeats):
        for fn in fns:
            framework_check(fn)
    return repeats * len(fns) / (time.perf_counter() - start)


def main() -> None:
    warnings.simplefilter("ignore")
    examples = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    sys.path.insert(0, str(ROOT / "examples" / "functions"))
    import slips

    rows = []
    print(f"{'slip':<30} {'gradcheck/check_grads':>22} {'deltacheck':>11}")
    for name, slip in slips.SLIPS.items():
        theirs = not framework_check(slip.function)
        ours = not deltacheck_check(slip.function, examples)[0]
        rows.append((theirs, ours))
        print(f"{name:<30} {'caught' if theirs else 'MISSED':>22} "
              f"{'caught' if ours else 'MISSED':>11}")
    correct = list(slips.CORRECT.values())
    false_theirs = sum(not framework_check(fn) for fn in correct)
    runs = {fn: deltacheck_check(fn, examples) for fn in correct}
    false_ours = sum(not passed for passed, _, _ in runs.values())
    caught_theirs, caught_ours = (sum(r[i] for r in rows) for i in (0, 1))
    print(f"bugs caught: gradcheck/check_grads {caught_theirs} of {len(rows)}, deltacheck "
          f"{caught_ours} of {len(rows)}")
    print(f"false alarms on the {len(correct)} correct functions: gradcheck/check_grads "
          f"{false_theirs}, deltacheck {false_ours}")
    for framework, theirs in (("torch", "gradcheck"), ("jax", "check_grads")):
        fns = [fn for fn in correct if functions.framework_of(fn) == framework]
        ours_rate = sum(runs[fn][1] for fn in fns) / sum(runs[fn][2] for fn in fns)
        theirs_rate = rate_of_framework(fns)
        print(f"{framework} ({len(fns)} correct functions), cases checked per second: "
              f"{theirs} {theirs_rate:.1f} (one hand-picked input per call), deltacheck "
              f"{ours_rate:.1f} (drawn cases, {examples} per function); ratio "
              f"deltacheck/{theirs} {ours_rate / theirs_rate:.2f}")

if __name__ == "__main__":
    main()
