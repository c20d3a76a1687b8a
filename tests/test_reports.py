"""The HTML report: one self-contained, escaped page, failures first, sections in order."""

from __future__ import annotations

import copy
import json
import math
import random
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from deltacheck.reports import common, failures
from deltacheck.reports import html as report
from deltacheck.results import output

FIXTURE = Path(__file__).parent / "data" / "results_fixture.json"
HEADINGS = ["Verdict", "Worst error by loss, activation and oracle", "Failures",
            "Environment and run settings", "Tolerances", "Error by layer depth",
            "Distribution of errors", "Not judged", "Passing cases"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
EVIL = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Every tag with its attributes, the h2 and summary texts, all text, and any mis-nested
    end tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self.summaries: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self._open: list[str] = []
        self._h2: list[str] | None = None
        self._summary: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self._open.append(tag)
        if tag == "h2":
            self._h2 = []
        if tag == "summary":
            self._summary = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self._open or self._open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self._open[-1] if self._open else None}>")
            return
        self._open.pop()
        if tag == "h2" and self._h2 is not None:
            self.h2.append("".join(self._h2).strip())
            self._h2 = None
        if tag == "summary" and self._summary is not None:
            self.summaries.append(" ".join("".join(self._summary).split()))
            self._summary = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._h2 is not None:
            self._h2.append(data)
        if self._summary is not None:
            self._summary.append(data)

    def classes(self, tag: str) -> list[str]:
        """The class attribute of every ``tag`` element."""
        return [a.get("class") or "" for t, a in self.tags if t == tag]

    def failures(self) -> list[dict[str, str | None]]:
        """The attributes of every failure's ``<details>``, in page order."""
        return [a for t, a in self.tags
                if t == "details" and "failure" in (a.get("class") or "").split()]


def parse(html: str) -> Page:
    """Parse and insist that every element is closed, in order."""
    __tracebackhide__ = True
    page = Page()
    page.feed(html)
    page.close()
    assert not page.errors, f"mis-nested tags: {page.errors[:5]}"
    assert not page._open, f"unclosed tags: {page._open}"
    return page


@pytest.fixture(scope="module")
def fixture_text() -> str:
    return FIXTURE.read_text(encoding="utf-8")


@pytest.fixture
def results(fixture_text: str) -> dict[str, Any]:
    return json.loads(fixture_text)


@pytest.fixture(scope="module")
def fixture_page(fixture_text: str) -> tuple[str, Page]:
    html = report.render(json.loads(fixture_text))
    return html, parse(html)


def passing(results: dict[str, Any]) -> dict[str, Any]:
    """The fixture with its failures removed and every verdict a pass."""
    r = copy.deepcopy(results)
    r["failures"] = []
    r["cases"] = [c for c in r["cases"] if c["verdict"] == "pass"]
    r["summary"].update(verdict="pass", cases=len(r["cases"]), failed_cases=0,
                        first_disagreement=None)
    for row in r["summary"]["by_loss_oracle"]:
        row.update(verdict="pass", worst_err=0.0)
    return r


def test_fixture_parses_with_the_sections_in_order(fixture_page: tuple[str, Page]) -> None:
    _, page = fixture_page
    assert page.h2 == HEADINGS
    assert page.h2.index("Failures") < page.h2.index("Environment and run settings")
    assert [t for t, _ in page.tags].count("nav") == 1  # the table of contents


def test_the_page_references_nothing_outside_itself(fixture_page: tuple[str, Page]) -> None:
    html, page = fixture_page
    assert not re.search(r"https?:", html, re.IGNORECASE)
    assert "url(" not in html and "@import" not in html
    assert not [a for t, a in page.tags if t in ("script", "link", "img", "iframe")]
    assert not [a for _, a in page.tags if "src" in a]
    hrefs = [a["href"] for _, a in page.tags if a.get("href") is not None]
    assert hrefs and all(h.startswith("#") for h in hrefs), hrefs


def test_failures_show_message_repro_and_the_minimal_network(
        fixture_page: tuple[str, Page], results: dict[str, Any]) -> None:
    _, page = fixture_page
    text = "".join(page.text)
    for f in results["failures"]:
        assert f["message"] in text
        assert f["repro"] in text
    shown = [(a.get("class") or "").split() for a in page.failures()]
    assert len(shown) == len(results["failures"])
    assert "minimal" in shown[0]  # the shrunk network comes first
    assert "minimal failing network" in text
    assert page.classes("pre").count("repro") == len(results["failures"])


