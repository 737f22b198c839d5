"""PPE's correctness sets (Frick et al., arXiv 2410.14872): five ``lmarena-ai/PPE-*-Best-of-K`` hub datasets
(split ``train``): MMLU-Pro, MATH, GPQA (512 rows each), IFEval (512) and MBPP-Plus (507). A row is one prompt
answered 32 times by one model (``model_name``), with ``question_id``, ``prompt``, ``response_1`` ..
``response_32``, ``scores`` (32 booleans: is response i+1 verifiably correct), ``mean_score`` and, except where a
set lacks them, ``conflict_pairs`` / ``sampled_conflict_pairs`` (0-based index pairs of a correct and an
incorrect response), beside each set's own columns (``question``/``options``/``category`` for MMLU-Pro,
``problem``/``level``/``type`` for MATH, ``Question``/``choices`` for GPQA, ``instruction_id_list``/``kwargs``/
``score_data`` for IFEval, ``task_id``/``code``/``test_list`` for MBPP-Plus), which are not kept; the example's
``metadata`` (in the examples table) keeps ``model_name`` and ``question_id``.

A row becomes one best-of-K list: ``chosen`` = the correct responses and ``rejected`` = the incorrect ones, each
in the row's order (either may be empty: a prompt every response gets right, or wrong), id
``<question_id>/<model_name>`` (the group is the question). The subset names the set: ``mmlu-pro``, ``math``,
``gpqa``, ``ifeval``, ``mbpp-plus``. ``mean_score`` must be the mean of ``scores``, and every conflict pair must
pair a correct with an incorrect response. The metrics are ``orchestrator/query/sql/rules/ppe_best_of_k.sql``.

``source`` is one or more sources separated by commas, each a hub id (its set is known by name) or a local file
or directory (its set is known by the first of the file's name and its parent folders' names that names one, e.g.
``PPE-MATH-Best-of-K/data/train-00000-of-00001.parquet`` or ``mbpp_plus.jsonl``). The default is the five hub ids.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.benchmarks._ppe import data_files, local_rows, text
from orchestrator.benchmarks._sources import example_table, hub_rows, looks_local
from orchestrator.data import _check_schema, register_loader
from orchestrator.errors import DataError

#: subset -> the hub id that publishes it
HUB_IDS = {
    "mmlu-pro": "lmarena-ai/PPE-MMLU-Pro-Best-of-K",
    "math": "lmarena-ai/PPE-MATH-Best-of-K",
    "gpqa": "lmarena-ai/PPE-GPQA-Best-of-K",
    "ifeval": "lmarena-ai/PPE-IFEval-Best-of-K",
    "mbpp-plus": "lmarena-ai/PPE-MBPP-Plus-Best-of-K",
}
#: how a file or folder name names a set (letters and digits only, lower case), most specific first
_NAME_KEYS = (
    ("mmlupro", "mmlu-pro"),
    ("mbpp", "mbpp-plus"),
    ("gpqa", "gpqa"),
    ("ifeval", "ifeval"),
    ("math", "math"),
)


def subset_of_name(name: str) -> str | None:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return next((subset for k, subset in _NAME_KEYS if k in key), None)


def _pairs(row: dict[str, Any], key: str, labels: list[bool], at: str) -> None:
    pairs = row.get(key)
    if pairs is None:
        return
    if not isinstance(pairs, list):
        raise DataError(f"{at}: {key!r} must be a list of index pairs")
    for n, pair in enumerate(pairs):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(i, int) and 0 <= i < len(labels) for i in pair)
        ):
            raise DataError(f"{at}: {key}[{n}] must be two response indices in 0..{len(labels) - 1}")
        if labels[pair[0]] == labels[pair[1]]:
            raise DataError(f"{at}: {key}[{n}] = {list(pair)} pairs two responses of equal correctness")


def shape(row: dict[str, Any], subset: str, at: str) -> dict[str, Any]:
    """One (prompt, model) row as a best-of-K list: the correct responses, then the incorrect ones."""
    question_id = row.get("question_id")
    if not isinstance(question_id, str | int) or isinstance(question_id, bool):
        raise DataError(f"{at}: 'question_id' must be text")
    model = text(row, "model_name", at)
    prompt = text(row, "prompt", at)
    scores = row.get("scores")
    if (
        not isinstance(scores, list)
        or not scores
        or not all(isinstance(s, bool) or s in (0, 1) for s in scores)
    ):
        raise DataError(f"{at}: 'scores' must be a non-empty list of correctness labels (true/false)")
    labels = [bool(s) for s in scores]
    responses = [text(row, f"response_{i + 1}", at) for i in range(len(labels))]
    if f"response_{len(labels) + 1}" in row:
        raise DataError(
            f"{at}: 'response_{len(labels) + 1}' has no correctness label ('scores' has {len(labels)})"
        )
    mean = row.get("mean_score")
    if mean is not None and abs(float(mean) - sum(labels) / len(labels)) > 1e-9:
        raise DataError(
            f"{at}: 'mean_score' {mean} is not the mean of 'scores' ({sum(labels)}/{len(labels)})"
        )
    for key in ("conflict_pairs", "sampled_conflict_pairs"):
        _pairs(row, key, labels, at)
    return {
        "prompt": prompt,
        "chosen": [r for r, ok in zip(responses, labels) if ok],
        "rejected": [r for r, ok in zip(responses, labels) if not ok],
        "subset": subset,
        "id": f"{question_id}/{model}",
        "metadata": {"model_name": model, "question_id": str(question_id)},
    }


def _local_subset(file: Path, root: Path) -> str:
    for part in [file.stem, *(p.name for p in file.parents if p == root or root in p.parents)]:
        subset = subset_of_name(part)
        if subset is not None:
            return subset
    raise DataError(
        f"{file}: which PPE correctness set is it? Name the file or a folder above it after one "
        f"({', '.join(HUB_IDS.values())}, or mmlu-pro / math / gpqa / ifeval / mbpp-plus)"
    )


def load(source: str, split: str, revision: str | None) -> tuple[pa.Table, str]:
    """Every named source's rows as one example table (subset = the set) and a fingerprint of them all."""
    rows: list[dict[str, Any]] = []
    prints = []
    for one in (s.strip() for s in source.split(",")):
        if not one:
            raise DataError(f"{source}: an empty source in the comma-separated list")
        if not looks_local(one):
            subset = next((s for s, hub in HUB_IDS.items() if hub.lower() == one.lower()), None)
            subset = subset or subset_of_name(one.split("/")[-1])
            if subset is None:
                raise DataError(f"{one}: not a PPE correctness set (known: {', '.join(HUB_IDS.values())})")
            raw, fingerprint = hub_rows(one, split, revision)
            rows += [
                shape(r, subset, f"{one}: row {i} (question_id {r.get('question_id')!r})")
                for i, r in enumerate(raw)
            ]
        else:
            root = Path(one).expanduser()
            found, fingerprint = local_rows(data_files(root, "PPE correctness"))
            for f, i, r in found:
                rows.append(
                    shape(r, _local_subset(f, root), f"{f}: row {i} (question_id {r.get('question_id')!r})")
                )
        prints.append(fingerprint)
    return example_table(rows, source), prints[0] if len(prints) == 1 else "multi:" + "+".join(prints)


@register_loader("ppe_correctness")
def check(table: pa.Table, spec: Any, bench: Any, where: str) -> pa.Table:
    """Best-of-K lists (a list may be empty; each row has at least one response)."""
    _check_schema(table, bench.required_columns, bench.text_columns, where, lists="yes")
    for row, (c, r) in enumerate(
        zip(table.column("chosen").to_pylist(), table.column("rejected").to_pylist())
    ):
        if not c and not r:
            raise DataError(f"{where}: row {row}: no responses")
    return table
