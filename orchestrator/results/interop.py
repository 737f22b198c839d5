"""RewardBench's own result files in and out of the results store (no Ray, no torch).

* import: the reference's per-example score files (``eval-set-scores/<org>/<model>.json``, one JSON object of
  columns: ``id, subset, scores_chosen, scores_rejected, results, text_chosen, text_rejected, model, …``) or the
  ``rewardbench`` CLI's ``<model>_outputs.jsonl`` (one JSON object per row, same fields). Each row is matched to the
  benchmark's examples by ``(subset, id)`` and then checked by text: the raw chosen and rejected completions must
  appear at the end of ``text_chosen``/``text_rejected`` (after them only the chat template's closing tokens, at most
  ``MAX_SUFFIX`` characters). Rows with no such example, or whose text does not match, are reported, never guessed.
  Where ``id`` is missing, the text check over the subset's examples decides, and only a unique match is taken.
* export: ``eval-set/<model>.json`` (per-subset accuracy, as ``scripts/run_rm.py`` writes it) and
  ``eval-set-scores/<model>.json`` (per-example columns) of a model's latest records. ``text_chosen``/``text_rejected``
  hold the raw completions (the chat-templated text is not stored in records), which the import accepts.

RewardBench 2 score files (``scripts/run_v2.py``: per row ``id, subset, text`` (every completion's chat-templated text,
chosen first), ``scores``, ``num_correct``, ``results``) import into a best-of-N benchmark: matched by ``(subset, id)``
and every completion's text checked the same way; export writes that layout back (``text`` = raw completions,
``results`` = the example's points, null for Ties, ``id`` = the source id).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from orchestrator.errors import DataError
from orchestrator.results.records import (
    SCHEMA_VERSION,
    encode_part,
    make_table,
    new_run_id,
    now_iso,
    write_manifest,
    write_shard,
)
from orchestrator.runtime.faults import row_error_allowance, row_error_message
from orchestrator.scoring.finite import as_error_rows, non_finite_rows

MAX_SUFFIX = 64  # characters a chat template may add after the completion (eos, end-of-turn tokens)


@dataclass
class ImportResult:
    """What an import did: records written, and the rows it could not match (file row, reason)."""

    run_id: str
    n_rows: int
    n_imported: int
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    disagreements: int = 0  # rows whose `results` differs from score_chosen > score_rejected
    non_finite: int = 0  # rows whose score is NaN or infinite (imported as error records)
    status: str = "ok"  # the run's status: failed when nothing matched or too many scores are not finite
    error: str | None = None
    subsets: dict[str, int] = field(default_factory=dict)


def read_reference_scores(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a reference score file: a JSON object of equal-length columns, or JSON lines (one row each)."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: file not found")
    from orchestrator._text import read_utf8

    text = read_utf8(file, DataError, "the score file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        lengths = {k: len(v) for k, v in data.items() if isinstance(v, list)}
        if not lengths:
            raise DataError(
                f"{file}: no per-example columns (is this an eval-set/ summary instead of eval-set-scores/?)"
            )
        n = max(lengths.values())
        short = [k for k, v in lengths.items() if v != n]
        if short:
            raise DataError(f"{file}: columns of unequal length: {', '.join(short)} (expected {n} rows)")
        cols = [k for k in data if k in lengths]
        return [{k: data[k][i] for k in cols} for i in range(n)]
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{file}:{lineno}: invalid JSON line: {exc.msg}") from None
        if not isinstance(row, dict):
            raise DataError(f"{file}:{lineno}: expected a JSON object per line")
        rows.append(row)
    if not rows:
        raise DataError(f"{file}: no rows")
    return rows


def _scalar(value: Any, where: str, key: str) -> float:
    if isinstance(value, list):
        if len(value) != 1:
            raise DataError(f"{where}: {key} holds {len(value)} scores; a pairwise row has one")
        value = value[0]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise DataError(f"{where}: {key} is not a number: {value!r}")
    return float(value)


def _ends_with(text: Any, completion: str) -> bool:
    if not isinstance(text, str):
        return False
    at = text.rfind(completion)
    return at >= 0 and len(text) - (at + len(completion)) <= MAX_SUFFIX


def import_reference_scores(
    path: str | Path,
    examples: Any,
    *,
    results: str | Path,
    model: str,
    kind: str = "classifier",
    max_error_rate: float = 0.01,
) -> ImportResult:
    """Import a reference score file into ``results`` as one run of ``model`` on ``examples.benchmark``."""
    rows = read_reference_scores(path)
    if not rows:
        raise DataError(f"{path}: no rows")
    ex = examples.table.to_pydict()
    by_key: dict[tuple[str, int], list[int]] = defaultdict(list)
    by_subset: dict[str, list[int]] = defaultdict(list)
    for i, (subset, eid) in enumerate(zip(ex["subset"], ex["id"])):
        by_key[(subset, eid)].append(i)
        by_subset[subset].append(i)
    used: set[int] = set()
    out: dict[str, list[Any]] = defaultdict(list)
    result = ImportResult(run_id=new_run_id(), n_rows=len(rows), n_imported=0)
    bon = "scores" in rows[0] and "text" in rows[0]
    lists = pa.types.is_list(examples.table.schema.field("chosen").type)
    if bon != lists:
        raise DataError(
            f"{path}: a {'best-of-N' if bon else 'pairwise'} score file, but benchmark {examples.benchmark!r} holds "
            f"{'best-of-N' if lists else 'pairwise'} examples (RewardBench 2 files: --benchmark reward-bench-2)"
        )
    by_source: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (subset, sid) in enumerate(zip(ex["subset"], ex["source_id"])):
        by_source[(subset, sid)].append(i)
    for n, row in enumerate(rows):
        where = f"{path}: row {n}"
        subset = row.get("subset")
        if subset is None:
            result.unmatched.append((n, "no subset"))
            continue
        if bon:
            matched = _match_best_of_n(row, n, ex, by_source, used, where, result)
            if matched is None:
                continue
            i, cols = matched
            used.add(i)
            for k, v in cols.items():
                out[k].append(v)
            result.subsets[subset] = result.subsets.get(subset, 0) + 1
            continue
        if "text_chosen" not in row or "text_rejected" not in row:
            result.unmatched.append((n, "no text_chosen/text_rejected to check the match"))
            continue

        def fits(i: int, row: dict[str, Any] = row) -> bool:
            return (
                i not in used
                and _ends_with(row["text_chosen"], ex["chosen"][i])
                and _ends_with(row["text_rejected"], ex["rejected"][i])
            )

        if row.get("id") is not None:
            try:
                key = (subset, int(row["id"]))
            except (TypeError, ValueError):
                result.unmatched.append((n, f"id {row['id']!r} is not an integer"))
                continue
            candidates = by_key.get(key, [])
            if not candidates:
                result.unmatched.append((n, f"no example ({subset}, {key[1]}) in the benchmark"))
                continue
            fitting = [i for i in candidates if fits(i)]
            if not fitting:
                result.unmatched.append(
                    (n, f"example ({subset}, {key[1]}) found but its chosen/rejected text differs")
                )
                continue
            i = fitting[0]  # repeated (subset, id) with the same texts: the file keeps the benchmark's order
        else:
            fitting = [i for i in by_subset.get(subset, []) if fits(i)]
            if len(fitting) != 1:
                result.unmatched.append(
                    (n, f"no id, and {len(fitting)} examples of {subset!r} match its text")
                )
                continue
            i = fitting[0]
        try:
            sc = _scalar(row.get("scores_chosen", row.get("score_chosen")), where, "scores_chosen")
            sr = _scalar(row.get("scores_rejected", row.get("score_rejected")), where, "scores_rejected")
        except DataError as exc:
            result.unmatched.append((n, str(exc).split(": ", 2)[-1]))
            continue
        used.add(i)
        correct = sc > sr
        if "results" in row and row["results"] is not None and bool(row["results"]) != correct:
            result.disagreements += 1
        for k, v in (
            ("subset", subset),
            ("example_id", ex["id"][i]),
            ("row_index", ex["row_index"][i]),
            (
                "prompt",
                ex["prompt"][i]
                if isinstance(ex["prompt"][i], str)
                else json.dumps(ex["prompt"][i], ensure_ascii=False),
            ),
            ("chosen", ex["chosen"][i]),
            ("rejected", ex["rejected"][i]),
            ("score_chosen", sc),
            ("score_rejected", sr),
            ("correct", correct),
            ("source_id", ex["source_id"][i]),
        ):
            out[k].append(v)
        result.subsets[subset] = result.subsets.get(subset, 0) + 1
    result.n_imported = len(out["subset"])
    benchmark = examples.benchmark
    started = now_iso()
    status, error = (
        ("ok", None) if result.n_imported else ("failed", "no row of the file matched the benchmark")
    )
    if result.n_imported:
        order = sorted(range(result.n_imported), key=lambda j: out["row_index"][j])
        cols = {k: [v[j] for j in order] for k, v in out.items()}
        n = result.n_imported
        bad = non_finite_rows(cols, n)  # NaN/inf scores: error records, never comparisons
        if bad:
            cols, errors = as_error_rows(cols, None, bad, n)
            cols["error"] = errors
            result.non_finite = len(bad)
            first = min(bad)
            allowed = row_error_allowance(max_error_rate, len(examples))
            if len(bad) > allowed:
                status = "failed"
                error = row_error_message(
                    model,
                    benchmark,
                    len(bad),
                    len(examples),
                    max_error_rate,
                    {
                        "subset": cols["subset"][first],
                        "row_index": cols["row_index"][first],
                        "error": bad[first],
                    },
                )
        table = make_table(
            {
                "schema_version": [SCHEMA_VERSION] * n,
                "run_id": [result.run_id] * n,
                "benchmark": [benchmark] * n,
                "model": [model] * n,
                "kind": [kind] * n,
                "shard": [0] * n,
                "scorer": ["rewardbench-import"] * n,
                **cols,
            }
        )
        write_shard(results, table, benchmark=benchmark, model=model, run_id=result.run_id, shard=0)
    result.status, result.error = status, error
    write_manifest(
        results,
        {
            "run_id": result.run_id,
            "job": "import",
            "status": status,
            "started_at": started,
            "finished_at": now_iso(),
            "import": {
                "file": str(path),
                "format": "rewardbench",
                "rows": result.n_rows,
                "imported": result.n_imported,
                "unmatched": len(result.unmatched),
                "results_disagreements": result.disagreements,
            },
            "datasets": [
                {
                    "benchmark": benchmark,
                    "source": examples.source,
                    "split": examples.split,
                    "fingerprint": examples.fingerprint,
                    "n_examples": len(examples),
                }
            ],
            "models": [
                {
                    "model": model,
                    "benchmark": benchmark,
                    "kind": kind,
                    "status": status,
                    "error": error,
                    "n_records": result.n_imported,
                    "row_errors": result.non_finite,
                }
            ],
        },
    )
    return result


def _match_best_of_n(
    row: dict[str, Any],
    n: int,
    ex: dict[str, list[Any]],
    by_source: dict[tuple[str, str], list[int]],
    used: set[int],
    where: str,
    result: ImportResult,
) -> tuple[int, dict[str, Any]] | None:
    """A RewardBench 2 row: (subset, id) then every completion's text; the record columns, or None (reported)."""
    subset = row["subset"]
    if row.get("id") is None:
        result.unmatched.append((n, "no id"))
        return None
    key = (subset, str(row["id"]))
    candidates = by_source.get(key, [])
    if not candidates:
        result.unmatched.append((n, f"no example ({subset}, {key[1]}) in the benchmark"))
        return None
    texts, raw = row.get("text"), row.get("scores")
    if not isinstance(texts, list) or not isinstance(raw, list) or len(texts) != len(raw):
        result.unmatched.append((n, "text and scores must be lists of equal length"))
        return None
    fitting = [
        i
        for i in candidates
        if i not in used
        and len(ex["chosen"][i]) + len(ex["rejected"][i]) == len(texts)
        and all(_ends_with(t, c) for t, c in zip(texts, ex["chosen"][i] + ex["rejected"][i]))
    ]
    if not fitting:
        result.unmatched.append((n, f"example ({subset}, {key[1]}) found but its completions' text differs"))
        return None
    i = fitting[0]
    try:
        scores = [_scalar(x, where, "scores") for x in raw]
    except DataError as exc:
        result.unmatched.append((n, str(exc).split(": ", 2)[-1]))
        return None
    k = len(ex["chosen"][i])
    sc, sr = scores[:k], scores[k:]
    prompt = ex["prompt"][i]
    return i, {
        "subset": subset,
        "example_id": ex["id"][i],
        "row_index": ex["row_index"][i],
        "prompt": prompt if isinstance(prompt, str) else json.dumps(prompt, ensure_ascii=False),
        "chosen": ex["chosen"][i][0],
        "rejected": ex["rejected"][i][0] if sr else None,
        "score_chosen": sc[0],
        "score_rejected": max(sr) if sr else None,
        "correct": bool(sr) and min(sc) > max(sr),
        "source_id": ex["source_id"][i],
        "scores_chosen": sc,
        "scores_rejected": sr,
        "texts_chosen": list(ex["chosen"][i]),
        "texts_rejected": list(ex["rejected"][i]),
    }