def test_worst_and_failing_entries_are_marked(fixture_page: tuple[str, Page]) -> None:
    html, _ = fixture_page
    # case 3: the implementation's δ[0] is nan; it must be marked failing, never passing
    assert re.search(r'<td class="[^"]*\bbad\b[^"]*">nan</td>', html)
    # case 10: ∂W[0][0, 0] = 0.33566 against torch's 0.335325
    assert re.search(r'<td class="worst bad">0\.33566</td>', html)
    assert re.search(r'<td class="worst bad">0\.335325</td>', html)


def test_plots_are_inline_svg(fixture_page: tuple[str, Page], results: dict[str, Any]) -> None:
    _, page = fixture_page
    svgs = [a for t, a in page.tags if t == "svg"]
    oracles = results["run"]["oracles"]
    # three depth charts, one histogram per oracle, one network per failure
    assert len(svgs) == 3 + len(oracles) + len(results["failures"])
    assert all(a.get("viewbox") for a in svgs)
    assert any(t == "polyline" for t, _ in page.tags)
    assert any(t == "rect" for t, _ in page.tags)


def test_user_strings_are_escaped(results: dict[str, Any]) -> None:
    r = results
    r["run"]["impl"] = EVIL
    r["run"]["activations"].append(EVIL)
    r["run"]["oracles"].append(EVIL)
    case = next(c for c in r["cases"] if c["arch"]["activations"])
    case["arch"]["activations"][0] = EVIL
    f = r["failures"][0]
    f["case"]["activations"][0] = EVIL
    f["message"] = f["impl_problem"] = f["impl_traceback"] = EVIL
    f["repro"] = f"deltacheck run --impl '{EVIL}'"
    r["environment"]["platform"] = EVIL
    html = report.render(r)
    page = parse(html)
    assert EVIL not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not [t for t, _ in page.tags if t == "script"]
    assert "".join(page.text).count(EVIL) >= 5  # shown, as text


def test_a_passing_run_says_all_agree(results: dict[str, Any]) -> None:
    html = report.render(passing(results))
    page = parse(html)
    text = "".join(page.text)
    assert "All oracles agree" in text
    assert "Disagreement found" not in text
    assert "No failures" in text
    assert not page.failures()
    assert "repro" not in page.classes("pre")
    assert page.h2 == HEADINGS


def test_a_pass_verdict_beside_a_failure_is_not_shown_as_a_pass(results: dict[str, Any]) -> None:
    results["summary"]["verdict"] = "pass"
    text = "".join(parse(report.render(results)).text)
    assert "Disagreement found" in text and "All oracles agree" not in text


def test_non_finite_numbers_render_and_never_look_passing(results: dict[str, Any]) -> None:
    r = passing(results)
    case = r["cases"][0]
    for oracle in case["oracles"].values():
        oracle["err"] = "nan"  # even under a "pass" verdict
        oracle["rtol"] = "inf"
        oracle["quantities"][0].update(err="nan", abs="inf", rel="-inf", norm="nan")
    r["summary"]["by_loss_oracle"][0]["worst_err"] = "inf"
    r["summary"]["judged_entries"]["torch"] = "nan"
    html = report.render(r)
    parse(html)
    assert 'class="cell bad"' in html
    assert common.grade("nan", 1e-12, "pass") == "bad"
    assert common.grade("inf", 1e-12) == "bad"
    assert common.grade(1e-13, "nan") == "bad"
    assert common.grade(0.0, 1e-12, "pass") == "ok"
    assert common.grade(5e-13, 1e-12, "pass") == "near"
    assert common.grade(0.0, 1e-12, "not judged") == "nj"
    assert math.isinf(common.num("-inf")) and math.isnan(common.num(None))
    assert [common.fmt_err(v) for v in ("nan", "inf", 0.0, 4.6e-4, 1e-12, 0.2213, 2.6, 33.4)] \
        == ["nan", "inf", "0", "4.6e-4", "1e-12", "0.22", "2.6", "33"]


