"""RM-Bench (THU-KEG/RM-Bench; Liu et al., arXiv 2410.16184): three chosen and three rejected completions per
prompt, ordered concise / detailed-plain / detailed-markdown, in five domains.

Sources, loaded as published:

* a directory of the repository's per-domain files (``chat_filtered.json``, ``math_filtered.json``, ...: the domain
  is the file name before ``_filtered``), or one such file;
* ``total_dataset.json`` (or the hub id ``THU-KEG/RM-Bench``), whose rows carry a ``domain`` field.

A directory holding ``total_dataset.json`` is read from that file alone (the per-domain files repeat its rows).
Every row needs ``prompt``, ``chosen[3]`` and ``rejected[3]``; the subset is the domain (chat, math, code,
safety-refuse, safety-response). The metric is ``orchestrator/query/sql/rules/style_matrix.sql``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from orchestrator.benchmarks._sources import (
    example_table,
    hub_rows,
    looks_local,
    read_rows,
    sha256_files,
    text_list,
)
from orchestrator.data import check_own_table, register_loader
from orchestrator.errors import DataError

DOMAINS = ("chat", "math", "code", "safety-refuse", "safety-response")
STYLES = ("concise", "detailed-plain", "detailed-markdown")
TOTAL_FILE = "total_dataset.json"


def _domain_of_file(path: Path) -> str | None:
    stem = path.stem
    return stem[: -len("_filtered")] if stem.endswith("_filtered") else stem


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    total = path / TOTAL_FILE
    if total.is_file():
        return [total]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in (".json", ".jsonl"))
    if not files:
        raise DataError(f"{path}: no RM-Bench .json files (expected <domain>_filtered.json or {TOTAL_FILE})")
    return files


def _shape(raw: list[dict], where: str, file_domain: str | None) -> list[dict]:
    rows = []
    for i, r in enumerate(raw):
        at = f"{where}: row {i} (id {r.get('id')!r})"
        domain = r.get("domain", file_domain)
        if domain not in DOMAINS:
            raise DataError(
                f"{at}: unknown RM-Bench domain {domain!r}; expected one of {', '.join(DOMAINS)}"
                + ("" if "domain" in r else " (the domain is the file name before '_filtered')")
            )
        if not isinstance(r.get("prompt"), str):
            raise DataError(f"{at}: 'prompt' must be text")
        rows.append(
            {
                "prompt": r["prompt"],
                "chosen": text_list(r.get("chosen"), at, "chosen", len(STYLES)),
                "rejected": text_list(r.get("rejected"), at, "rejected", len(STYLES)),
                "subset": domain,
                "id": r.get("id", i),
            }
        )
    return rows


def load(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    """RM-Bench's rows as the example table (subset = domain) and the source's fingerprint."""
    if not looks_local(source):
        raw, fingerprint = hub_rows(source, split, revision)
        return example_table(_shape(raw, source, None), source), fingerprint
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: RM-Bench data not found")
    files = _files(path)
    rows: list[dict] = []
    for f in files:
        raw = read_rows(f)
        rows += _shape(
            raw, str(f), None if f.name == TOTAL_FILE or (raw and "domain" in raw[0]) else _domain_of_file(f)
        )
    return example_table(rows, source), sha256_files(files)


register_loader("rm_bench")(check_own_table)
