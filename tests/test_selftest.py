"""deltacheck selftest: seeded bugs through the campaign, a kill table, and the rate in reports."""

import json

import pytest

from deltacheck import DeltacheckError, bugs, reference_impl
from deltacheck.bugs import SeededBug
from deltacheck.campaign import selftest
from deltacheck.commands.cli import main

FAST = ("tanh_slope_of_a", "delta_sign", "mean_loss", "dropout_left_on")


def test_a_small_selftest_catches_its_bugs():
    pytest.importorskip("torch")
    doc = selftest.run(profile="ci", examples=30, oracles=["torch"],
                       bugs=selftest.select(FAST))
    assert doc["summary"] == {"killed": 4, "total": 4, "verdict": "pass"}
    for row in doc["bugs"]:
        assert row["caught"] and 1 <= row["cases"] <= 30 and row["message"]


def test_a_bug_that_is_not_one_fails_the_selftest():
    # the reference itself, posing as a bug: the selftest must say it was missed
    pytest.importorskip("torch")
    harmless = SeededBug("not_a_bug", "the reference", reference_impl.backprop,
                         "unknown", "loss")
    doc = selftest.run(profile="ci", examples=6, oracles=["torch"], bugs=[harmless])
    assert doc["summary"]["verdict"] == "fail"
    assert doc["bugs"][0]["cases"] == 6 and not doc["bugs"][0]["caught"]
    assert "missed: not_a_bug" in selftest.table(doc)[-1]


def test_unknown_bug_names_say_which():
    with pytest.raises(DeltacheckError, match="--bugs has unknown nope"):
        selftest.select(["nope"])


def test_every_bug_is_an_implementation_by_name():
    for bug in bugs.BUGS:
        assert getattr(bugs, bug.name) is bug.backprop
    with pytest.raises(AttributeError):
        bugs.no_such_bug  # noqa: B018


def test_the_command_prints_the_table_and_the_run_report_shows_the_rate(tmp_path, capsys):
    pytest.importorskip("torch")
    code = main(["selftest", "--bugs", "tanh_slope_of_a,delta_sign", "--examples", "12",
                 "--oracles", "torch", "--json", str(tmp_path / "selftest.json")])
    out = capsys.readouterr().out
    assert code == 0
    assert "tanh_slope_of_a" in out and "caught 2 of 2 seeded bugs" in out
    saved = json.loads((tmp_path / "selftest.json").read_text())
    assert saved["schema"] == "deltacheck-selftest/1" and saved["summary"]["killed"] == 2

    code = main(["run", "--examples", "3", "--oracles", "torch", "--report",
                 str(tmp_path / "report.html"), "--json", str(tmp_path / "results.json"),
                 "--junit-xml", str(tmp_path / "junit.xml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "selftest: 2/2 seeded bugs caught (profile ci, seed 0, float64" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["selftest"]["killed"] == 2
    assert "2/2 seeded bugs caught" in (tmp_path / "report.html").read_text()


def test_a_missed_bug_exits_1(tmp_path, capsys):
    pytest.importorskip("torch")
    # three cases cannot reach the overflow regime: the bug is missed and the command says so
    code = main(["selftest", "--bugs", "naive_tanh", "--examples", "3", "--oracles", "torch",
                 "--json", str(tmp_path / "s.json")])
    assert code == 1
    assert "missed: naive_tanh" in capsys.readouterr().out


def test_bad_selftest_options_exit_2(capsys):
    assert main(["selftest", "--bugs", "nope"]) == 2
    assert "--bugs has unknown nope" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("profile, seed", [("ci", None), *[("quick", s) for s in range(1, 6)]])
def test_every_seeded_bug_is_caught(profile, seed):
    # the full table: about a minute per profile and seed on an idle machine
    doc = selftest.run(profile=profile, seed=seed)
    missed = [row["bug"] for row in doc["bugs"] if not row["caught"]]
    assert not missed, missed
