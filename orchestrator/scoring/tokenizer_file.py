"""Tokenize with the checkpoint's own ``tokenizer.json``, as the reference's transformers 4.51 does.

transformers 4.x fast tokenizers run ``tokenizer.json`` verbatim: its normalizer, pre-tokenizer, model and
post-processor. transformers 5's ``AutoTokenizer`` may instead pick a model-specific class from ``config.json``'s
``model_type`` (``Qwen2Tokenizer`` for ``qwen2``, ...) that rebuilds the pipeline from the vocabulary with the
family's own normalizer and pre-tokenizer, ignoring the file's. For the family's published checkpoints the two
agree; for any checkpoint whose ``tokenizer.json`` differs (a replica, a fine-tune with a retrained or modified
tokenizer) the token ids differ, and so do the scores (a tiny Qwen2 classifier: 165 of 368 texts tokenized
differently, 178 of 184 pairs with the same outcome). :func:`match_tokenizer_file` detects the difference and
falls back to the generic backend over the file, which is what 4.51 runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_PIPELINE = ("normalizer", "pre_tokenizer", "post_processor", "decoder")


def tokenizer_json(source: str, revision: str | None = None) -> Path | None:
    """The ``tokenizer.json`` of a local directory, or of a hub id already in the local cache; else None."""
    local = Path(source).expanduser()
    if local.is_dir():
        path = local / "tokenizer.json"
        return path if path.is_file() else None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "tokenizer.json", revision=revision)
    except Exception:  # not a valid repo id, no cache: nothing to compare against
        return None
    return Path(found) if isinstance(found, str) else None


def pipeline_differences(tokenizer, file: Path) -> list[str]:
    """Which parts of ``tokenizer``'s backend pipeline differ from ``file`` (empty: it runs the file)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return []
    ours: dict[str, Any] = json.loads(backend.to_str())
    theirs: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    diffs = [part for part in _PIPELINE if ours.get(part) != theirs.get(part)]
    model_a, model_b = ours.get("model") or {}, theirs.get("model") or {}
    for key in ("type", "vocab", "merges"):
        if model_a.get(key) != model_b.get(key):
            diffs.append(f"model.{key}")
    return diffs


def match_tokenizer_file(tokenizer, source: str, revision: str | None, trust_remote_code: bool):
    """``tokenizer``, or the generic fast tokenizer over ``source``'s ``tokenizer.json`` when the class
    transformers picked does not run that file (see the module docstring)."""
    file = tokenizer_json(source, revision)
    if file is None:
        return tokenizer
    diffs = pipeline_differences(tokenizer, file)
    if not diffs:
        return tokenizer
    import transformers

    generic = getattr(transformers, "TokenizersBackend", None) or transformers.PreTrainedTokenizerFast
    logger.info(
        "tokenizer %s: %s does not run tokenizer.json as written (%s differ); using %s over the file, as "
        "transformers 4.x does",
        source,
        type(tokenizer).__name__,
        ", ".join(diffs),
        generic.__name__,
    )
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision is not None:
        kwargs["revision"] = revision
    replacement = generic.from_pretrained(source, **kwargs)
    replacement.truncation_side = tokenizer.truncation_side
    return replacement


def configured_truncation_side(source: str, revision: str | None = None) -> str:
    """The truncation side a checkpoint's ``tokenizer_config.json`` sets (``right``, transformers' default, when it
    sets none): what the reference's custom pair pipelines use, since run_rm.py leaves it as loaded for them."""
    local = Path(source).expanduser()
    file: Path | None = None
    if local.is_dir():
        file = local / "tokenizer_config.json"
    else:
        try:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(source, "tokenizer_config.json", revision=revision)
        except Exception:
            found = None
        file = Path(found) if isinstance(found, str) else None
    if file is None or not file.is_file():
        return "right"
    try:
        side = json.loads(file.read_text(encoding="utf-8")).get("truncation_side", "right")
    except ValueError:
        return "right"
    return side if side in ("left", "right") else "right"
