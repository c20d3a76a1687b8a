"""deltacheck demo --impl: the lecture's claims measured on a student's own backprop.

A correct implementation passes every claim; each classic slip fails the claim it breaks, and
the failure says where (the first place it differs) and why (run's diagnosis).
"""

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")

from deltacheck.commands import cli
from deltacheck.core.conventions import declared
from deltacheck.demo import runner as demo
from deltacheck.demo import student_sections
from deltacheck.demo.student import Student
from deltacheck.reports import demo as demo_report

QUICK = {"cases": 8, "seed": 0, "scale": 0.02}
LOSSES = {"mse", "bce", "ce", "mse_sigmoid", "mse_tanh"}


def _sigmoid(a):
    return np.exp(-np.logaddexp(0.0, -a))


def student_backprop(slip=None):
    """A student's tanh backprop for every loss, with one classic slip (or none)."""

    def backprop(weights, biases, activations, loss, x, t):
        L = len(weights)
        z, a = [x], []
        for l in range(L):
            a.append(z[-1] @ weights[l].T + biases[l])     # a = z Wᵀ + b
            if l < L - 1:
                z.append(np.tanh(a[-1]))                   # z = tanh(a)
        aL = a[-1]
        if loss == "mse":
            y = aL
            E, d, g_prime = 0.5 * np.sum((y - t) ** 2), y - t, np.ones_like(y)
        elif loss == "bce":
            y = _sigmoid(aL)
            E = np.sum(np.logaddexp(0.0, aL) - t * aL)
            d, g_prime = y - t, y * (1 - y)
        elif loss == "ce":
            log_y = aL - np.logaddexp.reduce(aL, axis=1, keepdims=True)
            y = np.exp(log_y)
            E, d, g_prime = -np.sum(t * log_y), y - t, y * (1 - y)
        else:
            y = _sigmoid(aL) if loss == "mse_sigmoid" else np.tanh(aL)
            g_prime = y * (1 - y) if loss == "mse_sigmoid" else 1 - y**2
            E, d = 0.5 * np.sum((y - t) ** 2), g_prime * (y - t)  # δ = g′(a)(y − t)
        if slip == "loss_doubled":
            E = 2 * E
        if slip == "extra_g_prime":
            d = d * g_prime
        if slip == "delta_averaged":
            d = d / len(x)
        deltas = [d]
        for l in range(L - 1, 0, -1):
            h_prime = 1 - np.tanh(a[l - 1]) ** 2           # h′(a) = 1 − tanh²(a)
            if slip == "h_prime_at_z":
                h_prime = 1 - np.tanh(z[l]) ** 2           # h′ evaluated at z = h(a)
            if slip == "no_h_prime" and l == 1:
                h_prime = 1.0                              # the first hidden layer's h′ forgotten
            deltas.insert(0, h_prime * (deltas[0] @ weights[l]))  # δ_j = h′(a_j) Σ_k w_kj δ_k
        return {"loss": float(E), "deltas": deltas,
                "grad_weights": [deltas[l].T @ z[l] for l in range(L)],
                "grad_biases": [deltas[l].sum(axis=0) for l in range(L)]}

    backprop.activations = {"tanh"}
    backprop.losses = LOSSES
    return backprop


def measured(impl, spec="student.py:backprop"):
    student = Student(impl, spec, declared(impl))
    yours = student_sections.measure(student, cases=QUICK["cases"], seed=QUICK["seed"],
                                     scale=QUICK["scale"], timed=lambda name, fn: fn())
    return yours, student_sections.claims(yours)


def test_a_correct_implementation_passes_every_claim():
    yours, claims = measured(student_backprop())
    assert claims and all(ok for ok, _ in claims), [t for ok, t in claims if not ok]
    assert {r["loss"] for r in yours["outputs"]} == LOSSES
    # the canonical pairs are y − t, the others the general form and far from y − t
    for row in yours["outputs"]:
        if row["canonical"]:
            assert row["max_rel_dev_y_minus_t"] < 1e-12
        else:
            assert row["max_rel_dev_general"] < 1e-12 and row["max_rel_dev_y_minus_t"] > 1e-3
    assert yours["worked"]["student"] and yours["worked"]["matches"]
    assert [t["task"] for t in yours["training"]] == ["spirals", "sine", "disc"]


def _broken(claims):
    return [text for ok, text in claims if not ok]