def _model_path(root: Path, sub: str, model: str) -> Path:
    parts = [encode_part(p) for p in model.split("/")]
    return root.joinpath(sub, *parts[:-1], parts[-1] + ".json")


def export_reference(
    con: Any,
    *,
    model: str,
    benchmark: str,
    out: str | Path,
    kind_label: str = "Seq. Classifier",
    chat_template: str = "tokenizer",
) -> tuple[Path, Path]:
    """Write ``eval-set/<model>.json`` and ``eval-set-scores/<model>.json`` of ``model``'s latest records."""
    from orchestrator.query.db import stored_query

    rows = stored_query(con, "export_records", benchmark=benchmark, model=model).to_pylist()
    if not rows:
        raise DataError(f"no records of model {model!r} on benchmark {benchmark!r}")
    bon = any(r["scores_chosen"] is not None for r in rows)
    if bon and not all(r["scores_chosen"] is not None and r["texts_chosen"] is not None for r in rows):
        raise DataError(
            f"model {model!r} on {benchmark!r}: best-of-N records without every completion's text "
            "(mixed or older records) cannot be exported"
        )
    root = Path(out)
    summary: dict[str, Any] = {"model": model, "model_type": kind_label, "chat_template": chat_template}
    for r in stored_query(con, "subset_accuracy", benchmark=benchmark).to_pylist():
        if r["model"] == model and r["accuracy"] is not None and not math.isnan(r["accuracy"]):
            summary[r["subset"]] = r["accuracy"]
    points = {}
    if bon:
        for r in stored_query(con, "export_points", benchmark=benchmark, model=model).to_pylist():
            points[r["row_index"]] = r["points"]
        scores = {
            "chat_template": chat_template,
            "id": [r["source_id"] for r in rows],
            "model": model,
            "model_type": kind_label,
            "num_correct": [len(r["scores_chosen"]) for r in rows],
            "results": [points.get(r["row_index"]) for r in rows],
            "scores": [list(r["scores_chosen"]) + list(r["scores_rejected"]) for r in rows],
            "subset": [r["subset"] for r in rows],
            "text": [list(r["texts_chosen"]) + list(r["texts_rejected"]) for r in rows],
        }
    else:
        scores = _pairwise_columns(rows, model, kind_label, chat_template)
    paths = []
    for sub, data in (("eval-set", summary), ("eval-set-scores", scores)):
        path = _model_path(root, sub, model)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=4, sort_keys=True), encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def _pairwise_columns(
    rows: list[dict[str, Any]], model: str, kind_label: str, chat_template: str
) -> dict[str, Any]:
    return {
        "chat_template": chat_template,
        "id": [r["example_id"] for r in rows],
        "model": model,
        "model_type": kind_label,
        "results": [int(bool(r["correct"])) for r in rows],
        "scores_chosen": [[r["score_chosen"]] for r in rows],
        "scores_rejected": [[r["score_rejected"]] for r in rows],
        "subset": [r["subset"] for r in rows],
        "text_chosen": [r["chosen"] for r in rows],
        "text_rejected": [r["rejected"] for r in rows],
    }
