"""The ``rayward`` command line (typer + rich). The only module that prints."""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.errors import RaywardError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Rayward: evaluate reward models on Ray.")
console = Console()
err_console = Console(stderr=True)

DEMO_JOB = Path(__file__).parent / "demo.yaml"


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


class By(str, Enum):
    section = "section"
    subset = "subset"


def _fail(exc: RaywardError) -> None:
    err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(exc.exit_code)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


# ----------------------------------------------------------------- output


def _fmt_cell(value: Any, percent: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return f"{100 * value:.2f}" if percent else f"{value:.6g}"
    return str(value)


def _emit(rows: list[dict[str, Any]], columns: list[str], fmt: Format, *, percent: set[str] = frozenset(), title: str | None = None) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, indent=2, default=str) + "\n")
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buf.getvalue())
        return
    cells = [[_fmt_cell(r.get(c), c in percent) for c in columns] for r in rows]
    if fmt is Format.markdown:
        lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        sys.stdout.write("\n".join(lines) + "\n")
        return
    table = Table(title=title, show_lines=False)
    for c in columns:
        table.add_column(c, justify="right" if c in percent else "left")
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _leaderboard_rows(results: Path, benchmark: str, by: By) -> tuple[list[dict[str, Any]], list[str], set[str]]:
    from orchestrator.store import connect, leaderboard_rows, stored_query

    con = connect(results)
    try:
        if by is By.subset:
            long = stored_query(con, "subset_accuracy", benchmark=benchmark).to_pylist()
            subsets: list[str] = []
            wide: dict[str, dict[str, Any]] = {}
            for r in long:
                if r["subset"] not in subsets:
                    subsets.append(r["subset"])
                wide.setdefault(r["model"], {"model": r["model"]})[r["subset"]] = r["accuracy"]
            return list(wide.values()), ["model", *subsets], set(subsets)
        rows, sections = leaderboard_rows(con, benchmark)
    finally:
        con.close()
    columns = ["model", "kind", *sections, "score"]
    judge_columns = ["parse_failure_rate", "position_consistency"] if any(r["kind"] == "judge" for r in rows) else []
    columns += judge_columns
    if any(not r["complete"] for r in rows):
        columns += ["complete", "incomplete_subsets"]
    return rows, columns, {*sections, "score", *judge_columns}


def _add_cis(results: Path, benchmark: str, rows: list[dict[str, Any]], columns: list[str], fmt: Format,
             n_boot: int, seed: int, by: By = By.section) -> list[str]:
    """Add bootstrap CIs: ``<col>_low``/``<col>_high`` fields (json/csv), or "score [low, high]" cells (table/markdown)."""
    from orchestrator.errors import ConfigError
    from orchestrator.stats import leaderboard_cis
    from orchestrator.store import connect, stored_query

    con = connect(results)
    try:
        if stored_query(con, "ci_unsupported", benchmark=benchmark).to_pylist()[0]["n"]:
            raise ConfigError(f"--ci: bootstrap CIs cover pairwise benchmarks only; {benchmark!r} has best-of-N, Ties or pairwise-judge records")
        cis = leaderboard_cis(con, benchmark, n_boot=n_boot, seed=seed)
    finally:
        con.close()
    if by is By.subset:
        scored = [c for c in columns if c != "model"]
    else:
        scored = [c for c in columns if c not in ("model", "kind", "complete", "incomplete_subsets",
                                                  "parse_failure_rate", "position_consistency")]
    for r in rows:
        ci = cis.get(r["model"])
        for c in scored:
            if ci is None:
                iv = None
            elif by is By.subset:
                iv = ci.subsets.get(c)
            else:
                iv = ci.overall if c == "score" else ci.sections.get(c)
            low, high = (iv.low, iv.high) if iv is not None else (None, None)
            if fmt in (Format.json, Format.csv):
                r[f"{c}_low"], r[f"{c}_high"] = low, high
            elif r.get(c) is not None and low is not None:
                r[c] = f"{100 * r[c]:.2f} [{100 * low:.1f}, {100 * high:.1f}]"
    if fmt in (Format.json, Format.csv):
        out = []
        for c in columns:
            out += [c, f"{c}_low", f"{c}_high"] if c in scored else [c]
        return out
    return columns


