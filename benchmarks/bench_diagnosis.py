"""What a diagnosis costs beside the check of the same case (torch, jax and fd oracles).

Every seeded bug of ``deltacheck.bugs`` is run on one small network per loss; for each
failing case the check and the diagnosis are timed, and the ratio diagnosis / check printed.

    python benchmarks/bench_diagnosis.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from deltacheck import bugs
from deltacheck.core.case import Case
from deltacheck.diagnosis.diagnose import diagnosis_json
from deltacheck.judging.check import check_case

ORACLES = ("torch", "jax", "fd")


def _case(rng: np.random.Generator, loss: str) -> Case:
    widths, acts = (3, 5, 4, 3), ("tanh", "gelu")
    t = {"mse": rng.normal(size=(4, 3)), "bce": rng.uniform(size=(4, 3)),
         "ce": rng.dirichlet(np.ones(3), size=4)}[loss]
    return Case(widths=widths, activations=acts, loss=loss, dtype="float64",
                weights=[rng.normal(size=(widths[l + 1], widths[l])) / np.sqrt(widths[l])
                         for l in range(3)],
                biases=[0.3 * rng.normal(size=widths[l + 1]) for l in range(3)],
                x=rng.normal(size=(4, 3)), t=t)


def main() -> None:
    """Print the median and worst diagnosis time and its ratio to the check's."""
    rng = np.random.default_rng(0)
    cases = [_case(rng, loss) for loss in ("mse", "bce", "ce")]
    check_case(cases[0], bugs.BUGS[0].backprop, ORACLES)  # framework imports and first calls
    checks, diagnoses = [], []
    for bug in bugs.BUGS:
        for case in cases:
            started = time.perf_counter()
            result = check_case(case, bug.backprop, ORACLES)
            checked = time.perf_counter()
            if result.verdict == "pass":
                continue
            diagnosis_json(result)
            checks.append(checked - started)
            diagnoses.append(time.perf_counter() - checked)
    ratios = [d / c for d, c in zip(diagnoses, checks, strict=True)]
    print(f"{len(ratios)} failing cases; check (torch, jax, fd) median "
          f"{statistics.median(checks) * 1e3:.1f} ms; diagnosis median "
          f"{statistics.median(diagnoses) * 1e3:.1f} ms, max {max(diagnoses) * 1e3:.1f} ms; "
          f"diagnosis / check median {statistics.median(ratios):.2f}, max {max(ratios):.2f}")


if __name__ == "__main__":
    main()
