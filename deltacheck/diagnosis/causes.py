"""The causes a first wrong quantity can have: each classic slip of its step, tried in turn.

Each step's candidates are the values the implementation would return with one slip (h' at
z, a missing h', another activation's h', a transposed or wrong W, the logits for y, a
instead of z, a subset of the samples, a weight decay, a constant factor, a flipped sign);
the first that reproduces the implementation's value within the comparison's own allowance,
carried through the step, names the kind. Kinds that hold across a whole case (nan and inf,
overflow, float32 rounding in a float64 run, a kink) are checked before any step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deltacheck.core.verdicts import FAIL
from deltacheck.diagnosis.evidence import (
    CANDIDATE_SLACK,
    OUTPUT_NAME,
    Evidence,
    distinct_digits,
    fits,
    float32_numbers,
    fraction_text,
    output_of,
    ratio,
    sample_losses,
    samples_text,
    simple_ratio,
    slope,
    subset,
)
from deltacheck.judging.records import first_wrong, json_number, walk_order

# Errors at or below this share of a quantity's scale, in a float64 run, are rounding of a
# narrower dtype (float32's ε is 1.2e-7; sums of a few dozen terms stay within ~1e3 ε).
PRECISION_SHARE = 2.0 ** -13
PRECISION_LOW = float(np.finfo(np.float32).eps) / 16  # below this, not float32 rounding
KINK_REACH = 1e-3  # |a − kink| within this (relative to max(1, |kink|)) counts as near a kink
# h'(a) written for the output z = h(a): the slip is to feed it a instead of z.
IN_TERMS_OF_Z: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "tanh": ("1 − z²", lambda u: 1.0 - u * u),
    "sigmoid": ("z (1 − z)", lambda u: u * (1.0 - u)),
    "softplus": ("1 − e^(−z)", lambda u: -np.expm1(-u)),
    "elu": ("z + 1 for z ≤ 0", lambda u: np.where(u > 0, 1.0, u + 1.0)),
}


class Causes(Evidence):
    """Classifies the first wrong quantity of one case, and checks every layer's steps."""

    def generic(self, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray,
                what: str, *, hidden: bool = False) -> tuple[str, str] | None:
        """A constant factor or a sign flip between x and what it should be.

        One entry fits any ratio, so alone it is evidence only for a simple one (2, 1/N, −1);
        in a hidden δ step, only for a sign: any other lone ratio is a wrong h' there.
        """
        r = ratio(x, xhat, tol, mask)
        if r is None:
            return None
        if int((mask & (xhat != 0)).sum()) < 2:
            if not simple_ratio(r, self.N) or (hidden and abs(r + 1) > 1e-6):
                return None
        if abs(r + 1) <= 1e-6:
            return "sign", f"{what} has the opposite sign of what it should be"
        return "factor", f"{what} is {fraction_text(r, self.N)} times what it should be"

    def rows_wrong(self, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray
                   ) -> tuple[str, str] | None:
        with np.errstate(all="ignore"):
            wrong = (~(np.abs(x - xhat) <= tol) & mask).any(axis=1)
        if wrong.any() and not wrong.all() and self.N > 1:
            return "per_sample", (f"only {samples_text(wrong)} of {self.N} are wrong; the other "
                                  f"samples are right")
        return None

    def wrong_entries(self, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
                      mask: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return ~(np.abs(x - xhat) <= tol) & mask

    def targets_nudged(self, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
                       mask: np.ndarray) -> tuple[str, str] | None:
        """Wrong only where t is exactly 0 or 1, all by one tiny amount: t clipped or floored."""
        wrong = self.wrong_entries(x, xhat, tol, mask)
        t = self.net.t
        if not wrong.any() or not np.isin(t[wrong], (0.0, 1.0)).all():
            return None
        off = np.abs(x - xhat)[wrong]
        if not np.allclose(off, off[0], rtol=1e-3, atol=0) or float32_numbers(x[wrong]):
            return None
        return "output_error", (f"the output δ is off by {off[0]:.2g} exactly where the target is "
                                f"0 or 1: the targets are clipped or floored away from 0 and 1")

    def clipped(self, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray, mask: np.ndarray,
                what: str) -> tuple[str, str] | None:
        """Wrong only where |x̂| exceeds one bound c, and there x = ±c: x is clipped."""
        wrong = self.wrong_entries(x, xhat, tol, mask)
        if not wrong.any():
            return None
        c = np.abs(x[wrong])
        if not (np.allclose(c, c[0], rtol=1e-12, atol=0) and (np.abs(xhat[wrong]) > c[0]).all()
                and (np.sign(x[wrong]) == np.sign(xhat[wrong])).all()):
            return None
        return "output_error", f"{what} is clipped to ±{c[0]:.6g}"

    def loss_kind(self) -> tuple[str, str]:
        x, y = float(self.impl.loss), float(self.truth.loss)
        grads_right = all(self.verdict(q, l) != FAIL for q, l in walk_order(self.L)[1:])
        if not grads_right:
            r = x / y if y else float("nan")
            if np.isfinite(r) and all(self.scaled_by(q, l, r) for q, l in self.failing()[1:]):
                return "factor", (f"E and every gradient are {fraction_text(r, self.N)} times "
                                  f"what they should be")
            kind, detail = self.classify(*self.first_of_rest())
            xs, ys = distinct_digits(x, y)
            return kind, f"{detail}; E is wrong too ({xs} instead of {ys})"
        per = sample_losses(self.net.loss, self.net.a[-1], self.net.t)
        tol = np.array(self.allowed("loss", None)) + CANDIDATE_SLACK * abs(y)
        keep = subset(np.array(x), per, tol, np.array(True))
        if keep is not None:
            return "loss_value", (f"E sums only {samples_text(keep)} of {self.N}; the gradients "
                                  f"are right")
        if y != 0 and np.isfinite(x / y) and simple_ratio(x / y, self.N):
            return "loss_value", (f"E is {fraction_text(x / y, self.N)} times what it should be; "
                                  f"the gradients are right")
        xs, ys = distinct_digits(x, y)
        return "loss_value", (f"E = {xs}, but should be {ys} (off by {x - y:.3g}); the "
                              f"gradients are right")

    def scaled_by(self, q: str, l: int | None, r: float) -> bool:
        """Whether the implementation's (q, l) is r times the truth's."""
        x, y = self.values(q, l)
        found = ratio(x, y, self.tol_with_slack(self.allowed(q, l), y), self.judged(q, l))
        return found is not None and abs(found - r) <= 1e-6 * abs(r)

    def first_of_rest(self) -> tuple[str, int | None]:
        verdicts = {k: r.verdict for k, r in self.res.items() if k[0] != "loss"}
        found = first_wrong(verdicts, self.L)
        assert found is not None
        return found

    def output_kind(self) -> tuple[str, str]:
        l = self.L - 1
        x, y, t, a = self.impl.deltas[l], self.net.y, self.net.t, self.net.a[l]
        xhat = y - t
        tol = self.allowed("deltas", l)  # y − t needs no slack: no difference quotient in it
        mask = self.judged("deltas", l)
        name = OUTPUT_NAME[self.net.loss]
        cands: list[tuple[str, str, np.ndarray]] = [
            ("output_error", "δ uses the logits a instead of y = g(a): a − t", a - t)]
        if self.net.loss == "bce":
            cands.append(("output_error", "δ = (y − t) σ'(a): the sigmoid's derivative, which "
                          "the bce pairing cancels, is applied again", xhat * y * (1 - y)))
        if self.net.loss == "ce":
            cands.append(("output_error", "δ = (y − t) y (1 − y): the softmax's diagonal "
                          "derivative, which the ce pairing cancels, is applied again",
                          xhat * y * (1 - y)))
        for other, g in (("identity", lambda v: v), ("sigmoid", lambda v: output_of("bce", v)),
                         ("softmax", lambda v: output_of("ce", v))):
            if other != name:
                cands.append(("output_error", f"δ = y − t with y = {other}(a), but the "
                              f"{self.net.loss} output is {name}", g(a) - t))
        for kind, detail, cand in cands:
            if fits(x, cand, self.tol_with_slack(tol, cand), mask):
                return kind, detail
        return (self.generic(x, xhat, tol, mask, "the output δ")
                or self.targets_nudged(x, xhat, tol, mask)
                or self.clipped(x, xhat, tol, mask, "the output δ")
                or self.rows_wrong(x, xhat, tol, mask)
                or ("output_error", f"the output δ is not y − t for {self.net.loss} with a "
                                    f"{name} output"))

    def hidden_candidates(self, l: int) -> list[tuple[str, str, str, np.ndarray]]:
        """(kind, detail, short label, δ[l] it would give) for each slip in one δ step."""
        act, a, z = self.net.acts[l], self.net.a[l], self.net.z[l + 1]
        P, _, _ = self.delta_step(l)
        head = f"{act.name} (layer {l})"
        h = "activation_derivative"
        with np.errstate(all="ignore"):
            cands = [(h, f"h' of {head} is evaluated at z = h(a) instead of at a", "h'(z)",
                      slope(act, z) * P),
                     (h, f"h'(a) of {head} is missing from δ = h'(a) Σ w δ", "no h'", P),
                     (h, f"h(a) of {head} is used in place of h'(a)", "h(a) for h'", z * P)]
            if act.name in IN_TERMS_OF_Z:
                formula, g = IN_TERMS_OF_Z[act.name]
                cands.append((h, f"h' of {head} is computed as {formula} from a instead of "
                              f"from z = h(a)", f"{formula} of a", g(a) * P))
            for other in self.registry.values():
                if other.name != act.name:
                    cands.append((h, f"{head} uses {other.name}'s h' instead of its own",
                                  f"{other.name}'s h'", slope(other, a) * P))
            W, d = self.net.W[l + 1], self.impl.deltas[l + 1]
            if W.shape[0] == W.shape[1]:
                cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} through "
                              f"W[{l + 1}]ᵀ instead of W[{l + 1}]", f"W[{l + 1}]ᵀ",
                              self.slopes[l] * (d @ W.T)))
            elif W.size > 1:
                cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} through "
                              f"W[{l + 1}]ᵀ reshaped to W's shape instead of W[{l + 1}]",
                              "reshaped W", self.slopes[l] * (d @ W.T.reshape(W.shape))))
            for k, Wk in enumerate(self.net.W):
                if k != l + 1 and Wk.shape == W.shape:
                    cands.append(("transpose", f"δ[{l + 1}] is propagated to layer {l} "
                                  f"through W[{k}] instead of W[{l + 1}]", f"W[{k}]",
                                  self.slopes[l] * (d @ Wk)))
        return cands

    def hidden_kind(self, l: int) -> tuple[str, str]:
        x = self.impl.deltas[l]
        _, xhat, tol = self.delta_step(l)
        mask = self.judged("deltas", l)
        for kind, detail, _, cand in self.hidden_candidates(l):
            if fits(x, cand, self.tol_with_slack(tol, cand), mask):
                return kind, detail
        tol = self.tol_with_slack(tol, xhat)
        found = self.generic(x, xhat, tol, mask, f"δ[{l}] (from the implementation's own "
                                                 f"δ[{l + 1}])", hidden=True)
        if found:
            kind, detail = found
            if kind == "factor":
                detail = f"layer {l} ({self.net.acts[l].name}): " + detail
            return kind, detail
        return (self.one_side(l, x, xhat, tol, mask)
                or self.rows_wrong(x, xhat, tol, mask)
                or self.implied_slope(l, x, tol, mask)
                or ("unknown", f"layer {l} ({self.net.acts[l].name}): δ[{l}] does not follow "
                               f"from the implementation's own δ[{l + 1}] by h'(a) Σ w δ, and "
                               f"no single slip in h' or W explains it"))

    def one_side(self, l: int, x: np.ndarray, xhat: np.ndarray, tol: np.ndarray,
                 mask: np.ndarray) -> tuple[str, str] | None:
        """Wrong only on one side of a = 0 and right on the other: one branch of h' is wrong."""
        wrong = self.wrong_entries(x, xhat, tol, mask)
        a = self.net.a[l]
        for side, text in ((a > 0, "a > 0"), (a <= 0, "a ≤ 0")):
            if wrong.any() and not (wrong & ~side).any() and (mask & ~side & ~wrong).any():
                return "activation_derivative", (
                    f"h' of {self.net.acts[l].name} (layer {l}) is wrong only for {text} "
                    f"({self.slope_example(l, x, wrong)}), right on the other side")
        return None

    def implied_slope(self, l: int, x: np.ndarray, tol: np.ndarray, mask: np.ndarray
                      ) -> tuple[str, str] | None:
        """x / Σ w δ has the sign of h'(a) wherever x is wrong: a wrong h', not a wrong W."""
        P, xhat, _ = self.delta_step(l)
        wrong = self.wrong_entries(x, xhat, tol, mask)
        with np.errstate(all="ignore"):
            implied = x / P
        g = self.slopes[l]
        usable = wrong & (P != 0) & (g != 0)
        if not usable.any() or not (np.sign(implied[usable]) == np.sign(g[usable])).all():
            return None
        return "activation_derivative", (f"h' of {self.net.acts[l].name} (layer {l}) is wrong "
                                         f"({self.slope_example(l, x, wrong)})")

    def slope_example(self, l: int, x: np.ndarray, wrong: np.ndarray) -> str:
        """At the worst wrong entry: a, h'(a) and the implementation's implied h'."""
        P, xhat, _ = self.delta_step(l)
        n, j = np.unravel_index(int(np.argmax(np.where(wrong, np.abs(x - xhat), -1))), x.shape)
        with np.errstate(all="ignore"):
            implied = x[n, j] / P[n, j]
        return (f"at a = {self.net.a[l][n, j]:.4g} the implied h' is {implied:.6g}, h'(a) is "
                f"{self.slopes[l][n, j]:.6g}")

    def weight_kind(self, l: int) -> tuple[str, str]:
        x = self.impl.grad_weights[l]
        xhat, tol = self.weight_step(l)
        tol = self.tol_with_slack(tol, xhat)
        mask = self.judged("grad_weights", l)
        d = self.impl.deltas[l]
        cands: list[tuple[str, str, np.ndarray]] = []
        if l >= 1:
            cands.append(("assembly", f"∂W[{l}] uses the pre-activation a[{l - 1}] instead of "
                          f"z[{l}] = h(a[{l - 1}])", d.T @ self.net.a[l - 1]))
        for k, zk in enumerate(self.net.z):
            if k != l and zk.shape[1] == self.net.z[l].shape[1]:
                cands.append(("assembly", f"∂W[{l}] uses layer {k}'s input z[{k}] instead of "
                              f"z[{l}]", d.T @ zk))
        if xhat.shape[0] == xhat.shape[1]:
            cands.append(("transpose", f"∂W[{l}] is transposed (zᵀ δ instead of δᵀ z)",
                          xhat.T))
        elif xhat.size > 1:
            cands.append(("transpose", f"∂W[{l}] is zᵀ δ reshaped to W's shape instead of "
                          f"transposed", xhat.T.reshape(xhat.shape)))
        for kind, detail, cand in cands:
            if fits(x, cand, self.tol_with_slack(tol, cand), mask):
                return kind, detail
        W = self.net.W[l]
        lam = float(((x - xhat) * W).sum() / (W * W).sum()) if (W * W).sum() > 0 else 0.0
        if lam != 0 and int(mask.sum()) >= 2 and fits(x, xhat + lam * W, tol, mask):
            return "assembly", f"∂W[{l}] adds {lam:.3g} W[{l}] (a weight decay) to δᵀ z"
        found = self.generic(x, xhat, tol, mask, f"∂W[{l}] (from the implementation's own "
                                                 f"δ[{l}])")
        if found:
            return found
        keep = subset(x, d[:, :, None] * self.net.z[l][:, None, :], tol, mask)
        if keep is not None:
            return "per_sample", f"∂W[{l}] sums only {samples_text(keep)} of {self.N}"
        return "assembly", (f"∂W[{l}] is not δ[{l}]ᵀ z[{l}] of the implementation's own "
                            f"δ[{l}], which is right")

    def bias_kind(self, l: int) -> tuple[str, str]:
        x = self.impl.grad_biases[l]
        xhat, tol = self.bias_step(l)
        tol = self.tol_with_slack(tol, xhat)
        mask = self.judged("grad_biases", l)
        found = self.generic(x, xhat, tol, mask, f"∂b[{l}] (from the implementation's own "
                                                 f"δ[{l}])")
        if found:
            return found
        keep = subset(x, self.impl.deltas[l], tol, mask)
        if keep is not None:
            return "per_sample", f"∂b[{l}] sums only {samples_text(keep)} of {self.N}"
        if not np.any(x[mask]):
            return "assembly", f"∂b[{l}] is zero; it should be Σ_n δ[{l}]"
        return "assembly", (f"∂b[{l}] is not Σ_n δ[{l}] of the implementation's own δ[{l}], "
                            f"which is right")

    def classify(self, q: str, l: int | None) -> tuple[str, str]:
        """The kind and detail of a bug whose first wrong quantity is (q, l)."""
        if q == "loss":
            return self.loss_kind()
        if q == "output_delta":
            return self.output_kind()
        if q == "hidden_delta":
            assert l is not None
            return self.hidden_kind(l)
        assert l is not None
        return self.weight_kind(l) if q == "grad_weights" else self.bias_kind(l)

    # kinds that hold across the whole case
    def kind_of(self, q: str, l: int | None) -> tuple[str, str]:
        """The kind and detail of a case whose first wrong quantity is (q, l)."""
        nudged = None
        if q == "output_delta":  # before precision: a nudge of 1e-7 looks like float32 rounding
            x, xhat = self.impl.deltas[-1], self.net.y - self.net.t
            mask = self.judged("deltas", self.L - 1)
            nudged = self.targets_nudged(
                x, xhat, self.allowed("deltas", self.L - 1), mask)
        return (self.nonfinite_kind() or nudged or self.precision_kind()
                or self.near_kink_kind(q, l) or self.classify(q, l))

    def nonfinite_kind(self) -> tuple[str, str] | None:
        """nan or inf where the truth is finite; overflow when |a| is past exp's range."""
        nonfinite = not np.isfinite(self.impl.loss)
        for key in ("deltas", "grad_weights", "grad_biases"):
            nonfinite |= not all(np.isfinite(v).all() for v in self.impl.quantity(key))
        # e^a overflows past ln(max) (709.8 in float64, 88.7 in float32); a sum of up to 16
        # such terms a little earlier.
        big = float(np.log(np.finfo(self.case.dtype).max)) - np.log(16.0)
        reach = np.max([np.abs(a).max(axis=1) for a in self.net.a], axis=0)
        if nonfinite and (reach > big).any():
            return "overflow", (f"nan or inf where the truth is finite, in a case whose "
                                f"pre-activations reach |a| = {reach.max():.4g}, past exp's "
                                f"range in {self.case.dtype} (e^a overflows beyond "
                                f"{big + np.log(16.0):.1f}): compute h, y and E in a stable "
                                f"form (logaddexp, a max-shifted softmax)")
        if nonfinite:
            where = [f"δ[{l}]" for l in range(self.L)
                     if not np.isfinite(self.impl.deltas[l]).all()]
            where += ["E"] if not np.isfinite(self.impl.loss) else []
            return "nonfinite", (f"the implementation returns nan or inf "
                                 f"({', '.join(where) or 'in ∂W or ∂b'}) where the truth is "
                                 f"finite; the largest |a| is {reach.max():.3g}")
        return None

    def precision_kind(self) -> tuple[str, str] | None:
        """Every error within float32's resolution of its quantity's scale, in a float64 run."""
        if self.case.dtype != "float64":
            return None
        share = 0.0
        for q, l in self.failing():
            x, y = self.values(q, l)
            scale = float(np.abs(y).max(initial=0.0))
            if not scale > 0:
                return None
            share = max(share, float(np.abs(x - y).max()) / scale)
        if not (PRECISION_LOW <= share <= PRECISION_SHARE):
            return None
        eps32 = float(np.finfo(np.float32).eps)
        first = np.asarray(self.values(*self.failing()[0])[0], dtype=np.float64)
        exact = float32_numbers(first)
        return "precision", (f"errors up to {share:.2g} of each quantity's scale "
                             f"(≈ {share / eps32:.2g} float32 ε) in a float64 run"
                             + ("; the first wrong values are float32 numbers" if exact else "")
                             + ": part of the computation runs in float32")

    def near_kink_kind(self, q: str, l: int | None) -> tuple[str, str] | None:
        if q != "hidden_delta" or l is None:
            return None
        x = self.impl.deltas[l]
        _, xhat, tol = self.delta_step(l)
        tol = self.tol_with_slack(tol, xhat)
        with np.errstate(all="ignore"):
            wrong = ~(np.abs(x - xhat) <= tol) & self.judged("deltas", l)
        if not wrong.any():
            return None
        act, a = self.net.acts[l], self.net.a[l]
        near = np.zeros(a.shape, dtype=bool)
        for k in getattr(act, "kinks", ()) or ():
            near |= np.abs(a - k) <= KINK_REACH * max(1.0, abs(k))
        if not near.any() or (wrong & ~near).any():
            return None
        worst = np.unravel_index(int(np.argmax(np.where(wrong, np.abs(x - xhat), -1))), x.shape)
        return "near_kink", (f"layer {l} ({act.name}): wrong only where a sits near the kink "
                             f"(a = {a[worst]:.3g} at δ[{l}][{worst[0]}, {worst[1]}]), just "
                             f"outside the entries left unjudged")

    # the per-layer table
    def layer_rows(self) -> list[dict[str, Any]]:
        rows = []
        for l in range(self.L):
            hidden = l < self.L - 1
            row: dict[str, Any] = {
                "layer": l, "role": "hidden" if hidden else "output",
                "activation": self.net.acts[l].name if hidden else OUTPUT_NAME[self.net.loss],
                "delta": str(self.verdict("deltas", l)),
                "grad_weights": str(self.verdict("grad_weights", l)),
                "grad_biases": str(self.verdict("grad_biases", l))}
            if hidden:
                row.update(self.recurrence(l))
            row["worst"] = self.worst_entry(l)
            xw, tw = self.weight_step(l)
            xb, tb = self.bias_step(l)
            row["grad_weights_from_own_delta"] = fits(
                self.impl.grad_weights[l], xw, self.tol_with_slack(tw, xw),
                self.judged("grad_weights", l))
            row["grad_biases_from_own_delta"] = fits(
                self.impl.grad_biases[l], xb, self.tol_with_slack(tb, xb),
                self.judged("grad_biases", l))
            rows.append(row)
        return rows

    def recurrence(self, l: int) -> dict[str, Any]:
        """The local check of δ[l] from the implementation's own δ[l+1], with the true h'(a)."""
        x = self.impl.deltas[l]
        P, xhat, tol = self.delta_step(l)
        mask = self.judged("deltas", l)
        tol = self.tol_with_slack(tol, xhat)
        ok = fits(x, xhat, tol, mask)
        scale = float(np.abs(xhat[mask]).max(initial=0.0))
        with np.errstate(all="ignore"):
            err = float(np.abs(x - xhat)[mask].max(initial=0.0)) / scale if scale else (
                0.0 if not np.any(x[mask]) else float("inf"))
            implied = x / P
            usable = mask & (np.abs(P) > 1e-6 * np.abs(P).max(initial=0.0)) & (
                np.abs(self.slopes[l]) > 1e-12)
            ratios = (implied / self.slopes[l])[usable]
        explained = ""
        if not ok:
            for _, _, short, cand in self.hidden_candidates(l):
                if fits(x, cand, self.tol_with_slack(tol, cand), mask):
                    explained = short
                    break
        return {"recurrence_ok": ok, "recurrence_err": json_number(err),
                "implied_over_true": json_number(np.median(ratios)) if ratios.size else None,
                "explained_by": explained}