def test_unknown_run_keys_are_shown(results: dict[str, Any]) -> None:
    results["run"]["accelerator"] = {"name": "none", "count": 0}
    text = "".join(parse(report.render(results)).text)
    assert "accelerator" in text and "name: none; count: 0" in text


def test_many_failures_are_capped_and_listed(results: dict[str, Any]) -> None:
    base = results["failures"]
    results["failures"] = [dict(copy.deepcopy(base[i % len(base)]), id=1000 + i, minimal=i == 0)
                           for i in range(failures.MAX_FULL_FAILURES + 7)]
    html = report.render(results)
    page = parse(html)
    assert len(page.failures()) == failures.MAX_FULL_FAILURES
    assert "7 more failures" in "".join(page.text)
    assert f">{1000 + failures.MAX_FULL_FAILURES + 6}<" in html  # the last one, listed


def test_a_large_quantity_is_shown_around_its_worst_entry(results: dict[str, Any]) -> None:
    f = results["failures"][2]  # ∂W[0] fails at [2, 2]
    grid = [[0.1 * i + 0.001 * j for j in range(12)] for i in range(20)]
    for name, values in f["values"].items():
        values["grad_weights"][0] = copy.deepcopy(grid)
        if name == "impl":
            values["grad_weights"][0][15][9] = 7.5
            values["grad_weights"][0][0][0] = "nan"
        values.get("unjudged", {}).get("grad_weights", [None])[0] = [[False] * 12] * 20
    for oracle in f["oracles"].values():
        for q in oracle["quantities"]:
            if (q["q"], q["layer"]) == ("grad_weights", 0):
                q["worst"] = [15, 9]
    results["failures"] = [f]
    html = report.render(results)
    parse(html)
    assert '<td class="worst bad">7.5</td>' in html
    assert "showing rows 11–18 of 20, columns 4–11 of 12; 1 more entry beyond tolerance" in html


def test_failures_past_the_first_few_are_folded_to_their_message(
        results: dict[str, Any]) -> None:
    base = results["failures"]
    minimal = {0, 5}
    results["failures"] = [dict(copy.deepcopy(base[i % len(base)]), id=2000 + i,
                                minimal=i in minimal, message=f"δ[0][0, {i}] = {i}, but …")
                           for i in range(10)]
    page = parse(report.render(results))
    shown = page.failures()
    order = [0, 5, 1, 2, 3, 4, 6, 7, 8, 9]  # minimal first, otherwise as given
    assert [a["id"] for a in shown] == [f"failure-{k + 1}" for k in range(10)]
    is_open = ["open" in a for a in shown]
    assert is_open == [k < failures.OPEN_FAILURES or i in minimal for k, i in enumerate(order)]
    assert is_open.count(False) == 10 - failures.OPEN_FAILURES
    summaries = [t for t in page.summaries if t.startswith("Case ")]
    for i, summary in zip(order, summaries, strict=True):
        assert summary.startswith(f"Case {2000 + i}")
        assert f"δ[0][0, {i}] = {i}, but …" in summary  # the message, readable while folded
    late_minimal = next(k for k, i in enumerate(order) if i == 5)
    assert late_minimal >= 1 and is_open[late_minimal]


def test_the_verdict_names_the_minimal_failure_as_is(results: dict[str, Any]) -> None:
    first = results["summary"]["first_disagreement"]
    html = report.render(results)
    page = parse(html)
    text = "".join(page.text)
    assert first in text
    assert "First disagreement · minimal failing network" in text
    minimal = next(f for f in results["failures"] if f["minimal"])
    assert minimal["message"] == first
    assert re.search(r'<a href="#failure-1">case ' + str(minimal["id"]) + r"\b", html)


def test_every_link_points_at_an_element_of_the_page(results: dict[str, Any]) -> None:
    page = parse(report.render(results))
    ids = {a["id"] for _, a in page.tags if a.get("id")}
    hrefs = {a["href"] for _, a in page.tags if a.get("href")}
    assert {h.removeprefix("#") for h in hrefs} <= ids


