"""Joining the parts of a document: ids numbered as one, every minimal failure kept, the cap."""

from deltacheck.campaign.planning import SliceOutcome, assemble
from deltacheck.results.numbering import MAX_FAILURES, numbered


def _part(n_cases, failing, minimal=()):
    records = [{"id": i, "verdict": "fail" if i in failing else "pass"} for i in range(n_cases)]
    failures = [{"id": i, "minimal": i in minimal} for i in failing]
    return records, failures


def test_each_parts_ids_move_past_the_ones_before():
    records, failures = numbered([_part(3, [1]), _part(2, [0, 1]), _part(4, [3])])
    assert [r["id"] for r in records] == list(range(9))
    assert [f["id"] for f in failures] == [1, 3, 4, 8]
    # a failure still points at its own record
    assert all(records[f["id"]]["verdict"] == "fail" for f in failures)


def test_start_continues_a_document_and_tags_mark_each_part():
    records, failures = numbered([_part(2, [1]), _part(1, [0])], start=5,
                                 tags=[{"slice": 7}, {"slice": 2}])
    assert [(r["id"], r["slice"]) for r in records] == [(5, 7), (6, 7), (7, 2)]
    assert [f["id"] for f in failures] == [6, 7]


def test_every_minimal_failure_is_kept_past_the_cap():
    many = _part(MAX_FAILURES + 10, range(MAX_FAILURES + 10))
    late = _part(3, [0, 1, 2], minimal=[2])
    records, failures = numbered([many, late])
    assert len(records) == MAX_FAILURES + 13
    assert sum(not f["minimal"] for f in failures) == MAX_FAILURES
    assert [f["id"] for f in failures if f["minimal"]] == [MAX_FAILURES + 12]
    _, every = numbered([many, late], cap=None)
    assert len(every) == MAX_FAILURES + 13


def test_a_run_assembles_its_slices_in_slice_order_with_their_numbers():
    def outcome(index, n, failing):
        records, failures = _part(n, failing)
        return SliceOutcome(index=index, records=records, failures=failures, minimal=[],
                            failed_count=len(failing), shrink_steps=0, disagreed=bool(failing))

    records, failures, _ = assemble([outcome(1, 2, [0]), outcome(0, 3, [2])])
    assert [(r["id"], r["slice"]) for r in records] == [(0, 0), (1, 0), (2, 0), (3, 1), (4, 1)]
    assert [f["id"] for f in failures] == [2, 3]
