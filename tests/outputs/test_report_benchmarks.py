"""The report's cross-benchmark summary and RM-Bench difficulty matrix, rendered by headless chromium."""

import pytest

from orchestrator.outputs.report import write_report
from tests.outputs.test_report import CHROMIUM, IN_CI, _chromium
from tests.query.test_summary import _store


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("bench-store"))
    return write_report(store, tmp_path_factory.mktemp("report") / "report.html", n_boot=20)


def test_summary_and_matrix_in_the_page(report_html):
    text = report_html.read_text(encoding="utf-8")
    assert 'id="summary"' in text and 'id="kendall"' in text and 'id="chart-rm-bench-matrix"' in text
    assert "90.00 *" in text  # m1's incomplete RMB score, marked
    assert (
        "0.333" in text
    )  # Kendall tau-b judgebench vs rmb (tests/query/test_summary.py computes it by hand)
    assert "chosen concise" in text and "rejected detailed-markdown" in text


@pytest.mark.skipif(
    CHROMIUM is None and not IN_CI, reason="chromium not installed (apt-get install chromium); required in CI"
)
def test_renders_in_chromium(report_html, tmp_path):
    dom = _chromium(report_html.as_uri(), tmp_path)
    start = dom.index('id="chart-rm-bench-matrix"')
    chunk = dom[start : start + 40000]
    assert 'class="main-svg"' in chunk, "the RM-Bench matrix did not render"
    assert 'class="hm"' in chunk or "heatmaplayer" in chunk or "<image" in chunk
    summary = dom[dom.index('id="summary"') :]
    assert summary.count("<tr>") >= 5  # header + 4 models