def _print_leaderboard(results: Path, benchmark: str, by: By, fmt: Format, ci: bool = False,
                       n_boot: int = 2000, seed: int = 0) -> None:
    rows, columns, percent = _leaderboard_rows(results, benchmark, by)
    if ci:
        columns = _add_cis(results, benchmark, rows, columns, fmt, n_boot, seed, by)
    if fmt is Format.json and by is By.section:
        rows = [{k: r.get(k) for k in ("model", "kind", *[c for c in columns if c not in ("model", "kind")], "run_id")} for r in rows]
    if not rows and fmt is Format.table:
        err_console.print(f"no results for benchmark {benchmark!r} in {results}")
        return
    if fmt is Format.table:  # a quick run (`limit:`) leaves every subset partial: name a few, count the rest
        rows = [{**r, "incomplete_subsets": _abbreviate(r.get("incomplete_subsets"))} for r in rows]
    title = f"{benchmark} leaderboard (accuracy %)" if by is By.section else f"{benchmark} per-subset accuracy (%)"
    if ci:
        title += f", bootstrap 95% CI over prompts, {n_boot} resamples, seed {seed}"
    _emit(rows, columns, fmt, percent=percent, title=title)


def _abbreviate(incomplete: str | None, keep: int = 3) -> str | None:
    """``a 2/100, b 2/95, c 2/95, d 2/28`` -> ``a 2/100, b 2/95, c 2/95 (+1 more; --format json lists all)``."""
    parts = incomplete.split(", ") if incomplete else []
    if len(parts) <= keep:
        return incomplete
    return f"{', '.join(parts[:keep])} (+{len(parts) - keep} more; --format json lists all)"


# ----------------------------------------------------------------- progress


class _RichProgress:
    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[tuple[str, str], Any] = {}

    def start(self, model: str, benchmark: str, total: int) -> None:
        self.tasks[(model, benchmark)] = self.progress.add_task(f"{model} · {benchmark}", total=total, status="")

    def advance(self, model: str, benchmark: str, n: int) -> None:
        self.progress.advance(self.tasks[(model, benchmark)], n)

    def finish(self, model: str, benchmark: str, status: str) -> None:
        mark = "[green]ok[/]" if status == "ok" else "[red]failed[/]"
        self.progress.update(self.tasks[(model, benchmark)], status=mark)


def _run(job_path: Path | None, job: Any, results: Optional[Path], address: Optional[str], resume: bool | str = False,
         cache: bool = True) -> int:
    from orchestrator.runner import run_job

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[status]}")]
    with Progress(*columns, console=err_console, transient=False) as bar:
        result = run_job(
            job, results=results, address=address, progress=_RichProgress(bar),
            job_path=str(job_path) if job_path else None, resume=resume, cache=cache,
        )
    summary = Table(title=f"run {result.run_id} ({result.wall_seconds:.1f}s)")
    notes = any(o.notes for o in result.outcomes)  # retries after lost actors or OOM, failed rows
    for c in ("model", "benchmark", "status", "records", "cached", "load s", "score s", "error", *(["notes"] if notes else [])):
        summary.add_column(c)
    for o in result.outcomes:
        colour = "green" if o.status == "ok" else "red"
        summary.add_row(
            o.model, o.benchmark, f"[{colour}]{o.status}[/]", str(o.n_records), str(o.cached_records),
            f"{o.load_seconds:.1f}" if o.load_seconds is not None else "", f"{o.score_seconds:.1f}", o.error or "",
            *([o.notes] if notes else []),
        )
    err_console.print(summary)
    for bench in dict.fromkeys(o.benchmark for o in result.outcomes):
        _print_leaderboard(result.results, bench, By.section, Format.table)
    code = 0 if result.ok else 1
    if job.after_run is not None:
        code = _after_run(job, result, code)
    return code


