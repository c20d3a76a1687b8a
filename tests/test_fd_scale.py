"""The fd oracle evaluates its steps in bounded chunks: any chunk size gives the same values."""

import numpy as np
import pytest

from deltacheck.judging.check import activation_objects
from deltacheck.oracles import fd
from tests.helpers import random_case


@pytest.mark.parametrize("widths, hidden, loss", [
    ((3, 5, 4, 2), ("tanh", "relu"), "ce"),
    # deeper, kinks at several levels: rows of every layer below pass each kink together
    ((2, 4, 3, 4, 3, 2), ("relu", "leaky_relu", "elu", "relu"), "bce"),
])
def test_chunked_evaluation_gives_the_same_values(rng, monkeypatch, widths, hidden, loss):
    # small enough for all layers in one pass, against layer by layer in the smallest chunks
    case = random_case(rng, widths, hidden, loss, batch=4)
    args = (case.weights, case.biases, activation_objects(case.activations), case.loss, case.x,
            case.t)
    whole = fd.gradients(*args)
    monkeypatch.setattr(fd, "_CHUNK_ENTRIES", 7)  # one row per chunk: the smallest there is
    chunked = fd.gradients(*args)
    for key in ("deltas", "grad_weights", "grad_biases"):
        for l in range(case.n_layers):
            np.testing.assert_array_equal(chunked.quantity(key)[l], whole.quantity(key)[l])
            np.testing.assert_array_equal(chunked.uncertainty[key][l], whole.uncertainty[key][l])
            np.testing.assert_array_equal(chunked.unjudged[key][l], whole.unjudged[key][l])


def _peak_bytes(case) -> int:
    import tracemalloc

    tracemalloc.start()
    fd.gradients(case.weights, case.biases, activation_objects(case.activations), case.loss,
                 case.x, case.t)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_follows_the_chunk_size_not_the_network(rng, monkeypatch):
    case = random_case(rng, (16, 64, 64, 4), ("tanh", "relu"), "mse", batch=16)
    bound = 40 * 2**14 * 8  # some forty arrays of one chunk, 2**14 numbers each
    assert _peak_bytes(case) > bound  # in one chunk, the same network needs more: can fail
    monkeypatch.setattr(fd, "_CHUNK_ENTRIES", 2**14)
    assert _peak_bytes(case) < bound