def with_unresolved(results: dict[str, Any], n: int) -> dict[str, Any]:
    """The fixture as a newer run writes it: fd judged some entries only to its error bar."""
    results["summary"]["unresolved_entries"] = {"torch": 0, "jax": 0, "fd": n}
    f = results["failures"][1]  # ∂W[0] fails for every oracle
    for q in f["oracles"]["fd"]["quantities"]:
        q["unresolved"] = 3 if (q["q"], q["layer"]) == ("grad_weights", 0) else 0
    return results


def test_entries_judged_only_to_the_error_bar_are_counted(results: dict[str, Any]) -> None:
    html = report.render(with_unresolved(results, 93))
    text = " ".join("".join(parse(html).text).split())
    assert "Entries counted as unresolved are still judged" in text  # the column, explained
    assert "a gross error there still fails" in text
    assert re.findall(r'<td class="n unresolved( dim)?">(\d+)', html) == \
        [(" dim", "0"), (" dim", "0"), ("", "93")]
    assert "93 (10.0%)" in text  # of fd's 931 judged entries
    assert '<span class="v">93</span><span class="k">unresolved</span>' in html
    assert "only to fd&#39;s error bar" in html  # the stat's tooltip
    assert "In this run 93 judged entries were unresolved." in text
    assert "err 4.9e-4 > rtol 1e-7 · 3 unresolved" in text  # the failing ∂W[0] of fd


def test_files_without_error_bar_counts_show_zeros(results: dict[str, Any]) -> None:
    assert "unresolved_entries" not in results["summary"]
    html = report.render(results)
    text = " ".join("".join(parse(html).text).split())
    assert "Entries counted as unresolved are still judged" in text
    assert "only to fd&#39;s error bar" not in html  # no card for nothing
    assert "In this run" not in text
    assert re.findall(r'<td class="n unresolved( dim)?">(\d+)', html) == [(" dim", "0")] * 3


def test_error_bar_counts_fall_back_to_the_cases(results: dict[str, Any]) -> None:
    for c in results["cases"][:4]:
        c["oracles"]["fd"]["quantities"][0]["unresolved"] = 2
    html = report.render(results)
    parse(html)
    assert '<span class="v">8</span><span class="k">unresolved</span>' in html
    assert '<td class="n unresolved">8' in html


def synthetic(results: dict[str, Any], n: int) -> dict[str, Any]:
    """n cases made from the fixture's passing ones, with errors and activations perturbed."""
    rng = random.Random(0)
    acts = results["run"]["activations"]
    templates = [json.dumps(c) for c in results["cases"] if c["verdict"] == "pass"]
    cases = [c for c in results["cases"] if c["verdict"] != "pass"]
    while len(cases) < n:
        c = json.loads(rng.choice(templates))
        c["id"] = len(cases)
        c["arch"]["activations"] = [rng.choice(acts) for _ in c["arch"]["activations"]]
        for oracle in c["oracles"].values():
            for q in oracle["quantities"]:
                if isinstance(q["err"], float) and q["err"] > 0:
                    q["err"] *= 10 ** rng.uniform(-3, 0)
        cases.append(c)
    r = copy.deepcopy({k: v for k, v in results.items() if k != "cases"})
    r["cases"] = cases
    r["summary"].update(cases=n)
    return r


def test_a_5000_case_report_stays_under_2_mb(results: dict[str, Any]) -> None:
    html = report.render(synthetic(results, 5000))
    parse(html)
    assert len(html.encode("utf-8")) < 2_000_000


def test_write_creates_the_file(results: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "deep" / "report.html"
    output.write_outputs(results, report_path=out)
    assert out.read_text(encoding="utf-8") == report.render(results)


def test_the_header_says_what_was_declared_and_what_the_verdict_counts(
        results: dict[str, Any]) -> None:
    from deltacheck.reports import html

    plain = html.render(results)
    assert "Declared:" not in plain  # the defaults say nothing
    run = {**results["run"], "checks": ["grad_weights", "grad_biases"],
           "conventions": {"weight_layout": "in_out", "reduction": "mean", "targets": "labels",
                           "losses": None, "provides": ["grad_weights", "grad_biases"]}}
    page = html.render({**results, "run": run})
    line = page[page.index("Declared:"):].split("</p>")[0]
    for words in ("weights stored (n_in, n_out)", "loss averaged over the batch",
                  "integer class labels", "does not provide loss, deltas",
                  "the verdict counts only grad_weights, grad_biases"):
        assert words in line
