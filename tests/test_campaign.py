"""The campaign keeps every result, shrinks failures and runs with only the oracles it has."""

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deltacheck import Case, DeltacheckError, campaign, reference_impl
from deltacheck.campaign import planning, slices
from deltacheck.results import console
from tests.helpers import random_case
from tests.impls import planted


def test_every_budgeted_case_is_kept_around_the_shrink(tmp_path):
    config = campaign.Config(impl=planted.tanh_derivative_of_a, impl_spec="planted", seed=4,
                             examples=40, losses=["bce"], activations=["tanh", "sigmoid"],
                             failures_dir=str(tmp_path / "failures"))
    outcome = campaign.run(config)
    phases = [c["phase"] for c in outcome.document["cases"]]
    assert outcome.exit_code == 1
    assert phases.count("minimal") == 1
    assert phases.count("generate") + phases.count("continue") == 40
    assert outcome.document["run"]["shrink_steps"] > 0
    (minimal,) = outcome.minimal
    assert minimal.case.widths == (1, 1, 1) and minimal.case.batch == 1


def test_check_is_public_and_keeps_the_record(rng, tmp_path):
    config = campaign.Config(impl=reference_impl.backprop, impl_spec="ref", oracles=["fd"],
                             failures_dir=str(tmp_path))
    run = slices.Campaign(config, lambda *args: None)
    result = run.check(random_case(rng, (2, 3, 1), ("tanh",), "mse"), "replay")
    assert result.verdict == "pass"
    assert [r["phase"] for r in run.records] == ["replay"]


def declaring(names):
    def impl(*args):
        return reference_impl.backprop(*args)
    impl.activations = names
    return impl


@pytest.mark.parametrize("names, words", [
    (5, "got int 5"),
    ("tanh", "got str 'tanh'"),
    ([1, "tanh"], "it holds 'tanh', 1"),
    ([], "it holds nothing"),
    ([["tanh"]], "cannot be read as a set of names"),
])
def test_declared_activations_must_be_a_collection_of_names(names, words):
    config = campaign.Config(impl=declaring(names), impl_spec="declaring")
    with pytest.raises(DeltacheckError) as info:
        planning.drawn_activations(config)
    message = str(info.value)
    assert message.startswith("--impl: ") and "backprop.activations = {" in message
    assert words in message, message


def test_declared_activations_narrow_the_draw():
    config = campaign.Config(impl=declaring(frozenset({"relu", "tanh"})), impl_spec="declaring",
                             activations=["tanh", "sigmoid"])
    assert planning.drawn_activations(config) == ["tanh"]


def test_ce_needs_two_classes():
    with pytest.raises(DeltacheckError, match=r"--max-width 1 leaves ce with one class.*"
                                              r"--max-width 2 or more, or drop ce"):
        campaign.Config(impl=reference_impl.backprop, impl_spec="ref", max_width=1)
    campaign.Config(impl=reference_impl.backprop, impl_spec="ref", max_width=1,
                    losses=["mse", "bce"])


def test_ci_profile_is_deterministic():
    def archs():
        config = campaign.Config(impl=reference_impl.backprop, impl_spec="ref", profile="ci",
                                 examples=12, oracles=["fd"])
        return [c["arch"] for c in campaign.run(config).document["cases"]]
    first = archs()
    assert len(first) == 12 and first == archs()


def test_quiet_line_oriented_progress_off_a_terminal():
    stream = io.StringIO()
    progress = console.Progress(stream)
    for done in range(1, 4):
        progress("mse", done, 3, 0)
    progress("bce", 1, 3, 1)
    assert stream.getvalue() == "checking mse: 3 cases\nchecking bce: 3 cases\n"


def test_target_score_is_finite_for_every_error():
    assert slices._log10_err(float("inf"), 1e-12) == 50.0
    assert slices._log10_err(0.0, 1e-12) == -30.0
    assert slices._log10_err(1e-13, 1e-12) == -1.0


def test_fd_alone_runs_without_torch_or_jax(tmp_path):
    blocker = tmp_path / "block" / "sitecustomize.py"
    blocker.parent.mkdir()
    blocker.write_text(textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "jax", "jaxlib", "array_api_compat"):
                    raise ImportError(f"{name} is blocked for this test")
        sys.meta_path.insert(0, Block())
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(blocker.parent), str(Path(__file__).parents[1])])}
    run = [sys.executable, "-m", "deltacheck", "run", "--examples", "9", "--report",
           str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json"), "--junit-xml",
           str(tmp_path / "j.xml")]
    ok = subprocess.run([*run, "--oracles", "fd"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("all agree: 9 cases, oracles fd")
    refused = subprocess.run([*run, "--oracles", "torch,fd"], capture_output=True, text=True,
                             env=env)
    assert refused.returncode == 2
    assert "the torch oracle needs" in refused.stderr and "--oracles fd" in refused.stderr


def test_replaying_an_unregistered_activation_says_how_to_add_it(rng, tmp_path):
    fields = random_case(rng, (2, 3, 1), ("tanh",), "mse").to_json()
    case = Case.from_json({**fields, "activations": ["swish"]})
    config = campaign.Config(impl=reference_impl.backprop, impl_spec="ref", oracles=["fd"],
                             replay=case, failures_dir=str(tmp_path))
    with pytest.raises(DeltacheckError, match=r"unknown activation 'swish'.*--activation "
                                              r"MODULE:NAME"):
        campaign.run(config)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the bug's own overflow, on purpose
def test_a_failing_slice_records_no_more_cases_than_its_budget():
    # An overflow bug makes Hypothesis's target phase climb on after the first failure, where
    # it no longer enforces max_examples: those calls must not become recorded cases.
    from deltacheck import bugs

    config = campaign.Config(impl=bugs.naive_tanh, impl_spec="naive_tanh", oracles=["torch"],
                             examples=300, seed=0)
    outcome = campaign.run(config)
    cases = outcome.document["cases"]
    assert outcome.document["summary"]["failed_cases"] > 0
    assert len([c for c in cases if c["phase"] != "minimal"]) == 300


def test_objects_frozen_for_the_run_are_thawed_after_it():
    import gc

    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    with slices.heap_frozen():
        assert gc.get_freeze_count() > 0  # the collector skips what existed before
        assert gc.get_threshold()[0] > thresholds[0]
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds
    gc.freeze()  # a caller's own freeze is left as it is
    try:
        frozen = gc.get_freeze_count()
        with slices.heap_frozen():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
