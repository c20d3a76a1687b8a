"""``selftest`` with a profile and seed checks exactly the cases ``run`` checks with them: each
seeded bug is caught by the same case in both, or missed by both."""

import json
import subprocess
import sys

# In a fresh process, so that the selftest meets the modules a command line starts with and not
# those other tests imported: Hypothesis draws constants from the modules loaded.
SCRIPT = """
import json, sys
from deltacheck.campaign import selftest, runner
from deltacheck.campaign.planning import Config, drawn_activations, planned
from deltacheck.campaign.slices import Campaign, settle_imports
from deltacheck.core.case import LOSSES
from deltacheck.core.conventions import declared
examples, seed, oracles = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
doc = selftest.run(profile="quick", seed=seed, examples=examples, oracles=oracles)
out = {}
for bug, kill in zip(selftest.BUGS, doc["bugs"]):
    # what run checks, before it shrinks: the first pass over every slice
    settle_imports()
    config = Config(impl=bug.backprop, impl_spec="deltacheck.bugs:" + bug.name, seed=seed,
                    examples=examples, oracles=oracles, conventions=declared(bug.backprop))
    run = Campaign(config, lambda *a: None)
    slices = planned(examples, list(config.losses), None)
    outcomes = runner._run_slices(config, run, slices, drawn_activations(config), lambda *a: None)
    order = sorted(range(len(slices)), key=lambda i: (slices[i].number, LOSSES.index(slices[i].loss)))
    checked, first = 0, None
    for i in order:
        failing = [k for k, r in enumerate(outcomes[i].records) if r["verdict"] == "fail"]
        if outcomes[i].disagreed and failing:
            first = [checked + failing[0] + 1, slices[i].loss]
            break
        checked += len(outcomes[i].records)
    out[bug.name] = {"selftest": [kill["cases"], kill["loss"]] if kill["caught"] else None,
                     "run": first, "kind": bug.kind}
print(json.dumps(out))
"""


def test_selftest_and_run_catch_every_bug_at_the_same_case():
    done = subprocess.run([sys.executable, "-c", SCRIPT, "24", "129403953", "torch,fd"],
                          capture_output=True, text=True, timeout=600, check=True)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # a stateful bug's verdict depends on the calls before it, and in this one process the
    # selftest's calls come before the run's: the two cannot meet the same history
    differ = {bug: v for bug, v in found.items()
              if v["selftest"] != v["run"] and v["kind"] != "stateful"}
    assert not differ, differ
    assert len(found) == 75
