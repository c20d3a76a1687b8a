"""``--checks``: provided quantities kept out of the verdict are "not checked", never passed or
failed, and the choice travels with the run (JSON, replay command, merge)."""

import json

import pytest

from deltacheck.campaign import merge
from deltacheck.commands import cli
from deltacheck.core.errors import DeltacheckError
from deltacheck.core.verdicts import NOT_CHECKED, NOT_JUDGED, NOT_PROVIDED, PASS, worst
from deltacheck.reports import common

WRONG_LOSS = ("from deltacheck import reference_impl\n"
              "def backprop(*args):\n"
              "    out = reference_impl.backprop(*args)\n"
              "    return {**out, 'loss': out['loss'] * 1.5 + 1.0}  # gradients right, E off\n")


def _run(tmp_path, impl, *extra, name="r"):
    out = [f"--report={tmp_path / (name + '.html')}", f"--json={tmp_path / (name + '.json')}",
           f"--junit-xml={tmp_path / (name + '.xml')}"]
    code = cli.main(["run", "--impl", impl, "--examples", "6", "--seed", "3",
                     "--oracles", "torch,fd", *extra, *out])
    return code, json.loads((tmp_path / (name + ".json")).read_text())


@pytest.fixture
def wrong_loss(tmp_path):
    (tmp_path / "wrong_loss.py").write_text(WRONG_LOSS)
    return f"{tmp_path / 'wrong_loss.py'}:backprop"


def test_a_wrong_loss_fails_a_run_that_checks_it(tmp_path, wrong_loss):
    code, doc = _run(tmp_path, wrong_loss)
    assert code == 1 and doc["run"]["checks"] == ["loss", "deltas", "grad_weights",
                                                  "grad_biases"]


def test_checks_grads_keeps_the_loss_out_of_the_verdict(tmp_path, wrong_loss):
    code, doc = _run(tmp_path, wrong_loss, "--checks", "grads")
    assert code == 0, doc["summary"]
    assert doc["run"]["checks"] == ["grad_weights", "grad_biases"]
    verdicts = {(q["q"], q["verdict"]) for c in doc["cases"] for o in c["oracles"].values()
                for q in common.quantities(o, len(c["arch"]["widths"]) - 1)}
    assert ("loss", "not checked") in verdicts and ("deltas", "not checked") in verdicts
    assert not any(q in ("loss", "deltas") and v in ("pass", "fail") for q, v in verdicts)


def test_the_replay_command_keeps_the_checks(tmp_path):
    bad = WRONG_LOSS.replace("'loss': out['loss'] * 1.5 + 1.0",
                             "'grad_biases': [2 * g for g in out['grad_biases']]")
    (tmp_path / "bad.py").write_text(bad)
    code, doc = _run(tmp_path, f"{tmp_path / 'bad.py'}:backprop", "--checks", "loss,grad_biases")
    assert code == 1
    repro = doc["failures"][0]["repro"]
    assert "--checks loss,grad_biases" in repro
    replay = repro.split("--replay ")[1].split()[0]
    code, again = _run(tmp_path, f"{tmp_path / 'bad.py'}:backprop", "--replay", replay,
                       "--checks", "loss,grad_biases", name="again")
    assert code == 1 and again["run"]["checks"] == ["loss", "grad_biases"]


def test_merge_refuses_shards_checked_differently(tmp_path, wrong_loss):
    _, one = _run(tmp_path, wrong_loss, "--checks", "grads", "--shard", "1/2", name="a")
    _, two = _run(tmp_path, wrong_loss, "--shard", "2/2", name="b")
    with pytest.raises(DeltacheckError, match="checks differ"):
        merge.merge([one, two], ["a.json", "b.json"])
    _, two = _run(tmp_path, wrong_loss, "--checks", "grads", "--shard", "2/2", name="c")
    assert merge.merge([one, two], ["a", "c"])["run"]["checks"] == ["grad_weights",
                                                                    "grad_biases"]


@pytest.mark.parametrize("value", ["loss", "gradz", "loss,deltas"])
def test_a_wrong_checks_value_is_one_line_and_exit_2(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as stop:
        _run(tmp_path, "deltacheck.reference_impl:backprop", "--checks", value)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--checks" in err[0]


def test_not_checked_ranks_like_not_provided():
    assert worst([NOT_CHECKED, PASS]) == PASS
    assert worst([NOT_CHECKED, NOT_PROVIDED]) == NOT_CHECKED
    assert worst([NOT_CHECKED, NOT_JUDGED]) == NOT_JUDGED
    assert worst([NOT_PROVIDED]) == NOT_PROVIDED
