"""M-RewardBench (C4AI-Community/multilingual-reward-bench; Gureja et al., arXiv 2410.15522): RewardBench v1's
filtered pairs translated into 23 languages, one hub config per language (``arb_Arab`` ... ``zho_Hant``), each with
a ``test`` split of ``id, language, prompt, chosen, rejected, chosen_model, rejected_model, source`` (``source`` =
the v1 subset the pair comes from; the dataset's first release named it ``subset``, which is read too).

Sources, loaded as published:

* the hub id (default ``C4AI-Community/multilingual-reward-bench``): every selected config's split through
  ``datasets`` (offline: from the datasets cache a download left);
* a local directory laid out like the hub repository, one folder per config holding the split's files
  (``arb_Arab/test-00000-of-00001.parquet``; the older ``filtered.json`` / ``raw.json`` beside it are other splits:
  a file belongs to the split its name starts with), or one file per config (``arb_Arab.parquet``,
  ``arb_Arab.jsonl``). Folders or files that are not a language config (the repository's ``translation`` config,
  ``README.md``) are skipped.

``languages`` (a job key of this benchmark) selects configs; default all 23 from the hub, every config present in a
local directory (a language not loaded leaves the leaderboard row incomplete). The subset of a row is
``<config>/<v1 subset>`` (``arb_Arab/alpacaeval-easy``): the language is the subset's section in ``subsets.csv``
and the v1 subset its RewardBench section. The metric is ``orchestrator/query/sql/rules/language_matrix.sql``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.benchmarks._sources import example_table, hub_rows, looks_local, read_rows, sha256_files
from orchestrator.data import check_own_table, register_loader
from orchestrator.errors import DataError

logger = logging.getLogger(__name__)

LANGUAGES = (
    "arb_Arab",
    "ces_Latn",
    "deu_Latn",
    "ell_Grek",
    "fra_Latn",
    "heb_Hebr",
    "hin_Deva",
    "ind_Latn",
    "ita_Latn",
    "jpn_Jpan",
    "kor_Hang",
    "nld_Latn",
    "pes_Arab",
    "pol_Latn",
    "por_Latn",
    "ron_Latn",
    "rus_Cyrl",
    "spa_Latn",
    "tur_Latn",
    "ukr_Cyrl",
    "vie_Latn",
    "zho_Hans",
    "zho_Hant",
)
"""The 23 language configs, in the hub card's order (the leaderboard's column order)."""

SUBSETS = (
    "alpacaeval-easy",
    "alpacaeval-length",
    "alpacaeval-hard",
    "mt-bench-easy",
    "mt-bench-med",
    "mt-bench-hard",
    "llmbar-natural",
    "llmbar-adver-neighbor",
    "llmbar-adver-GPTInst",
    "llmbar-adver-GPTOut",
    "llmbar-adver-manual",
    "refusals-dangerous",
    "refusals-offensive",
    "xstest-should-refuse",
    "xstest-should-respond",
    "donotanswer",
    "math-prm",
    "hep-cpp",
    "hep-go",
    "hep-java",
    "hep-js",
    "hep-python",
    "hep-rust",
)
"""RewardBench v1's 23 scored subsets, the values of ``source``."""

OPTIONS = ("languages",)
"""The benchmark keys of a job this loader reads (``load_examples`` passes them as keyword arguments)."""

_SUFFIXES = (".parquet", ".json", ".jsonl")


