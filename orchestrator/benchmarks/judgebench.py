"""JudgeBench (ScalerLab/JudgeBench; Tan et al., arXiv 2410.12784): response pairs labelled ``A>B`` or ``B>A`` on
hard knowledge, reasoning, math and coding questions, in two splits by the model that wrote the responses
(``gpt``: 350 pairs by gpt-4o-2024-05-13, ``claude``: 270 by claude-3-5-sonnet-20240620).

Sources, loaded as published: the repository's ``.jsonl`` files (one file, or the ``data/`` directory: the split
picks ``dataset=judgebench,response_model=<gpt|claude>...jsonl``), or the hub id ``ScalerLab/JudgeBench``.
Each row needs ``pair_id, question, response_A, response_B, label, source``. The chosen completion is the label's
winner and ``chosen_position`` keeps where the pair showed it (0 = response A, 1 = response B), which a reward
model's verdict (``A>B`` exactly when score A > score B) needs. The subset is the row's ``source``
(``mmlu-pro-<category>``, ``livebench-reasoning``, ``livebench-math``, ``livecodebench``). The metric is
``orchestrator/query/sql/rules/two_game.sql``.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from orchestrator.benchmarks._sources import example_table, hub_rows, looks_local, read_rows, sha256_files
from orchestrator.data import check_own_table, register_loader
from orchestrator.errors import DataError

LABELS = {"A>B": 0, "B>A": 1}
SPLIT_FILES = {"gpt": "response_model=gpt", "claude": "response_model=claude"}


def _files(path: Path, split: str) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    if not files:
        raise DataError(f"{path}: no JudgeBench .jsonl files")
    if len(files) == 1:
        return files
    marker = SPLIT_FILES.get(split, split)
    matching = [p for p in files if marker in p.name]
    if len(matching) != 1:
        raise DataError(
            f"{path}: split {split!r} names {len(matching)} of its .jsonl files (looked for {marker!r} in "
            f"{', '.join(p.name for p in files)}); point `source` at one file"
        )
    return matching


def _shape(raw: list[dict], where: str) -> list[dict]:
    rows = []
    for i, r in enumerate(raw):
        at = f"{where}: row {i} (pair_id {r.get('pair_id')!r})"
        for key in ("pair_id", "question", "response_A", "response_B", "label", "source"):
            if not isinstance(r.get(key), str):
                raise DataError(f"{at}: {key!r} must be text, found {type(r.get(key)).__name__}")
        if r["label"] not in LABELS:
            raise DataError(f"{at}: label {r['label']!r} must be 'A>B' or 'B>A'")
        position = LABELS[r["label"]]
        a, b = r["response_A"], r["response_B"]
        rows.append(
            {
                "prompt": r["question"],
                "chosen": a if position == 0 else b,
                "rejected": b if position == 0 else a,
                "subset": r["source"],
                "id": r["pair_id"],
                "chosen_position": position,
            }
        )
    return rows


def load(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    """JudgeBench's pairs as the example table (chosen = the label's winner) and the source's fingerprint."""
    if not looks_local(source):
        raw, fingerprint = hub_rows(source, split, revision)
        return example_table(_shape(raw, source), source), fingerprint
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: JudgeBench data not found")
    files = _files(path, split)
    rows: list[dict] = []
    for f in files:
        rows += _shape(read_rows(f), str(f))
    return example_table(rows, source), sha256_files(files)


register_loader("judgebench")(check_own_table)
