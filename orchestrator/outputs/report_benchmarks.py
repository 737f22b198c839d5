"""Report sections beyond one benchmark's leaderboard: the cross-benchmark summary (scores, ranks, Kendall tau),
RM-Bench's difficulty matrix (chosen style x rejected style, mean over domains) and PPE's best-of-K curves (the
expected correctness of the reward model's pick among K responses, K = 1..32, mean over the correctness sets) and
PPE's human preference accuracy per category and language."""

from __future__ import annotations

import html
from typing import Any

from orchestrator._lazy import require

BENCHMARK_CHART_IDS = ("chart-rm-bench-matrix", "chart-ppe-best-of-k")
STYLES = ("concise", "detailed-plain", "detailed-markdown")


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.2f}"


def _td(text: str, value: Any = None) -> str:
    value = text if value is None else value
    return f'<td data-value="{html.escape(str(value), quote=True)}">{text}</td>'


def summary_html(rows: list[dict[str, Any]], benchmarks: list[str], agreement: list[dict[str, Any]]) -> str:
    """The summary table (one row per model; an incomplete score is marked *) and the Kendall tau table."""
    if not rows:
        return '<p id="summary" class="empty-summary">No benchmark results yet.</p>'
    head = "".join(
        f"<th>{html.escape(c)}</th>"
        for c in ["model", "kind", *[x for b in benchmarks for x in (b, f"rank {b}")], "mean rank"]
    )
    body = []
    for r in rows:
        cells = [_td(html.escape(r["model"])), _td(html.escape(r["kind"] or ""))]
        for b in benchmarks:
            v = r.get(b)
            mark = "" if v is None or r.get(f"complete {b}") else " *"
            cells.append(_td(_pct(v) + mark, "" if v is None else v))
            cells.append(_td(str(r.get(f"rank {b}") or "")))
        cells.append(_td(f"{r['mean_rank']:.2f}", r["mean_rank"]))
        body.append("<tr>" + "".join(cells) + "</tr>")
    tau_rows = "".join(
        "<tr>"
        + "".join(
            _td(html.escape(str(a[c]) if a[c] is not None else ""))
            if c != "kendall_tau"
            else _td("" if a[c] is None else f"{a[c]:.3f}")
            for c in ("benchmark_a", "benchmark_b", "n_models", "n_incomplete", "kendall_tau")
        )
        + "</tr>"
        for a in agreement
    )
    return (
        f'<table id="summary" class="sortable"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        '<p class="meta">Overall score % per benchmark (its own formula; * = incomplete: a subset or domain is '
        "missing or partial) and rank (1 = best).</p>"
        '<table id="kendall"><thead><tr><th>benchmark a</th><th>benchmark b</th><th>models</th>'
        f"<th>incomplete</th><th>Kendall tau-b</th></tr></thead><tbody>{tau_rows}</tbody></table>"
    )


def categories_html(rows: list[dict[str, Any]]) -> str:
    """PPE human preference accuracy per category and language (query ``ppe_categories``): one row per model, one
    column per category in the query's order (the data table's categories, then the languages)."""
    if not rows:
        return '<p id="ppe-categories" class="empty-summary">No PPE human preference results.</p>'
    categories: list[str] = []
    wide: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["category"] not in categories:
            categories.append(r["category"])
        wide.setdefault(r["model"], {"model": r["model"], "kind": r["kind"]})[r["category"]] = r
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["model", "kind", *categories])
    body = []
    for m in wide.values():
        cells = [_td(html.escape(m["model"])), _td(html.escape(m["kind"] or ""))]
        for c in categories:
            found = m.get(c)
            v = None if found is None else found["accuracy"]
            cells.append(_td(_pct(v), "" if v is None else v))
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table id="ppe-categories" class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="meta">PPE human preference accuracy % per category and language (ties in winner left out; '
        "view ppe_preference_categories).</p>"
    )


def style_matrix_chart(rows: list[dict[str, Any]], figure_html: Any, empty: Any) -> str:
    """One heatmap: a row per (model, chosen style), a column per rejected style, cell = accuracy."""
    go = require("plotly.graph_objects", "plotly")
    if not rows:
        return empty("chart-rm-bench-matrix", "RM-Bench")
    models = list(dict.fromkeys(r["model"] for r in rows))
    cell = {(r["model"], r["chosen_style"], r["rejected_style"]): r["accuracy"] for r in rows}
    y = [f"{m} · chosen {STYLES[i - 1]}" for m in models for i in (1, 2, 3)]
    z = [[cell.get((m, i, j)) for j in (1, 2, 3)] for m in models for i in (1, 2, 3)]
    text = [["" if v is None else f"{100 * v:.1f}%" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            x=[f"rejected {s}" for s in STYLES],
            y=y,
            z=z,
            text=text,
            texttemplate="%{text}",
            zmin=0,
            zmax=1,
            colorscale="RdYlGn",
            colorbar={"title": "accuracy", "tickformat": ".0%"},
            hovertemplate="%{y}<br>%{x}<br>%{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        title="RM-Bench difficulty matrix (mean over domains): above the diagonal hard, on it normal, below easy",
        yaxis={"autorange": "reversed"},
        height=max(320, 90 * len(y) // 3 + 160),
    )
    return figure_html(fig, "chart-rm-bench-matrix")


def best_of_k_chart(rows: list[dict[str, Any]], figure_html: Any, empty: Any) -> str:
    """One line per model: K on the x axis, the expected correctness of the best of K on the y axis."""
    go = require("plotly.graph_objects", "plotly")
    if not rows:
        return empty("chart-ppe-best-of-k", "PPE correctness")
    models = list(dict.fromkeys(r["model"] for r in rows))
    fig = go.Figure(
        [
            go.Scatter(
                name=m,
                x=[r["k"] for r in rows if r["model"] == m],
                y=[r["accuracy"] for r in rows if r["model"] == m],
                mode="lines+markers",
                hovertemplate=f"{html.escape(m)}<br>K %{{x}}<br>%{{y:.1%}}<extra></extra>",
            )
            for m in models
        ]
    )
    fig.update_layout(
        title="PPE best-of-K: expected correctness of the reward model's pick among K responses "
        "(mean over the correctness sets)",
        xaxis={"title": "K (responses drawn)", "dtick": 4},
        yaxis={"title": "correct", "tickformat": ".0%"},
    )
    return figure_html(fig, "chart-ppe-best-of-k")
