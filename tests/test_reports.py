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

from reports import html as report

FIXTURE = Path(__file__).parent / "data" / "results_fixture.json"
HEADINGS = ["Verdict", "Failures", "Environment and run settings", "Tolerances",
            "Worst error by loss, activation and oracle", "Error by layer depth",
            "Distribution of errors", "Not judged", "Passing cases"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
EVIL = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Every tag with its attributes, the h2 texts, all text, and any mis-nested end tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.h2: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self._open: list[str] = []
        self._h2: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self._open.append(tag)
        if tag == "h2":
            self._h2 = []

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

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._h2 is not None:
            self._h2.append(data)

    def classes(self, tag: str) -> list[str]:
        """The class attribute of every ``tag`` element."""
        return [a.get("class") or "" for t, a in self.tags if t == tag]


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
    articles = [c for c in page.classes("article") if "failure" in c.split()]
    assert len(articles) == len(results["failures"])
    assert "minimal" in articles[0].split()  # the shrunk network comes first
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
    assert not [c for c in page.classes("article") if "failure" in c.split()]
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
    assert report.grade("nan", 1e-12, "pass") == "bad"
    assert report.grade("inf", 1e-12) == "bad"
    assert report.grade(1e-13, "nan") == "bad"
    assert report.grade(0.0, 1e-12, "pass") == "ok"
    assert report.grade(5e-13, 1e-12, "pass") == "near"
    assert report.grade(0.0, 1e-12, "not judged") == "nj"
    assert math.isinf(report.num("-inf")) and math.isnan(report.num(None))
    assert [report.fmt_err(v) for v in ("nan", "inf", 0.0, 4.6e-4, 1e-12)] == \
        ["nan", "inf", "0", "4.6e-4", "1e-12"]


def test_unknown_run_keys_are_shown(results: dict[str, Any]) -> None:
    results["run"]["accelerator"] = {"name": "none", "count": 0}
    text = "".join(parse(report.render(results)).text)
    assert "accelerator" in text and "name: none; count: 0" in text


def test_many_failures_are_capped_and_listed(results: dict[str, Any]) -> None:
    base = results["failures"]
    results["failures"] = [dict(copy.deepcopy(base[i % len(base)]), id=1000 + i, minimal=i == 0)
                           for i in range(report.MAX_FULL_FAILURES + 7)]
    html = report.render(results)
    page = parse(html)
    shown = [c for c in page.classes("article") if "failure" in c.split()]
    assert len(shown) == report.MAX_FULL_FAILURES
    assert "7 more failures" in "".join(page.text)
    assert f">{1000 + report.MAX_FULL_FAILURES + 6}<" in html  # the last one, listed


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
    out = report.write(results, tmp_path / "deep" / "report.html")
    assert out == tmp_path / "deep" / "report.html"
    assert out.read_text(encoding="utf-8") == report.render(results)
