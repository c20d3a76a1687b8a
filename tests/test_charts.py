"""The one chart engine: what it draws can never hide a non-finite value, an exact 0 or text."""

import re

from deltacheck.reports import audit_plots, charts, svg


def _texts(markup):
    return re.findall(r">([^<>]+)</text>", str(markup))


def test_a_non_finite_value_breaks_its_line_and_is_marked_on_its_own_band():
    line = charts.Line("err", "#000", [(0, 1e-3), (1, "nan"), (2, 1e-5), (3, float("inf"))])
    out = str(charts.chart([line], title="t", x_label="x", log_y=True))
    assert "∞/nan" in _texts(out)
    assert out.count('fill="#e03131"><title>err: nan at 1') == 1
    assert out.count("<rect x=") >= 3  # two marks and the frame
    # broken at the nan: no polyline joins three points
    assert all(p.count(",") <= 2 for p in re.findall(r'points="([^"]+)"', out))


def test_finite_values_draw_no_band():
    out = str(charts.chart([charts.Line("a", "#000", [(0, 1.0), (1, 2.0)])], title="t",
                           x_label="x"))
    assert "∞/nan" not in _texts(out) and "no data" not in _texts(out)


def test_an_exact_zero_on_a_log_axis_sits_on_a_band_labelled_0():
    out = str(charts.chart([charts.Line("e", "#000", [(0, 0.0), (1, 1e-9)], dots=True)],
                           title="t", x_label="x", log_y=True))
    zero_band = f'fill="{charts.OK}">0</text>'
    assert zero_band in out
    out = str(charts.chart([charts.Line("e", "#000", [(0, 1e-3), (1, 1e-9)])], title="t",
                           x_label="x", log_y=True))
    assert zero_band not in out


def test_values_under_the_floor_sit_on_it_and_its_tick_says_so():
    out = str(charts.chart([charts.Line("e", "#000", [(0, 1e-30), (1, 1.0)])], title="t",
                           x_label="x", log_y=True, floor=-17))
    assert "≤1e-17" in _texts(out)


def test_the_legend_sits_right_of_the_frame():
    out = str(charts.chart([charts.Line("torch h′", "#000", [(0, 0.0), (1, 1.0)])], title="t",
                           x_label="a", legend_beside=True))
    frame = re.search(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', out)
    right = float(frame.group(1)) + float(frame.group(2))
    label_x = float(re.search(r'<text x="([\d.]+)"[^>]*>torch h′</text>', out).group(1))
    assert label_x > right


def test_text_from_users_is_escaped():
    out = str(charts.chart([charts.Line("<script>", "#000", [(0, 1.0), (1, 2.0)])],
                           title="<b>", x_label="x", legend_beside=True))
    assert "<script>" not in out and "<b>" not in out and "&lt;script&gt;" in out


def test_run_audit_and_demo_charts_are_the_same_engine():
    run = str(svg.log_chart([svg.Series("torch", "#000", [(0, 1e-12), (1, float("nan"))])],
                            [(1e-7, "#f00", "rtol 1e-7")], x_max=1, x_label="x", title="t"))
    audit = str(audit_plots.chart([0.0, 1.0], [audit_plots.Line("torch", "#000",
                                                               [1e-12, "inf"])],
                                  title="t", log_y=True))
    for out in (run, audit):
        assert "∞/nan" in _texts(out) and 'class="plot"' in out
