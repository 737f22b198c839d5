"""The report's cross-benchmark summary, RM-Bench difficulty matrix and PPE best-of-K curves, rendered by headless
chromium."""

import pytest

from orchestrator.outputs.report import write_report
from tests.benchmarks._records import write_records
from tests.benchmarks.test_ppe import _scored_fixture
from tests.outputs.test_report import CHROMIUM, IN_CI, _chromium
from tests.query.test_summary import _store

#: PPE correctness records of two models: ppe-a ranks the correct responses first, ppe-b the other way round
PPE_ROWS = {
    "ppe-a": [{"subset": "math", "scores_chosen": [3.0, 2.0], "scores_rejected": [1.0, 0.0]}],
    "ppe-b": [{"subset": "math", "scores_chosen": [0.0, 1.0], "scores_rejected": [2.0, 3.0]}],
}


@pytest.fixture(scope="module")
def report_html(tmp_path_factory):
    store = _store(tmp_path_factory.mktemp("bench-store"))
    for model, rows in PPE_ROWS.items():
        write_records(store, f"ppe-{model}", "ppe-correctness", model, rows)
    _scored_fixture(store, "ppe-human-rm")  # the 36 PPE human battles (tests/benchmarks/test_ppe.py)
    return write_report(store, tmp_path_factory.mktemp("report") / "report.html", n_boot=20)


def test_summary_and_matrix_in_the_page(report_html):
    text = report_html.read_text(encoding="utf-8")
    assert 'id="summary"' in text and 'id="kendall"' in text and 'id="chart-rm-bench-matrix"' in text
    assert "90.00 *" in text  # m1's incomplete RMB score, marked
    assert (
        "0.333" in text
    )  # Kendall tau-b judgebench vs rmb (tests/query/test_summary.py computes it by hand)
    assert "chosen concise" in text and "rejected detailed-markdown" in text
    assert 'id="chart-ppe-best-of-k"' in text and "PPE best-of-K" in text
    assert "<th>ppe-correctness</th>" in text  # the summary (`rayward leaderboard --all`) has PPE's overall


def test_ppe_categories_in_the_page(report_html):
    """The per-category table: tests/benchmarks/test_ppe.py's BY_HAND numbers (overall 11/25, math_prompt 1/4,
    Russian: every battle a tie, empty)."""
    text = report_html.read_text(encoding="utf-8")
    table = text[text.index('id="ppe-categories"') :]
    table = table[: table.index("</table>")]
    assert "<th>hard_prompt</th>" in table and "<th>language=Japanese</th>" in table
    assert 'data-value="0.44">44.00</td>' in table and 'data-value="0.25">25.00</td>' in table
    assert "ppe-human-rm" in table


def test_best_of_k_curves_by_hand(report_html):
    """ppe-a: best of 1 = 2/4 correct, best of K >= 2 always picks a correct one unless both drawn are wrong:
    1 - C(2,K)/C(4,K) = 5/6 at K=2, 1 at K=3, 4; ppe-b: C(2,K)/C(4,K)... = 1/2, 1/6, 0, 0."""
    text = report_html.read_text(encoding="utf-8")
    chunk = text[text.index('id="chart-ppe-best-of-k"') - 20000 :]
    assert '"name":"ppe-a"' in chunk and '"name":"ppe-b"' in chunk
    assert "0.8333333333333334" in chunk and "0.16666666666666666" in chunk


@pytest.mark.skipif(
    CHROMIUM is None and not IN_CI, reason="chromium not installed (apt-get install chromium); required in CI"
)
def test_renders_in_chromium(report_html, tmp_path):
    dom = _chromium(report_html.as_uri(), tmp_path)
    start = dom.index('id="chart-rm-bench-matrix"')
    chunk = dom[start : start + 40000]
    assert 'class="main-svg"' in chunk, "the RM-Bench matrix did not render"
    assert 'class="hm"' in chunk or "heatmaplayer" in chunk or "<image" in chunk
    start = dom.index('id="chart-ppe-best-of-k"')
    chunk = dom[start : start + 40000]
    assert 'class="main-svg"' in chunk, "the PPE best-of-K chart did not render"
    assert chunk.count('class="trace scatter') == 2, "one curve per model"
    summary = dom[dom.index('id="summary"') :]
    assert summary.count("<tr>") >= 5  # header + 4 models
