"""A self-contained HTML report: sortable leaderboard with CIs, analysis charts, run metadata.

Charts are plotly figures; plotly.js is inlined once in the page, so the file needs no network.
"""

from __future__ import annotations

import html
import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from orchestrator._lazy import require
from orchestrator.query.analyses import analyze

logger = logging.getLogger(__name__)

_LANGUAGES = ("cpp", "go", "java", "js", "python", "rust")
CHART_IDS = ("chart-refusals", "chart-reasoning", "chart-length", "chart-size")

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#666;margin-top:0}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:right} th:first-child,td:first-child{text-align:left}
th.sortable{cursor:pointer;user-select:none;background:#f4f4f4} th.sortable:hover{background:#e8e8e8}
th.asc::after{content:" \\25B2"} th.desc::after{content:" \\25BC"}
.ci{color:#888;font-size:12px} .chart{width:100%;height:460px} .empty{color:#888;font-style:italic}
section{margin-top:2.5em}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th').forEach(function(th, col){
    th.classList.add('sortable');
    th.addEventListener('click', function(){
      var asc = !th.classList.contains('asc');
      table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
      th.classList.add(asc ? 'asc' : 'desc');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
});
"""


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.2f}"


def _cell(text: str, value: Any = None) -> str:
    value = text if value is None else value
    return f'<td data-value="{html.escape(str(value), quote=True)}">{text}</td>'


def _leaderboard_html(rows: list[dict[str, Any]], cis: dict[str, Any]) -> str:
    from orchestrator.benchmarks import sections_of

    sections = [s for s in sections_of("reward-bench") if any(r.get(s) is not None for r in rows)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", "kind", *sections, "score", "complete"])
    body = []
    for r in rows:
        ci = cis.get(r["model"])
        cells = [_cell(html.escape(r["model"])), _cell(html.escape(r["kind"] or ""))]
        for c in [*sections, "score"]:
            v = r.get(c)
            iv = None if ci is None else (ci.overall if c == "score" else ci.sections.get(c))
            text = _pct(v)
            if iv is not None and v is not None:
                text += f' <span class="ci">[{100 * iv.low:.1f}, {100 * iv.high:.1f}]</span>'
            cells.append(_cell(text, "" if v is None else v))
        cells.append(_cell("yes" if r["complete"] else "no"))
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="leaderboard" class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _runs_html(rows: list[dict[str, Any]]) -> str:
    cols = [
        "run_id",
        "job",
        "started_at",
        "finished_at",
        "benchmark",
        "model",
        "kind",
        "status",
        "n_records",
        "num_parameters",
        "load_seconds",
        "score_seconds",
        "fingerprint",
        "error",
    ]
    head = "".join(f"<th>{c}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(_cell(html.escape("" if r.get(c) is None else str(r[c]))) for c in cols) + "</tr>"
        for r in rows
    )
    return f'<table id="runs" class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure_html(fig: Any, div_id: str) -> str:
    pio = require("plotly.io", "plotly")
    fig.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 50, "b": 60})
    return pio.to_html(
        fig,
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config={"displaylogo": False, "responsive": True},
        default_height=460,
    )


def _empty(div_id: str, what: str) -> str:
    return f'<p id="{div_id}" class="empty">No data for {html.escape(what)} yet.</p>'


def _refusal_chart(rows: list[dict[str, Any]]) -> str:
    go = require("plotly.graph_objects", "plotly")
    rows = [r for r in rows if r["refuse_accuracy"] is not None and r["comply_accuracy"] is not None]
    if not rows:
        return _empty("chart-refusals", "refusals")
    fig = go.Figure(
        go.Scatter(
            x=[r["comply_accuracy"] for r in rows],
            y=[r["refuse_accuracy"] for r in rows],
            mode="markers+text",
            text=[r["model"] for r in rows],
            textposition="top center",
            marker={"size": 12},
            customdata=[r["placement"] for r in rows],
            hovertemplate="%{text}<br>comply %{x:.1%}<br>refuse %{y:.1%}<br>%{customdata}<extra></extra>",
        )
    )
    fig.add_hline(y=0.7, line_dash="dot", line_color="#999")
    fig.add_vline(x=0.7, line_dash="dot", line_color="#999")
    fig.update_layout(
        title="Refusals: should-refuse vs should-comply accuracy (thresholds 70%)",
        xaxis={"title": "comply accuracy (xstest-should-respond)", "range": [0, 1.05], "tickformat": ".0%"},
        yaxis={"title": "refuse accuracy (pooled)", "range": [0, 1.05], "tickformat": ".0%"},
    )
    return _figure_html(fig, "chart-refusals")


def _reasoning_chart(rows: list[dict[str, Any]]) -> str:
    go = require("plotly.graph_objects", "plotly")
    if not rows:
        return _empty("chart-reasoning", "reasoning")
    cats = ["math", *_LANGUAGES]
    fig = go.Figure([go.Bar(name=r["model"], x=cats, y=[r.get(c) for c in cats]) for r in rows])
    fig.update_layout(
        barmode="group",
        title="Reasoning: math-prm and code per language",
        yaxis={"title": "accuracy", "range": [0, 1], "tickformat": ".0%"},
    )
    return _figure_html(fig, "chart-reasoning")


def _length_chart(rows: list[dict[str, Any]]) -> str:
    go = require("plotly.graph_objects", "plotly")
    rows = [r for r in rows if r["subset"] != "(all)" and r["gap"] is not None]
    if not rows:
        return _empty("chart-length", "length bias")
    models = list(dict.fromkeys(r["model"] for r in rows))
    subsets = list(dict.fromkeys(r["subset"] for r in rows))
    by = {(r["model"], r["subset"]): r["gap"] for r in rows}
    cat = {r["subset"]: r["length_category"] for r in rows}
    fig = go.Figure(
        [
            go.Bar(name=m, x=[f"{s} ({cat[s]})" for s in subsets], y=[by.get((m, s)) for s in subsets])
            for m in models
        ]
    )
    fig.update_layout(
        barmode="group",
        title="Length bias: accuracy when chosen is longer minus when it is shorter "
        "(reference length category in brackets)",
        yaxis={"title": "gap", "tickformat": ".0%"},
    )
    return _figure_html(fig, "chart-length")


def _size_chart(rows: list[dict[str, Any]]) -> str:
    go = require("plotly.graph_objects", "plotly")
    rows = [r for r in rows if r["num_parameters"] and r["score"] is not None]
    if not rows:
        return _empty("chart-size", "model size")
    fig = go.Figure(
        go.Scatter(
            x=[r["num_parameters"] for r in rows],
            y=[r["score"] for r in rows],
            mode="markers+text",
            text=[r["model"] for r in rows],
            textposition="top center",
            marker={"size": 12},
            hovertemplate="%{text}<br>%{x:,} parameters<br>score %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Score against parameter count",
        xaxis={"title": "parameters", "type": "log"},
        yaxis={"title": "score", "tickformat": ".1%"},
    )
    return _figure_html(fig, "chart-size")


def render_report(
    results: str | Path, benchmark: str = "reward-bench", *, n_boot: int = 2000, seed: int = 0
) -> str:
    """The report as one HTML string (plotly.js inlined)."""
    offline = require("plotly.offline", "plotly")
    from orchestrator.query.db import connect, run_query, stored_query
    from orchestrator.query.stats import leaderboard_cis

    con = connect(results)
    try:
        board = stored_query(con, "leaderboard", benchmark=benchmark).to_pylist()
        # no brackets where the bootstrap does not apply (best-of-N, Ties, judges, a rule's own sections), as --ci
        unsupported = stored_query(con, "ci_unsupported", benchmark=benchmark).to_pylist()[0]["n"]
        cis = {} if unsupported else leaderboard_cis(con, benchmark, n_boot=n_boot, seed=seed)
        parts = {
            "refusals": _refusal_chart(analyze(con, "refusals", benchmark)),
            "reasoning": _reasoning_chart(analyze(con, "reasoning", benchmark)),
            "length": _length_chart(analyze(con, "length", benchmark)),
            "size": _size_chart(analyze(con, "size", benchmark)),
        }
        runs = run_query(con, "SELECT * FROM run_models ORDER BY run_id DESC, benchmark, model").to_pylist()
        matrix = stored_query(con, "report_style_matrix", benchmark="rm-bench").to_pylist()
        curves = stored_query(con, "report_best_of_k", benchmark="ppe-correctness").to_pylist()
        categories = stored_query(con, "ppe_categories", benchmark="ppe-human").to_pylist()
    finally:
        con.close()
    from orchestrator.outputs.report_benchmarks import (
        best_of_k_chart,
        categories_html,
        style_matrix_chart,
        summary_html,
    )
    from orchestrator.query.summary import summary

    across = summary(results)
    parts["summary"] = summary_html(across.rows, across.benchmarks, across.agreement)
    parts["rm-bench"] = style_matrix_chart(matrix, _figure_html, _empty)
    parts["ppe"] = best_of_k_chart(curves, _figure_html, _empty)
    parts["ppe-categories"] = categories_html(categories)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    title = f"Rayward report: {html.escape(benchmark)}"
    data = json.dumps({"models": [r["model"] for r in board]}).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_CSS}</style>
<script type="text/javascript">{offline.get_plotlyjs()}</script>
</head><body>
<h1>{title}</h1>
<p class="meta">Results store {html.escape(str(results))} · generated {now} · {len(board)} model(s) ·
scores are accuracies (%), brackets are bootstrap 95% CIs (prompts resampled within subsets, {n_boot} resamples, seed {seed}).
Click a column header to sort.</p>
<section><h2>Leaderboard</h2>{_leaderboard_html(board, cis)}</section>
<section><h2>Refusals</h2>{parts["refusals"]}</section>
<section><h2>Reasoning by language</h2>{parts["reasoning"]}</section>
<section><h2>Length bias</h2>{parts["length"]}</section>
<section><h2>Size</h2>{parts["size"]}</section>
<section><h2>All benchmarks</h2>{parts["summary"]}</section>
<section><h2>RM-Bench difficulty</h2>{parts["rm-bench"]}</section>
<section><h2>PPE best-of-K</h2>{parts["ppe"]}</section>
<section><h2>PPE human preference by category</h2>{parts["ppe-categories"]}</section>
<section><h2>Runs</h2>{_runs_html(runs)}</section>
<script type="text/javascript">{_SORT_JS}</script>
<script type="text/javascript">window.raywardReportData = {data};</script>
</body></html>
"""


def write_report(
    results: str | Path,
    out: str | Path,
    benchmark: str = "reward-bench",
    *,
    n_boot: int = 2000,
    seed: int = 0,
) -> Path:
    """Write the self-contained HTML report to ``out``; returns its path."""
    out = Path(out)
    text = render_report(results, benchmark, n_boot=n_boot, seed=seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    logger.info("wrote report %s (%d bytes)", out, len(text))
    return out