@pytest.mark.parametrize(("slip", "broken", "holding", "where", "why"), [
    # h′ evaluated at z: δ of the hidden layer; no output layer alone shows it
    ("h_prime_at_z", ["worked example", "spirals", "sine", "disc"], ["your output δ"],
     "[0]", "at z"),
    ("no_h_prime", ["worked example", "spirals", "sine", "disc"], ["your output δ"],
     "[0]", ""),
    # δ divided by N (declared sum): every output δ of a batch, and every step
    ("delta_averaged", ["your output δ for mse", "your output δ for bce", "your output δ for ce",
                        "spirals", "sine", "disc"], [], "[", ""),
    # g′(a) applied again: wrong wherever g is not the identity
    ("extra_g_prime", ["your output δ for bce", "your output δ for ce",
                       "your output δ for mse_sigmoid", "your output δ for mse_tanh", "spirals",
                       "disc"], ["your output δ for mse:", "worked example", "sine"], "[", ""),
])
def test_each_classic_slip_fails_the_claim_it_breaks_and_says_where(slip, broken, holding,
                                                                     where, why):
    _, claims = measured(student_backprop(slip))
    failing = _broken(claims)
    for claim in broken:
        hits = [t for t in failing if t.startswith(claim)]
        assert hits, f"{slip}: the claim {claim!r} should fail, but holds; failing: {failing}"
        assert where in hits[0] and "but torch says" in hits[0], hits[0]
        assert why in hits[0], hits[0]
    for claim in holding:
        assert not [t for t in failing if t.startswith(claim)], (slip, claim, failing)


def test_a_wrong_loss_alone_leaves_the_output_delta_claims_and_fails_the_loop():
    _, claims = measured(student_backprop("loss_doubled"))
    failing = _broken(claims)
    assert not [t for t in failing if t.startswith("your output δ")], failing
    assert [t for t in failing if t.startswith("sine")] and "E = " in failing[-1], failing


def test_a_broken_claim_keeps_the_case_both_numbers_and_the_diagnosis():
    yours, _ = measured(student_backprop("h_prime_at_z"))
    doc = student_sections.document(yours)
    fail = doc["worked_example"]["failure"]
    assert fail["first"]["quantity"] == "δ[0]"
    assert fail["first"]["theirs"] != pytest.approx(fail["first"]["truth"])
    assert "evaluated at z" in fail["diagnosis"]["detail"]
    step = doc["training"][0]["failure"]
    assert step["step"] == 1 and step["diagnosis"]["detail"]
    json.dumps(doc, allow_nan=False)


def test_demo_impl_command_writes_the_student_section_and_exits_1_on_a_slip(tmp_path,
                                                                           monkeypatch):
    source = tmp_path / "student.py"
    source.write_text(
        "from tests_student_source import student_backprop\n"
        "backprop = student_backprop('extra_g_prime')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "tests_student_source.py").write_text(
        "import numpy as np\n" + _source_of(student_backprop) + "\n" + _source_of(_sigmoid)
        + "\nLOSSES = " + repr(sorted(LOSSES)) + "\n", encoding="utf-8")
    real = demo.Config
    monkeypatch.setattr(demo, "Config", lambda **kw: real(
        **{**kw, "training_scale": 0.02, "widths": (8, 16)}))
    report, out = tmp_path / "demo.html", tmp_path / "demo.json"
    code = cli.main(["demo", "--impl", f"{source}:backprop", "--cases", "6",
                     "--report", str(report), "--json", str(out)])
    assert code == 1
    doc = json.loads(out.read_text())
    yours = doc["implementation"]
    bce = next(r for r in yours["output_delta"] if r["loss"] == "bce")
    assert not bce["holds"] and bce["failure"]["first"]["quantity"] == "δ[0]"
    html = report.read_text()
    assert "Your implementation" in html and "First place it differs" in html
    assert "Diagnosis" in html
    assert demo_report.render(doc)  # from the JSON alone too


def _source_of(fn):
    import inspect

    return inspect.getsource(fn)


@pytest.mark.parametrize("options", [["--reduction", "mean"], ["--provides", "loss,grad_weights"]])
def test_convention_options_need_an_implementation(options, capsys):
    assert cli.main(["demo", *options]) == 2
    assert "--impl" in capsys.readouterr().err


def test_declared_conventions_labels_mean_in_out_pass():
    from pathlib import Path

    from deltacheck.core.loading import load_implementation

    spec = f"{Path(__file__).parents[1] / 'examples/implementations/fc_net.py'}:backprop"
    impl = load_implementation(spec)
    yours, claims = measured(impl, spec)
    assert all(ok for ok, _ in claims), claims
    assert [r["loss"] for r in yours["outputs"]] == ["ce"]
    assert yours["outputs"][0]["from"] == "grad_biases at N = 1"  # it returns no δ
    assert yours["training"][0]["activations"] == ["relu", "relu"]  # what it declares
