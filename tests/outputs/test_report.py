"""The HTML report: self-contained, and rendered by a real headless browser (chromium)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from orchestrator.outputs.report import CHART_IDS, render_report, write_report
from orchestrator.outputs.report_benchmarks import BENCHMARK_CHART_IDS
from tests._synth import bools, write_run
from tests.conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _data(k):
    d = {
        "alpacaeval-easy": [
            {"correct": i < 6 + k, "tokens_chosen": 20 if i % 2 else 5, "tokens_rejected": 10}
            for i in range(10)
        ],
        "refusals-dangerous": bools(4 + 2 * k, 10),
        "xstest-should-respond": bools(8 - 2 * k, 10),
        "math-prm": bools(5 + k, 10),
    }
    d.update(
        {
            f"hep-{lang}": bools((j + k) % 10, 10)
            for j, lang in enumerate(["cpp", "go", "java", "js", "python", "rust"])
        }
    )
    return d


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-store")
    write_run(
        root,
        "20260101T000000Z-a",
        {"org/small <rm>": _data(0), "mid-rm": _data(1), "big-rm": _data(2)},
        params={"org/small <rm>": 1_000_000, "mid-rm": 50_000_000, "big-rm": 7_000_000_000},
    )
    return root


@pytest.fixture(scope="module")
def report_html(store, tmp_path_factory):
    return write_report(store, tmp_path_factory.mktemp("report") / "report.html", n_boot=200)


def test_report_is_self_contained(report_html):
    text = report_html.read_text(encoding="utf-8")
    # no external resources: every <script> is inline, no stylesheet links
    assert not re.search(r"<script[^>]*\bsrc=", text) and "<link" not in text
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js inlined
    for cid in CHART_IDS:
        assert f'id="{cid}"' in text
    assert "org/small &lt;rm&gt;" in text and "org/small <rm>" not in text.split("<script", 1)[0]
    assert "20260101T000000Z-a" in text  # run metadata


def test_report_empty_store(tmp_path):
    text = render_report(tmp_path, n_boot=10)
    assert text.count('class="empty"') == len(CHART_IDS) + len(BENCHMARK_CHART_IDS)


def _chromium(url, tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif(
    CHROMIUM is None and not IN_CI, reason="chromium not installed (apt-get install chromium); required in CI"
)
def test_report_renders_in_chromium(report_html, tmp_path):
    assert CHROMIUM is not None, "chromium must be installed in CI (.ci/run installs it)"
    # after the page's own scripts: click the score header twice (descending) and record the row order
    probe = """<script>
    window.addEventListener('load', function(){
      var th = Array.prototype.find.call(document.querySelectorAll('#leaderboard th'), function(h){return h.textContent === 'score';});
      th.click(); th.click();
      var order = Array.prototype.map.call(document.querySelectorAll('#leaderboard tbody tr'), function(r){return r.cells[0].textContent;});
      document.body.setAttribute('data-sorted', order.join('|'));
    });
    </script></body>"""
    page = tmp_path / "probe.html"
    page.write_text(report_html.read_text(encoding="utf-8").replace("</body>", probe), encoding="utf-8")
    dom = _chromium(page.as_uri(), tmp_path)
    for cid in CHART_IDS:
        start = dom.index(f'id="{cid}"')
        chunk = dom[start : start + 20000]
        assert 'class="main-svg"' in chunk, f"{cid} did not render"
        assert (
            '<g class="point"' in chunk
            or 'class="point"' in chunk
            or "scatterlayer" in chunk
            or "barlayer" in chunk
        )
    assert dom.count('class="main-svg"') >= 2 * len(CHART_IDS)  # plotly draws two svg layers per chart
    table = dom[dom.index('id="leaderboard"') :]
    assert table.count("<tr>") >= 4
    assert 'data-sorted="big-rm|mid-rm|org/small &lt;rm&gt;"' in dom


def test_cli_report(store, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "report",
            "--results",
            str(store),
            "--out",
            str(tmp_path / "r.html"),
            "--n-boot",
            "50",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "r.html").stat().st_size > 1_000_000