def _read(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".parquet":
        try:
            return pq.read_table(path).to_pylist()
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{path}: cannot read Parquet: {exc}") from None
    return read_rows(path)


def _config_files(path: Path, split: str, wanted: tuple[str, ...], explicit: bool) -> dict[str, list[Path]]:
    """Each wanted config's files under ``path``: a folder ``<config>/`` (its files whose name starts with the
    split) or a file ``<config>.<suffix>``. Every wanted config must be there when ``explicit`` (``languages:``
    named them), else the configs present are loaded."""
    if not path.is_dir():
        raise DataError(
            f"{path}: M-RewardBench `source` must be a directory with one folder (or file) per language config"
        )
    found: dict[str, list[Path]] = {}
    for child in sorted(path.iterdir()):
        name = child.name if child.is_dir() else child.stem
        if child.is_file() and child.suffix not in _SUFFIXES:
            continue
        if name not in LANGUAGES:
            if child.is_dir() or child.suffix in _SUFFIXES:
                logger.info("%s: not one of M-RewardBench's 23 language configs; skipped", child)
            continue
        if name not in wanted:
            continue
        if child.is_dir():
            files = sorted(
                p
                for p in child.rglob("*")
                if p.is_file() and p.suffix in _SUFFIXES and p.name.startswith(split)
            )
            if not files:
                raise DataError(f"{child}: no {split!r} split files (.parquet/.json/.jsonl named {split}*)")
        else:
            files = [child]
        if name in found:
            raise DataError(f"{path}: language config {name!r} is both a folder and a file")
        found[name] = files
    if not explicit:  # a local copy: the configs it has (the others leave the leaderboard row incomplete)
        if not found:
            raise DataError(
                f"{path}: no M-RewardBench language config folder or file ({', '.join(LANGUAGES)})"
            )
        return found
    missing = [lang for lang in wanted if lang not in found]
    if missing:
        raise DataError(
            f"{path}: no folder or file for language config(s) {', '.join(missing)} "
            "(set `languages:` on the benchmark to load fewer)"
        )
    return found


def _shape(raw: list[dict[str, Any]], where: str, language: str) -> list[dict[str, Any]]:
    rows = []
    for i, r in enumerate(raw):
        at = f"{where}: row {i} (id {r.get('id')!r})"
        for key in ("prompt", "chosen", "rejected"):
            if not isinstance(r.get(key), str):
                raise DataError(f"{at}: {key!r} must be text, found {type(r.get(key)).__name__}")
        subset = r.get("source", r.get("subset"))
        if subset is None:
            raise DataError(f"{at}: no 'source' column (the RewardBench v1 subset of the pair)")
        if subset not in SUBSETS:
            raise DataError(
                f"{at}: source {subset!r} is not a RewardBench v1 subset M-RewardBench scores "
                f"({', '.join(SUBSETS)})"
            )
        if "language" in r and not isinstance(r["language"], str):
            raise DataError(f"{at}: 'language' must be text")
        if isinstance(r.get("id"), bool) or not isinstance(r.get("id"), (int, str)):
            raise DataError(f"{at}: 'id' must be an integer")
        rows.append(
            {
                "prompt": r["prompt"],
                "chosen": r["chosen"],
                "rejected": r["rejected"],
                "subset": f"{language}/{subset}",
                "id": r["id"],
            }
        )
    if not rows:
        raise DataError(f"{where}: no rows for language config {language!r}")
    return rows


def _selected(languages: list[str] | None) -> tuple[str, ...]:
    if languages is None:
        return LANGUAGES
    unknown = [lang for lang in languages if lang not in LANGUAGES]
    if unknown:
        raise DataError(
            f"benchmarks[m-reward-bench].languages: unknown language config(s) {unknown}; "
            f"known: {', '.join(LANGUAGES)}"
        )
    return tuple(lang for lang in LANGUAGES if lang in set(languages))


def load(
    source: str, split: str, revision: str | None, languages: list[str] | None = None
) -> tuple[pa.Table, str]:
    """Every selected language config's rows as one example table (subset = ``<config>/<v1 subset>``) and the
    source's fingerprint."""
    wanted = _selected(languages)
    rows: list[dict[str, Any]] = []
    if not looks_local(source):
        prints = []
        for lang in wanted:
            raw, fingerprint = hub_rows(source, split, revision, name=lang)
            rows += _shape(raw, f"{source} (config {lang})", lang)
            prints.append(f"{lang}={fingerprint.rsplit(':', 1)[-1]}")
        return example_table(rows, source), f"hub:{source}@{revision or 'main'}:" + ",".join(prints)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"{source}: M-RewardBench data not found")
    files = _config_files(path, split, wanted, explicit=languages is not None)
    loaded = [lang for lang in wanted if lang in files]
    for lang in loaded:
        for f in files[lang]:
            rows += _shape(_read(f), str(f), lang)
    return example_table(rows, source), sha256_files([f for lang in loaded for f in files[lang]])


register_loader("m_reward_bench")(check_own_table)
