"""``rayward run``, ``rayward demo`` and ``rayward build-tiny-models``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from orchestrator.cli._common import (
    DEMO_JOB,
    By,
    Format,
    _fail,
    _setup_logging,
    app,
    console,
    err_console,
)
from orchestrator.cli._leaderboard import _print_leaderboard
from orchestrator.errors import RaywardError

# ----------------------------------------------------------------- progress


class _RichProgress:
    def __init__(self, progress: Progress):
        self.progress = progress
        self.tasks: dict[tuple[str, str], Any] = {}

    def start(self, model: str, benchmark: str, total: int) -> None:
        self.tasks[(model, benchmark)] = self.progress.add_task(
            f"{model} · {benchmark}", total=total, status=""
        )

    def advance(self, model: str, benchmark: str, n: int) -> None:
        self.progress.advance(self.tasks[(model, benchmark)], n)

    def finish(self, model: str, benchmark: str, status: str) -> None:
        mark = "[green]ok[/]" if status == "ok" else "[red]failed[/]"
        self.progress.update(self.tasks[(model, benchmark)], status=mark)


def _run(
    job_path: Path | None,
    job: Any,
    results: str | Path | None,
    address: Optional[str],
    resume: bool | str = False,
    cache: bool = True,
    on_change: str = "refuse",
) -> int:
    from orchestrator.runtime.driver import run_job

    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    ]
    with Progress(*columns, console=err_console, transient=False) as bar:
        result = run_job(
            job,
            results=results,
            address=address,
            progress=_RichProgress(bar),
            job_path=str(job_path) if job_path else None,
            resume=resume,
            cache=cache,
            on_change=on_change,
        )
    summary = Table(title=f"run {result.run_id} ({result.wall_seconds:.1f}s)")
    notes = any(o.notes for o in result.outcomes)  # retries after lost actors or OOM, failed rows
    for c in (
        "model",
        "benchmark",
        "status",
        "records",
        "cached",
        "load s",
        "score s",
        "error",
        *(["notes"] if notes else []),
    ):
        summary.add_column(c)
    for o in result.outcomes:
        colour = "green" if o.status == "ok" else "red"
        summary.add_row(
            o.model,
            o.benchmark,
            f"[{colour}]{o.status}[/]",
            str(o.n_records),
            str(o.cached_records),
            f"{o.load_seconds:.1f}" if o.load_seconds is not None else "",
            f"{o.score_seconds:.1f}",
            o.error or "",
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
    from orchestrator.outputs.after_run import after_run

    finished = [(o.model, o.benchmark) for o in result.outcomes if o.status == "ok"]
    report = after_run(
        job.after_run,
        result.results,
        result.run_id,
        finished,
        list(dict.fromkeys(o.benchmark for o in result.outcomes)),
    )
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
            err_console.print(
                f"regression check: no drop beyond {reg.max_drop_points:g} points", highlight=False
            )
        return code
    for drop in reg.drops:
        err_console.print(f"[bold red]regression:[/] {drop}", highlight=False, soft_wrap=True)
    return code or report.exit_code


# ----------------------------------------------------------------- commands


@app.command()
def run(
    job: Path = typer.Argument(..., help="Job YAML file."),
    results: Optional[str] = typer.Option(
        None, "--results", help="Results store: a directory or a URI (default: the job's `results`)."
    ),
    address: Optional[str] = typer.Option(
        None, "--address", help="Ray cluster address (default: start a local one)."
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Finish the latest incomplete run of this job (only its missing units)."
    ),
    resume_id: Optional[str] = typer.Option(
        None, "--resume-id", help="Finish this incomplete run (RUN_ID) of the job."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Rescore everything (ignore the score cache; still refresh it)."
    ),
    on_change: str = typer.Option(
        "refuse",
        "--on-change",
        help="--resume when the data or a model changed since the interrupted run: refuse (default) or new-run.",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Run a job: score every model on every benchmark and write records
    (unchanged scores come from the score cache; --no-cache rescores).

    Exit code 0: all ok; 1: a model failed; 2: a bad job or bad data; 3: a regression beyond
    after_run.regression_check.max_drop_points (see docs/nightly.md)."""
    _setup_logging(verbose)
    from orchestrator.config import from_yaml
    from orchestrator.errors import ConfigError
    from orchestrator.runtime.resume_check import ON_CHANGE

    try:
        if on_change not in ON_CHANGE:
            raise ConfigError(f"--on-change: {on_change!r} is not one of {', '.join(ON_CHANGE)}")
        config = from_yaml(job)
        code = _run(
            job, config, results, address, resume=resume_id or resume, cache=not no_cache, on_change=on_change
        )
    except RaywardError as exc:
        _stop_cluster()
        _fail(exc)
    except KeyboardInterrupt:
        _stop_cluster()
        err_console.print("interrupted; `rayward run JOB --resume` finishes the run", highlight=False)
        raise typer.Exit(130) from None
    except (
        OSError
    ) as exc:  # the store failed mid-run (disk full, permissions): committed state stays consistent
        _stop_cluster()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        _fail(
            RaywardError(f"writing results failed{where}: {exc.strerror or exc}; --resume finishes the run")
        )
    _stop_cluster()
    raise typer.Exit(code)


def _stop_cluster() -> None:
    """Stop the local Ray cluster this command started (Ctrl-C ignored meanwhile; nothing left behind)."""
    from orchestrator.runtime.shutdown import stop_local_cluster

    stop_local_cluster()


@app.command("build-tiny-models")
def build_tiny_models(
    root: Path = typer.Argument(Path("models"), help="Where to put the demo models."),
) -> None:
    """Build the tiny offline demo models (deterministic random weights)."""
    from orchestrator.tiny import ensure_demo_models

    for name, path in ensure_demo_models(root).items():
        console.print(f"{name}: {path}")


@app.command()
def demo(
    results: Optional[str] = typer.Option(
        None, "--results", help="Results store: a directory or a URI (default: results/)."
    ),
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
