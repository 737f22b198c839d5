"""RMB (Zhou-Zoey/RMB-Reward-Model-Benchmark; Zhou et al., arXiv 2410.09893): 49 scenarios under two goals
(Helpfulness, Harmlessness), as pairwise comparisons and best-of-N lists.

The source is the repository's ``RMB_dataset`` folder tree, loaded as published (or any folder below it):
``Pairwise_set/<Goal>/.../<scenario>.json`` rows carry ``pair_uid, conversation_input, chosen, reject,
category_path``; ``BoN_set/<Goal>/.../<scenario>.json`` rows carry ``bon_uid, conversation_input, bon_best,
loser_list, category_path``. ``conversation_input`` is the (possibly multi-turn) conversation; its messages'
``language`` keys are dropped. A pair becomes one chosen and one rejected completion, a best-of-N list the best
and its losers. The subset is ``category_path`` (``Pairwise_set/Helpfulness/Code/Data Management``). A best-of-N
row with an empty ``loser_list`` has nothing to beat and is an error. The metric is
``orchestrator/query/sql/rules/beats_all.sql``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.benchmarks._sources import example_table, looks_local, messages, read_rows, sha256_files
from orchestrator.data import check_own_table, register_loader
from orchestrator.errors import DataError


def _answer(value: Any, at: str, column: str) -> str:
    if not isinstance(value, dict) or not isinstance(value.get("answer"), str):
        raise DataError(f"{at}: {column!r} must be an object with a text 'answer'")
    return value["answer"]


def _shape(raw: list[dict], where: str) -> list[dict]:
    rows = []
    for i, r in enumerate(raw):
        uid = r.get("pair_uid", r.get("bon_uid"))
        at = f"{where}: row {i} (uid {uid!r})"
        if not isinstance(r.get("category_path"), str):
            raise DataError(f"{at}: 'category_path' must be text")
        prompt = messages(r.get("conversation_input"), at, "conversation_input")
        if "bon_best" in r:
            losers = r.get("loser_list")
            if not isinstance(losers, list):
                raise DataError(f"{at}: 'loser_list' must be a list")
            if not losers:
                raise DataError(f"{at}: 'loser_list' is empty: a best-of-N row needs at least one loser")
            chosen = [_answer(r["bon_best"], at, "bon_best")]
            rejected = [_answer(x, at, f"loser_list[{j}]") for j, x in enumerate(losers)]
        elif "chosen" in r and "reject" in r:
            chosen, rejected = [_answer(r["chosen"], at, "chosen")], [_answer(r["reject"], at, "reject")]
        else:
            raise DataError(
                f"{at}: neither a pairwise row (chosen, reject) nor a best-of-N row (bon_best, loser_list)"
            )
        rows.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "subset": r["category_path"],
                "id": uid if uid is not None else i,
            }
        )
    return rows


def load(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    """Every RMB file under ``source`` as one example table (subset = category_path), and the fingerprint."""
    if not looks_local(source):
        raise DataError(
            f"{source}: RMB is published on GitHub (Zhou-Zoey/RMB-Reward-Model-Benchmark), not on the hub; "
            "point `source` at a local copy of its RMB_dataset folder"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: RMB data not found")
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*.json") if p.is_file())
    if not files:
        raise DataError(f"{source}: no RMB .json files")
    rows: list[dict] = []
    for f in files:
        rows += _shape(read_rows(f), str(f))
    return example_table(rows, source), sha256_files(files)


register_loader("rmb")(check_own_table)
