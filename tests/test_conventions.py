"""Declared conventions: the spec, and the conversions to and from the protocol's conventions."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deltacheck import reference_impl
from deltacheck.core.conventions import (
    LOSSES,
    OUTPUTS,
    Conventions,
    declared,
    one_hot_rows,
    protocol_result,
    user_arguments,
)
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.gradients import Gradients
from tests.plain import disagreements, draw_plain, plain_cases

QUANTITIES = ("deltas", "grad_weights", "grad_biases")


def conventions_specs():
    """Every valid Conventions, drawn."""
    return st.builds(
        Conventions,
        weight_layout=st.sampled_from(["out_in", "in_out"]),
        reduction=st.sampled_from(["sum", "mean"]),
        targets=st.just("probabilities"),
        losses=st.none() | st.sets(st.sampled_from(LOSSES), min_size=1),
        provides=st.sets(st.sampled_from(OUTPUTS), min_size=1).filter(
            lambda s: s & {"grad_weights", "grad_biases"})) | st.builds(
        Conventions, targets=st.just("labels"), losses=st.sampled_from([None, ["ce"]]))


# ---- the spec --------------------------------------------------------------------------------

@given(conventions_specs())
def test_the_json_form_round_trips(conv):
    assert Conventions.from_json(conv.to_json()) == conv
    assert Conventions.from_json(json.loads(conv.dumps())) == conv
    assert hash(Conventions.from_json(conv.to_json())) == hash(conv)


def test_the_defaults_are_the_protocols():
    conv = Conventions()
    assert conv.to_json() == {"weight_layout": "out_in", "reduction": "sum",
                              "targets": "probabilities", "losses": None,
                              "provides": ["loss", "deltas", "grad_weights", "grad_biases"]}
    assert Conventions.from_json({}) == conv
    assert conv.loss_names == ("mse", "bce", "ce")
    assert Conventions(targets="labels").loss_names == ("ce",)


def test_lists_sets_and_tuples_are_taken_as_sets():
    kinds = [Conventions(losses=v, provides=p) for v, p in [
        (["ce", "mse"], ("grad_weights", "loss")), ({"mse", "ce"}, ["loss", "grad_weights"]),
        (("ce", "mse", "ce"), {"grad_weights", "loss"})]]
    assert kinds[0] == kinds[1] == kinds[2]
    assert kinds[0].losses == frozenset({"mse", "ce"})


@pytest.mark.parametrize("fields, message", [
    ({"reduction": "avg"}, "backprop.reduction='avg' must be 'sum' or 'mean'"),
    ({"weight_layout": "nchw"}, "backprop.weight_layout='nchw' must be 'out_in' or 'in_out'"),
    ({"targets": 1}, "backprop.targets=1 must be 'probabilities' or 'labels'"),
    ({"losses": "ce"}, "backprop.losses='ce' must be a set of names, e.g. {'mse', 'ce'}"),
    ({"losses": {"ce", "hinge"}}, "backprop.losses={'ce', 'hinge'} holds 'hinge'; choose from "
                                  "'mse', 'bce', 'ce', 'mse_sigmoid', 'mse_tanh'"),
    ({"losses": []}, "backprop.losses=set() is empty; choose from 'mse', 'bce', 'ce', "
                     "'mse_sigmoid', 'mse_tanh'"),
    ({"provides": {"loss", "deltas"}}, "backprop.provides={'deltas', 'loss'} must include "
                                       "'grad_weights' or 'grad_biases': there is nothing to check"),
    ({"provides": {"grads"}}, "backprop.provides={'grads'} holds 'grads'; choose from 'loss', "
                              "'deltas', 'grad_weights', 'grad_biases'"),
    ({"targets": "labels", "losses": {"ce", "mse"}},
     "backprop.targets='labels' (integer classes) goes only with loss 'ce', but "
     "backprop.losses={'ce', 'mse'}"),
    ({"reduction": np.array([[1, 2], [3, 4]])},
     "backprop.reduction=array([[1, 2], [3, 4]]) must be 'sum' or 'mean'"),
])
def test_a_bad_value_is_one_line_naming_the_attribute_value_and_choices(fields, message):
    with pytest.raises(DeltacheckError) as info:
        Conventions(**fields)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)  # the CLI's exit 2, never a traceback


def test_from_json_rejects_what_is_not_a_spec():
    with pytest.raises(DeltacheckError, match="unknown 'layout'; the keys are weight_layout"):
        Conventions.from_json({"layout": "in_out"})
    with pytest.raises(DeltacheckError, match="must be an object, not a list"):
        Conventions.from_json(["in_out"])


# ---- reading them from an implementation ------------------------------------------------------

def test_declared_reads_the_attributes_and_an_override_wins():
    def backprop(weights, biases, activations, loss, x, t):
        raise NotImplementedError
    backprop.weight_layout, backprop.reduction = "in_out", "mean"
    backprop.losses = ["ce"]

    assert declared(backprop) == Conventions(weight_layout="in_out", reduction="mean",
                                             losses={"ce"})
    assert declared(backprop, reduction="sum", losses=None) == Conventions(
        weight_layout="in_out", losses={"ce"})  # None: no override, the attribute stays
    assert declared(lambda *args: None) == Conventions()


def test_declared_names_the_option_or_the_attribute_that_is_wrong():
    class Impl:
        reduction = "avg"

        @property
        def provides(self):
            raise RuntimeError

    with pytest.raises(DeltacheckError, match=r"^--weight-layout='col' must be 'out_in' or"):
        declared(object(), weight_layout="col")
    with pytest.raises(DeltacheckError, match=r"^unknown convention 'layout'"):
        declared(object(), layout="in_out")
    with pytest.raises(DeltacheckError, match=r"^backprop.provides raised RuntimeError"):
        declared(Impl())
    Impl.provides = None
    with pytest.raises(DeltacheckError, match=r"^backprop.reduction='avg'"):
        declared(Impl())
    assert declared(Impl(), reduction="mean").reduction == "mean"


# ---- the arguments ------------------------------------------------------------------------------

def test_user_arguments_transpose_weights_and_turn_one_hot_rows_into_labels(rng):
    case = draw_plain(rng, (3, 4, 2), ("tanh",), "ce", batch=5, one_hot=True)
    conv = Conventions(weight_layout="in_out", targets="labels")
    W, b, acts, loss, x, t = user_arguments(conv, *case.arguments())
    assert [w.shape for w in W] == [(3, 4), (4, 2)]
    assert all(np.array_equal(w, v.T) for w, v in zip(W, case.weights, strict=True))
    assert t.shape == (5,) and t.dtype.kind == "i"
    assert np.array_equal(np.eye(2)[t], case.t)
    assert (acts, loss) == (["tanh"], "ce")
    for arr in (*W, *b, x, t):  # fresh and writable: an implementation may scribble on them
        assert arr.flags.writeable and arr.flags.c_contiguous
        arr[...] = 0
    assert case.weights[0].any() and case.x.any() and case.t.any()


def test_labels_need_one_hot_rows(rng):
    case = draw_plain(rng, (3, 2), (), "ce", batch=4)  # probability rows
    with pytest.raises(DeltacheckError, match="needs one-hot rows"):
        user_arguments(Conventions(targets="labels"), *case.arguments())
    same = user_arguments(Conventions(), *case.arguments())[-1]
    assert np.array_equal(same, case.t)  # probabilities pass as they are


@pytest.mark.parametrize("t, expected", [
    ([[0, 1, 0], [1, 0, 0]], True), ([[1.0]], True), ([[0, 1, 1]], False), ([[0.5, 0.5]], False),
    ([[0, 0]], False), ([[np.nan, 1]], False), ([0, 1], False), (np.zeros((2, 0)), False)])
def test_one_hot_rows(t, expected):
    assert one_hot_rows(np.array(t, dtype=float)) is expected


# ---- the results ---------------------------------------------------------------------------------

def in_convention(conv, out, N):
    """What an implementation in these conventions returns for the protocol's values ``out``."""
    scale = 1 / N if conv.reduction == "mean" else 1
    raw = {"loss": out["loss"] * scale}
    raw["deltas"] = [d * scale for d in out["deltas"]]
    raw["grad_weights"] = [(g.T.copy() if conv.weight_layout == "in_out" else g) * scale
                           for g in out["grad_weights"]]
    raw["grad_biases"] = [g * scale for g in out["grad_biases"]]
    return {key: raw[key] for key in conv.provides}