def _after_run(job: Any, result: Any, code: int) -> int:
    """The job's ``after_run`` steps; exit code 3 on a regression (1 stays 1: a failed model is the bigger news)."""
    from orchestrator.after_run import after_run

    finished = [(o.model, o.benchmark) for o in result.outcomes if o.status == "ok"]
    report = after_run(job.after_run, result.results, result.run_id, finished,
                       list(dict.fromkeys(o.benchmark for o in result.outcomes)))
    for path in report.files:
        err_console.print(f"wrote {path}", highlight=False)
    reg = report.regression
    if reg is None:
        return code
    for model, bench, old, new in reg.compared:
        err_console.print(f"regression check: {model} on {bench}, run {old} -> {new}", highlight=False)
    for line in reg.skipped:
        err_console.print(f"regression check skipped: {line}", highlight=False)
    if not reg.drops:
        if reg.compared:
            err_console.print(f"regression check: no drop beyond {reg.max_drop_points:g} points", highlight=False)
        return code
    for drop in reg.drops:
        err_console.print(f"[bold red]regression:[/] {drop}", highlight=False, soft_wrap=True)
    return code or report.exit_code


# ----------------------------------------------------------------- commands


@app.command()
def run(
    job: Path = typer.Argument(..., help="Job YAML file."),
    results: Optional[str] = typer.Option(None, "--results", help="Results store: a directory or a URI (default: the job's `results`)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start a local one)."),
    resume: bool = typer.Option(False, "--resume", help="Finish the latest incomplete run of this job (only its missing units)."),
    resume_id: Optional[str] = typer.Option(None, "--resume-id", help="Finish this incomplete run (RUN_ID) of the job."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Rescore everything (ignore the score cache; still refresh it)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run a job: score every model on every benchmark and write records
    (unchanged scores come from the score cache; --no-cache rescores).

    Exit code 0: all ok; 1: a model failed; 2: a bad job or bad data; 3: a regression beyond
    after_run.regression_check.max_drop_points (see docs/nightly.md)."""
    _setup_logging(verbose)
    from orchestrator.config import from_yaml

    try:
        config = from_yaml(job)
        code = _run(job, config, results, address, resume=resume_id or resume, cache=not no_cache)
    except RaywardError as exc:
        _fail(exc)
    raise typer.Exit(code)


@app.command()
def leaderboard(
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to rank on."),
    by: By = typer.Option(By.section, "--by", help="section (leaderboard) or subset (per-subset accuracy)."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    ci: bool = typer.Option(False, "--ci", help="Add bootstrap 95% CIs (prompts resampled within subsets)."),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for --ci."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed for --ci."),
) -> None:
    """Print the leaderboard (latest successful run of each model)."""
    try:
        _print_leaderboard(results, benchmark, by, fmt, ci, n_boot, seed)
    except RaywardError as exc:
        _fail(exc)


def _sql_session(results: Path, fmt: Format, max_rows: int) -> None:
    """The interactive loop: read lines from stdin, print replies; history via readline on a terminal."""
    from orchestrator.shell import SqlShell
    from orchestrator.store import connect

    con = connect(results)
    shell = SqlShell(con, max_rows=max_rows, fmt=fmt.value)
    interactive = sys.stdin.isatty()
    history = Path(os.environ.get("RAYWARD_HISTORY", Path.home() / ".rayward_history"))
    readline = None
    if interactive:
        try:
            import readline  # noqa: F401  (line editing and history for input())

            try:
                readline.read_history_file(history)
            except OSError:
                pass
        except ImportError:  # pragma: no cover - Windows without pyreadline
            readline = None
        err_console.print(f"rayward sql over {results} (read-only). .help for commands, .quit to leave.", highlight=False)
    try:
        while True:
            prompt = ("   ...> " if shell.pending else "rayward> ") if interactive else ""
            try:
                line = input(prompt) if interactive else sys.stdin.readline()
            except EOFError:
                break
            except KeyboardInterrupt:
                shell.reset()
                err_console.print("^C")
                continue
            if not interactive and line == "":
                break
            reply = shell.feed(line.rstrip("\n"))
            if reply is None:
                continue
            if reply.kind == "quit":
                break
            if reply.kind == "error":
                err_console.print(f"[bold red]error:[/] {reply.text}", highlight=False, soft_wrap=True)
            elif reply.kind == "message":
                console.print(reply.text, highlight=False)
            else:
                _emit(reply.table.to_pylist(), reply.table.column_names, Format(shell.fmt))
                if reply.truncated:
                    err_console.print(reply.text)
        if shell.pending:
            err_console.print("error: unfinished statement at end of input (end it with ';')")
    finally:
        con.close()
        if readline is not None:
            try:
                readline.write_history_file(history)
            except OSError:
                pass


@app.command()
def sql(
    query: Optional[str] = typer.Argument(None, help="A read-only SQL query; leave out for an interactive session."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    max_rows: int = typer.Option(100, "--max-rows", help="Row cap of the interactive session."),
) -> None:
    """Run read-only SQL over the results store with the views preloaded (no query: interactive session)."""
    from orchestrator.store import check_read_only, connect, run_query

    if query is None:
        try:
            _sql_session(results, fmt, max_rows)
        except RaywardError as exc:
            _fail(exc)
        return
    try:
        check_read_only(query)
        con = connect(results)
        table = run_query(con, query)
    except RaywardError as exc:
        _fail(exc)
    _emit(table.to_pylist(), table.column_names, fmt)


@app.command()
def analyze(
    name: str = typer.Argument(..., help="refusals, refusal-prompts, reasoning, length, length-category, length-correlation, instruction, families, size."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to analyse."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
) -> None:
    """Print one analysis view (latest successful run of each model)."""
    from orchestrator.analyses import analysis_table, get_analysis

    try:
        spec = get_analysis(name)
        table = analysis_table(results, name, benchmark)
    except RaywardError as exc:
        _fail(exc)
    rows, columns = table.to_pylist(), table.column_names
    if not rows and fmt is Format.table:
        err_console.print(f"no rows for analysis {name!r} of benchmark {benchmark!r} in {results}")
        return
    _emit(rows, columns, fmt, percent=set(spec.percent), title=f"{name}: {spec.description} (% where a fraction)")


def _comparison_rows(comp: Any) -> list[dict[str, Any]]:
    rows = []
    for level, items in (("subset", comp.subsets), ("section", comp.sections), ("overall", [comp.overall])):
        for d in items:
            rows.append({"level": level, "name": d.name, "n": d.n, "a": d.score_a, "b": d.score_b, "delta": d.delta,
                         "a_only": d.a_only, "b_only": d.b_only, "p": d.p, "delta_low": d.low, "delta_high": d.high})
    return rows


def _print_comparison(comp: Any, name_a: str, name_b: str, fmt: Format, title: str, n_boot: int, verdict_text: str) -> None:
    rows = _comparison_rows(comp)
    if fmt is Format.json:
        sys.stdout.write(json.dumps({"a": name_a, "b": name_b, "n_unpaired": comp.n_unpaired, "verdict": verdict_text,
                                     "rows": rows}, indent=2, default=str) + "\n")
        return
    columns = ["level", "name", "n", "a", "b", "delta", "a_only", "b_only", "p", "delta_low", "delta_high"]
    _emit(rows, columns, fmt, percent={"a", "b", "delta", "delta_low", "delta_high"}, title=title)
    if fmt is not Format.csv:
        if comp.n_unpaired:
            err_console.print(f"{comp.n_unpaired} example(s) scored by only one side were left out")
        console.print(verdict_text, highlight=False)


@app.command()
def compare(
    model_a: str = typer.Argument(..., help="Model A."),
    model_b: str = typer.Argument(..., help="Model B."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of the verdict."),
    n_boot: int = typer.Option(2000, "--n-boot"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Paired comparison of two models on the same examples (exact McNemar; paired bootstrap overall)."""
    from orchestrator.compare import compare_models
    from orchestrator.stats import verdict
    from orchestrator.store import connect

    try:
        con = connect(results)
        comp = compare_models(con, model_a, model_b, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    text = verdict(comp, model_a, model_b, alpha=alpha, n_boot=n_boot)
    _print_comparison(comp, model_a, model_b, fmt, f"{model_a} (a) vs {model_b} (b), accuracy %", n_boot, text)


@app.command()
def diff(
    model: str = typer.Argument(..., help="The model whose runs to compare."),
    runs: Optional[tuple[str, str]] = typer.Option(None, "--runs", help="OLD NEW run ids (default: previous and latest successful run)."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown."),
    fail_on_drop: Optional[float] = typer.Option(None, "--fail-on-drop", help="Exit 1 if a section (or overall) falls by more than X points."),
    alpha: float = typer.Option(0.05, "--alpha"),
    n_boot: int = typer.Option(2000, "--n-boot"),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Per-subset and per-section deltas between two runs of one model (a = new, b = old), with significance."""
    from orchestrator.compare import diff_runs, resolve_runs, section_drops
    from orchestrator.stats import verdict
    from orchestrator.store import connect

    try:
        con = connect(results)
        old, new = resolve_runs(con, model, *(runs or (None, None)), benchmark=benchmark)
        comp = diff_runs(con, model, old, new, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    text = verdict(comp, f"new run {new}", f"old run {old}", alpha=alpha, n_boot=n_boot)
    _print_comparison(comp, new, old, fmt, f"{model}: run {new} (a) vs run {old} (b), accuracy %", n_boot, text)
    if fail_on_drop is not None:
        dropped = section_drops(comp, fail_on_drop)
        if dropped:
            err_console.print(f"[bold red]drop:[/] {', '.join(dropped)} fell by more than {fail_on_drop:g} points", highlight=False)
            raise typer.Exit(1)


@app.command()
def report(
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
    benchmark: str = typer.Option("reward-bench", "--benchmark"),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples for the CIs."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Write a self-contained HTML report (leaderboard with CIs, charts, run metadata; works offline)."""
    from orchestrator.report import write_report

    try:
        path = write_report(results, out, benchmark, n_boot=n_boot, seed=seed)
    except RaywardError as exc:
        _fail(exc)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command()
def benchmarks(fmt: Format = typer.Option(Format.table, "--format", help="table, json, csv or markdown.")) -> None:
    """List the benchmarks: loader, default data, and each section's subsets, rules and weights (the data tables)."""
    from orchestrator.benchmarks import BENCHMARKS_CSV, SECTIONS_CSV, SUBSETS_CSV, _rows

    sections = {(r["benchmark"], r["section"]): r for r in _rows(SECTIONS_CSV)}
    bench = {r["benchmark"]: r for r in _rows(BENCHMARKS_CSV)}
    rows = []
    for r in _rows(SUBSETS_CSV):
        sec = sections.get((r["benchmark"], r["section"]), {})
        b = bench[r["benchmark"]]
        rows.append({"benchmark": r["benchmark"], "loader": b["loader"], "default_source": b["default_source"],
                     "section": r["section"] or "(unscored)", "section_weight": sec.get("section_weight", ""),
                     "optional": sec.get("optional", ""), "subset": r["subset"], "rule": r["rule"],
                     "weight": r["weight"], "n_expected": r["n_expected"]})
    rows.append({"benchmark": "custom", "loader": "custom", "default_source": "", "section": "(each subset)",
                 "section_weight": "1", "optional": "", "subset": "(any)", "rule": "pairwise or best-of-n", "weight": "1",
                 "n_expected": ""})
    _emit(rows, list(rows[0]), fmt, title="benchmarks (orchestrator/benchmarks/data/*.csv)")


class InteropFormat(str, Enum):
    rewardbench = "rewardbench"


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A reference score file: eval-set-scores/<org>/<model>.json or <model>_outputs.jsonl."),
    fmt: InteropFormat = typer.Option(InteropFormat.rewardbench, "--format", help="rewardbench (the reference's files)."),
    model: str = typer.Option(..., "--model", help="Model name for the imported records."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark whose examples the rows are matched to."),
    source: Optional[str] = typer.Option(None, "--source", help="The benchmark data to match against (default: its hub id)."),
    split: Optional[str] = typer.Option(None, "--split", help="Split of --source (default: the benchmark's)."),
    subset_from_split: bool = typer.Option(False, "--subset-from-split", help="--source is laid out one split per subset (Prior Sets)."),
    kind: str = typer.Option("classifier", "--kind", help="Model kind recorded for the imported model."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
) -> None:
    """Import the reference's per-example scores as one run: rows matched by (subset, id) and checked by text."""
    from orchestrator.config import BenchmarkSpec, _check_name
    from orchestrator.data import load_examples
    from orchestrator.interop import import_reference_scores

    try:
        try:
            _check_name(model, "model name")
            spec = BenchmarkSpec(name=benchmark, source=source, split=split, subset_from_split=subset_from_split)
        except ValueError as exc:
            from orchestrator.errors import ConfigError

            raise ConfigError(str(exc).splitlines()[-1] if "validation error" in str(exc) else str(exc)) from None
        examples = load_examples(spec)
        res = import_reference_scores(file, examples, results=results, model=model, kind=kind)
    except RaywardError as exc:
        _fail(exc)
    table = Table(title=f"import {file} -> {results} (run {res.run_id})")
    for c in ("subset", "records"):
        table.add_column(c)
    for subset, n in res.subsets.items():
        table.add_row(subset, str(n))
    err_console.print(table)
    err_console.print(f"{res.n_imported} of {res.n_rows} rows imported as model {model!r} on {examples.benchmark!r}.", highlight=False)
    if res.disagreements:
        err_console.print(f"[yellow]warning:[/] {res.disagreements} rows' `results` disagree with score_chosen > score_rejected")
    if res.unmatched:
        err_console.print(f"[yellow]{len(res.unmatched)} rows not matched (not imported):[/]")
        for row, reason in res.unmatched[:20]:
            err_console.print(f"  row {row}: {reason}", highlight=False, soft_wrap=True)
        if len(res.unmatched) > 20:
            err_console.print(f"  ... and {len(res.unmatched) - 20} more")
    raise typer.Exit(0 if res.n_imported else 1)


@app.command()
def export(
    model: str = typer.Option(..., "--model", help="Model whose latest records to export."),
    out: Path = typer.Option(..., "--out", help="Directory for eval-set/ and eval-set-scores/."),
    fmt: InteropFormat = typer.Option(InteropFormat.rewardbench, "--format", help="rewardbench (the reference's layout)."),
    benchmark: str = typer.Option("reward-bench", "--benchmark", help="Benchmark to export."),
    results: str = typer.Option("results", "--results", help="Results store: a directory or a URI."),
) -> None:
    """Write a model's latest records in the reference's file layout (eval-set/ and eval-set-scores/)."""
    from orchestrator.interop import export_reference
    from orchestrator.store import connect

    try:
        con = connect(results)
        try:
            summary, scores = export_reference(con, model=model, benchmark=benchmark, out=out)
        finally:
            con.close()
    except RaywardError as exc:
        _fail(exc)
    console.print(f"wrote {summary}\nwrote {scores}", highlight=False)


@app.command("build-tiny-models")
def build_tiny_models(root: Path = typer.Argument(Path("models"), help="Where to put the demo models.")) -> None:
    """Build the tiny offline demo models (deterministic random weights)."""
    from orchestrator.tiny import ensure_demo_models

    for name, path in ensure_demo_models(root).items():
        console.print(f"{name}: {path}")


@app.command()
def demo(
    results: Optional[str] = typer.Option(None, "--results", help="Results store: a directory or a URI (default: results/)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: local)."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Build the tiny demo models if missing, run the demo job, print the leaderboard."""
    _setup_logging(verbose)
    import yaml

    from orchestrator.config import JobConfig
    from orchestrator.tiny import ensure_demo_models

    try:
        data = yaml.safe_load(DEMO_JOB.read_text(encoding="utf-8"))
        for bench in data["benchmarks"]:
            if not Path(bench["source"]).exists():
                err_console.print(f"{bench['source']} not found; using the hub's allenai/reward-bench")
                bench["source"] = "allenai/reward-bench"
        ensure_demo_models(Path(data["models"][0]["path"]).parent)
        job = JobConfig.from_dict(data, source=str(DEMO_JOB))
        code = _run(None, job, results, address)
    except RaywardError as exc:
        _fail(exc)
    raise typer.Exit(code)


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
