"""PPE's human preference set (``lmarena-ai/PPE-Human-Preference-V1``, split ``test``, 16,038 Chatbot Arena
battles; Frick et al., arXiv 2410.14872).

Each row carries ``question_id, model_a, model_b, winner, prompt, response_1, response_2`` (response_1 is
model_a's, response_2 model_b's) and the battle's metadata (``language``, ``conv_metadata``, ``is_code``,
``category_tag``, ``hard_prompt``, ...). Everything but the texts and ``question_id`` is kept as the
example's ``metadata`` (:func:`orchestrator.benchmarks._ppe.metadata`: ``model_a``, ``model_b``, ``language``,
``is_code``, ``hard_prompt``, ``conv_metadata.turns``, ``category_tag.math_v0.1.math``, ...), written to the
examples table, where the per-category accuracy (``ppe_preference_categories``) and the model-level ranking
metrics (:mod:`orchestrator.query.ppe_ranking`) read it. ``winner`` is ``model_a``, ``model_b``, ``tie`` or
``tie (bothbad)``. The chosen completion is the winner's response and ``chosen_position`` says where the battle
showed it (0 = response_1, 1 = response_2); a tie keeps response_1 as chosen and response_2 as rejected with
``chosen_position`` null, which is how the metric (``orchestrator/query/sql/rules/ppe_preference.sql``) leaves
ties out, as PPE does. The prompt is the row's text (a JSON list of ``{role, content}`` messages is taken as a
conversation). Every row is subset ``human-preference``.

Sources: the hub id (``datasets``), or a local Parquet / JSON / JSON-lines file or directory with those columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.benchmarks._ppe import data_files, local_rows, metadata, text
from orchestrator.benchmarks._sources import example_table, hub_rows, looks_local, messages
from orchestrator.data import check_own_table, register_loader
from orchestrator.errors import DataError

SUBSET = "human-preference"
WINNERS = {"model_a": 0, "model_b": 1, "tie": None, "tie (bothbad)": None}
NOT_METADATA = frozenset({"question_id", "prompt", "response_1", "response_2"})
"""The fields the example itself holds (its id and texts); every other field is metadata (``winner`` too: the
ranking metrics tell ties from decided battles by it)."""


def shape(row: dict[str, Any], at: str) -> dict[str, Any]:
    """One battle as an example (chosen = the winner's response; a tie keeps the battle's order, position null)."""
    for key in ("question_id", "model_a", "model_b", "response_1", "response_2"):
        text(row, key, at)
    winner = row.get("winner")
    if winner not in WINNERS:
        raise DataError(f"{at}: winner {winner!r} must be one of {', '.join(map(repr, WINNERS))}")
    prompt = row.get("prompt")
    if not isinstance(prompt, str):
        prompt = messages(prompt, at, "prompt")
    position = WINNERS[winner]
    a, b = row["response_1"], row["response_2"]
    return {
        "prompt": prompt,
        "chosen": b if position == 1 else a,
        "rejected": a if position == 1 else b,
        "subset": SUBSET,
        "id": row["question_id"],
        "chosen_position": position,
        "metadata": metadata(row, NOT_METADATA),
    }


def load(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    """The battles as the example table (subset ``human-preference``) and the source's fingerprint."""
    if not looks_local(source):
        raw, fingerprint = hub_rows(source, split, revision)
        rows = [
            shape(r, f"{source}: row {i} (question_id {r.get('question_id')!r})") for i, r in enumerate(raw)
        ]
        return example_table(rows, source), fingerprint
    files = data_files(Path(source).expanduser(), "PPE human preference")
    found, fingerprint = local_rows(files)
    rows = [shape(r, f"{f}: row {i} (question_id {r.get('question_id')!r})") for f, i, r in found]
    return example_table(rows, source), fingerprint


register_loader("ppe_human")(check_own_table)
