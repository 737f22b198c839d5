"""``rayward compact``, ``rayward gc`` and ``rayward store upgrade``: keeping a results store small and fast."""

from __future__ import annotations

import typer

from orchestrator.cli._common import Format, _emit, _fail, app, store_app
from orchestrator.errors import ConfigError, RaywardError

_RESULTS = typer.Option("results", "--results", help="Results store: a directory or a URI.")


def _check_store(results: str) -> None:
    from orchestrator.results.store import open_store

    store = open_store(results)
    if store.local is not None and not store.local.is_dir():
        raise ConfigError(f"results store {results}: no such directory")


@app.command()
def compact(
    results: str = _RESULTS,
    run: list[str] = typer.Option(
        None,
        "--run",
        help="Compact only this run (repeatable); default: every finished run not compacted yet or whose subset totals are stale.",
    ),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Merge finished runs' shard files into one file per (benchmark, model); record subsets and reused units in
    the manifests (runs still being written or resumable are skipped)."""
    from orchestrator.results.compact import compact_store

    try:
        _check_store(results)
        reports = compact_store(results, run_ids=run or None)
    except RaywardError as exc:
        _fail(exc)
    rows = [r.__dict__ for r in reports]
    _emit(rows, ["run_id", "status", "merged_files", "part_files", "refs_folded"], fmt)


@app.command()
def gc(
    keep_last: int = typer.Option(
        ..., "--keep-last", help="Keep each (benchmark, model)'s newest N runs.", min=1
    ),
    results: str = _RESULTS,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would be removed."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Remove the records of old runs: never a run that is the latest for some model and subset, one whose records
    a kept run reuses, or one a driver holds the lock of."""
    from orchestrator.results.compact import gc_store

    try:
        _check_store(results)
        report = gc_store(results, keep_last, dry_run=dry_run)
    except RaywardError as exc:
        _fail(exc)
    row = {
        "removed_partitions": report.removed_partitions,
        "removed_runs": len(report.removed_runs),
        "removed_bytes": report.removed_bytes,
        "kept_latest": report.kept_latest,
        "kept_referenced": report.kept_referenced,
        "skipped_locked": ", ".join(report.skipped_locked),
        "dry_run": dry_run,
    }
    _emit([row], list(row), fmt)


@store_app.command("upgrade")
def upgrade(
    results: str = _RESULTS,
    no_compact: bool = typer.Option(False, "--no-compact", help="Rewrite old files only; do not compact."),
    fmt: Format = typer.Option(Format.table, "--format"),
) -> None:
    """Rewrite record files of older releases in the current layout (texts once), atomically and checked, then
    compact every finished run."""
    from orchestrator.results.upgrade import upgrade_store

    try:
        _check_store(results)
        report = upgrade_store(results, compact=not no_compact)
    except RaywardError as exc:
        _fail(exc)
    except ValueError as exc:
        _fail(ConfigError(str(exc)))
    row = {
        "rewritten_files": report.rewritten_files,
        "bytes_before": report.bytes_before,
        "bytes_after": report.bytes_after,
        "compacted_runs": sum(1 for c in report.compacted if c.status == "compacted"),
        "skipped_locked": ", ".join(report.skipped_locked),
    }
    _emit([row], list(row), fmt)