def wrapped(conv):
    """The reference implementation, written in the conventions ``conv``."""
    def backprop(weights, biases, activations, loss, x, t):
        # a C-ordered copy: BLAS may round a product of a transposed view differently
        W = [w.T.copy() for w in weights] if conv.weight_layout == "in_out" else weights
        if conv.targets == "labels":
            t = np.eye(W[-1].shape[0])[t]
        return in_convention(conv, reference_impl.backprop(W, biases, activations, loss, x, t),
                             len(x))
    return backprop


def run(conv, impl, case):
    """Call the implementation in its conventions; its result in the protocol's."""
    raw = impl(*user_arguments(conv, *case.arguments()))
    return protocol_result(conv, raw, batch=case.batch, n_layers=case.n_layers)


def reference_truth(out):
    """The reference's values as an oracle's, for deltacheck's rule to judge against."""
    return Gradients(loss=out["loss"], deltas=out["deltas"], grad_weights=out["grad_weights"],
                     grad_biases=out["grad_biases"])


def assert_identical(got, want, keys):
    assert set(got) == set(keys)
    for key in keys:
        if key == "loss":
            assert got[key] == want[key]
        else:
            assert all(np.array_equal(g, w) for g, w in zip(got[key], want[key], strict=True))


@pytest.mark.parametrize("layout", ["out_in", "in_out"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("labels", [False, True], ids=["probabilities", "labels"])
@given(data=st.data())
def test_converting_back_gives_exactly_the_original(layout, reduction, labels, data):
    # N a power of two: dividing by N and multiplying back is then exact
    N = data.draw(st.sampled_from([1, 2, 4, 8]))
    case = data.draw(plain_cases(losses=("ce",) if labels else LOSSES, one_hot=labels, batch=N))
    provides = data.draw(st.sets(st.sampled_from(OUTPUTS)).map(lambda s: s | {"grad_biases"}))
    conv = Conventions(weight_layout=layout, reduction=reduction,
                       targets="labels" if labels else "probabilities", provides=provides)
    assert_identical(run(conv, wrapped(conv), case), reference_impl.backprop(*case.arguments()),
                     provides)


@given(case=plain_cases(losses=LOSSES, max_batch=7))
def test_for_any_batch_a_mean_comes_back_to_rounding(case):
    conv = Conventions(reduction="mean")
    got, want = run(conv, wrapped(conv), case), reference_impl.backprop(*case.arguments())
    assert not disagreements(got, reference_truth(want), oracle="torch")


def test_a_mean_declared_as_sum_is_off_by_exactly_n(rng):
    case = draw_plain(rng, (3, 4, 2), ("tanh",), "mse", batch=4)
    mean = wrapped(Conventions(reduction="mean"))
    got = run(Conventions(), mean, case)  # declared as the default, sum
    want = reference_impl.backprop(*case.arguments())
    assert got["loss"] * 4 == want["loss"]
    for key in QUANTITIES:
        assert all(np.array_equal(g * 4, w) for g, w in zip(got[key], want[key], strict=True))
    failed = disagreements(got, reference_truth(want), oracle="torch")
    assert len(failed) == 1 + 3 * 2  # E and every δ, ∂W and ∂b
    assert not disagreements(run(Conventions(reduction="mean"), mean, case),
                             reference_truth(want), oracle="torch")


def test_an_in_out_layout_declared_as_out_in_shows_in_the_shapes(rng):
    case = draw_plain(rng, (3, 4, 2), ("tanh",), "mse", batch=2)
    in_out = wrapped(Conventions(weight_layout="in_out"))
    with pytest.raises(ValueError):  # the implementation's own matmuls break
        run(Conventions(), in_out, case)
    square = draw_plain(rng, (3, 3, 3), ("tanh",), "mse", batch=2)  # the shapes cannot tell
    got = run(Conventions(), in_out, square)
    assert [g.shape for g in got["grad_weights"]] == [(3, 3), (3, 3)]
    want = reference_truth(reference_impl.backprop(*square.arguments()))
    assert disagreements(got, want, oracle="torch", keys=("grad_weights",))
    assert not disagreements(run(Conventions(weight_layout="in_out"), in_out, square), want,
                             oracle="torch")


def test_float32_values_are_scaled_without_a_rounding():
    x = np.float32(1) / np.float32(3)
    out = protocol_result(Conventions(reduction="mean"), {"loss": x, "grad_biases": [
        np.full(2, x)]}, batch=3, n_layers=1)
    assert out["loss"] == float(x) * 3 and out["loss"].dtype == np.float64
    assert np.array_equal(out["grad_biases"][0], np.full(2, float(x) * 3))


class Broken(dict):
    def __getitem__(self, key):
        raise RuntimeError("no")


@pytest.mark.parametrize("raw", [None, (1, 2), "loss", [np.zeros(2)], Broken(loss=1.0)],
                         ids=["None", "tuple", "str", "list", "broken mapping"])
def test_what_is_not_a_mapping_passes_through(raw):
    conv = Conventions(weight_layout="in_out", reduction="mean")
    assert protocol_result(conv, raw, batch=2, n_layers=1) is raw


def test_malformed_entries_pass_through_unchanged_and_the_rest_converts():
    conv = Conventions(weight_layout="in_out", reduction="mean")
    odd = object()
    raw = {"loss": "small", "deltas": "none", "grad_weights": [np.ones((2, 3)), np.ones(3), odd],
           "grad_biases": [np.ones(2), ["a", "b"], None], "cache": 1}
    out = protocol_result(conv, raw, batch=2, n_layers=3)
    assert out["loss"] == "small" and out["deltas"] == "none" and "cache" not in out
    assert out["grad_weights"][0].shape == (3, 2) and out["grad_weights"][2] is odd
    assert np.array_equal(out["grad_weights"][0], np.full((3, 2), 2.0))
    assert out["grad_weights"][1].shape == (3,)  # 1-d: not transposed, still scaled
    assert out["grad_biases"][1] == ["a", "b"] and out["grad_biases"][2] is None
    wrong_length = {"grad_weights": [np.ones((2, 3))]}
    assert protocol_result(conv, wrong_length, batch=2, n_layers=2)["grad_weights"] is \
        wrong_length["grad_weights"]  # one layer for two: the reader says so


def test_keys_not_provided_stay_absent():
    conv = Conventions(provides={"grad_weights", "grad_biases"})
    out = protocol_result(conv, {"grad_weights": [np.ones((1, 1))], "loss": 1.0}, batch=1,
                          n_layers=1)
    assert set(out) == {"grad_weights"}  # loss not declared; grad_biases not returned
