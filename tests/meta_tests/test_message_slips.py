"""Messages a person would write: every message template of the package is read for the slips a
person would not make ("after 1 cases", "is a int", "x.shape=(1, 2), but should be", a raw
``<class 'int'>``), and the messages users meet most are checked word for word."""

import re
from pathlib import Path

import numpy as np
import pytest

from deltacheck import reference_impl
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_implementation
from deltacheck.core.words import a_type, plural, tuple_text
from deltacheck.judging.check import check_case
from deltacheck.results import console
from tests.helpers import random_case

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("deltacheck", "oracles", "reference_impl", "reports")
COUNTED = ("cases", "layers", "hidden layers", "arrays", "names", "entries", "samples",
           "oracles", "slices", "units", "bugs", "steps", "files", "rows", "classes")
SLIPS = {
    "x.shape=(…), but should be (…)": re.compile(r"\.shape=\{[^{}]*\}, but should be"),
    "a count before a fixed plural (1 cases)": re.compile(
        r"\{[^{}]+\} (?:" + "|".join(COUNTED) + r")\b"),
    "a/an before a type name (a int)": re.compile(r"\ban? \{type\("),
    "a raw type repr (<class 'int'>)": re.compile(r"\{type\([^{}]*\)(?:!r)?\}"),
    "a tuple with a trailing comma (kinks=(0, 6,))": re.compile(r"\(\{[^{}]+\},\)"),
}
# Counts that are never 1, by construction.
NEVER_ONE = ("COLUMNS",)


def templates():
    """Every line of the package's source that holds an f-string or a message literal."""
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if line.lstrip().startswith("#"):
                    continue
                yield f"{path.relative_to(ROOT)}:{n}", line


def test_no_message_template_has_a_slip():
    found = [f"{where}: {name}: {line.strip()}" for where, line in templates()
             for name, pattern in SLIPS.items()
             if pattern.search(line) and not any(word in line for word in NEVER_ONE)]
    assert found == []


@pytest.mark.parametrize(("line", "slip"), [
    ('f"{what}.shape={got.shape}, but should be {want.shape}"', "x.shape="),
    ('f"caught after {n} cases"', "a count"),
    ('f"--impl is a {type(impl).__name__}"', "a/an"),
    ('f"not {type(value)}"', "a raw"),
    ('f"declare them with kinks=({fix},)"', "a tuple"),
])
def test_the_grep_catches_each_slip(line, slip):
    assert any(name.startswith(slip) for name, p in SLIPS.items() if p.search(line))


def test_the_words_helpers():
    assert plural(1, "case") == "1 case" and plural(1201, "case") == "1,201 cases"
    assert a_type(3) == "an int" and a_type(2.0) == "a float" and a_type(None) == "None"
    assert a_type(np.zeros(1)) == "an ndarray"
    assert tuple_text([-3.0, 3.0]) == "(-3, 3)" and tuple_text([0.0]) == "(0,)"


@pytest.fixture
def case(rng):
    return random_case(rng, (2, 1, 2), ("tanh",), "mse", batch=2)


def test_a_missing_key_is_said_once(case):
    def no_deltas(*args):
        out = reference_impl.backprop(*args)
        del out["deltas"]
        return out

    assert check_case(case, no_deltas, ["fd"]).first_message() == \
        "the implementation's result has no 'deltas'"


def test_a_wrong_shape_says_what_it_has_and_what_it_should_be(case):
    def transposed(*args):
        out = reference_impl.backprop(*args)
        out["grad_weights"][0] = out["grad_weights"][0].T
        return out

    assert check_case(case, transposed, ["fd"]).first_message() == \
        "the implementation's grad_weights[0] has shape (2, 1); it should be (1, 2)"


def test_an_impl_that_is_an_int_is_called_an_int(tmp_path):
    (tmp_path / "notfn.py").write_text("backprop = 3\n")
    with pytest.raises(DeltacheckError, match="is an int, not a callable"):
        load_implementation(f"{tmp_path / 'notfn.py'}:backprop")


def test_one_case_is_one_case():
    doc = {"summary": {"verdict": "interrupted", "cases": 1, "failed_cases": 0, "asked": 1,
                       "checked_of_asked": 1, "not_checked": 0, "groups": []}}
    assert console.interrupted_text(doc) == "interrupted after 1 of 1 case: no verdict"
