"""The reference's named conversation templates (fastchat), shipped as Jinja files, and its EOS rule.

``scripts/run_rm.py`` of rewardbench 0.1.4 formats conversations with the tokenizer's own chat template when it
has one; otherwise with the fastchat template named by ``--chat_template`` (default ``tulu``), and then sets
``tokenizer.add_eos_token = True``. The templates here (``orchestrator/chat_templates/<name>.jinja``, written for
Rayward) render the same text as fastchat's ``Conversation.get_prompt`` for alternating user/assistant turns;
``tests/scoring/test_chat_templates.py`` checks that byte for byte against fastchat's own output.

``add_eos_token = True`` only changes what transformers 4.51 tokenizes for tokenizer classes with an
``add_eos_token`` property (Llama, CodeLlama, Gemma, GPT-NeoX, Cohere fast tokenizers): their post-processor is
rebuilt as ``[BOS if add_bos_token] text EOS``. On any other class it is a plain attribute and nothing changes.
transformers 5 gives every fast tokenizer the property, so :func:`apply_reference_eos` sets it only where 4.51
would have honoured it.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from pathlib import Path

logger = logging.getLogger(__name__)

NAMES = ("tulu", "raw", "openbmb", "pku-align", "Ziya", "oasst_pythia", "mistral", "llama-2")
"""Template names ``chat_template:`` accepts (the fastchat / rewardbench names the reference uses)."""

DEFAULT = "tulu"
"""The reference's ``--chat_template`` default: used when the tokenizer has no template and the job names none."""

_EOS_CLASSES = {
    # transformers 4.51 fast tokenizer classes with an add_eos_token setter, and their add_bos_token default
    "LlamaTokenizer": True,
    "CodeLlamaTokenizer": True,
    "GemmaTokenizer": True,
    "GPTNeoXTokenizer": False,
    "CohereTokenizer": True,
}
_MODEL_TYPE_CLASSES = {
    "llama": "LlamaTokenizer",
    "gemma": "GemmaTokenizer",
    "gemma2": "GemmaTokenizer",
    "gpt_neox": "GPTNeoXTokenizer",
    "cohere": "CohereTokenizer",
}


def named_template(name: str) -> str | None:
    """The Jinja text of a shipped named template, or None when ``name`` is not one."""
    if name not in NAMES:
        return None
    return (
        resources.files("orchestrator")
        .joinpath("chat_templates")
        .joinpath(f"{name}.jinja")
        .read_text(encoding="utf-8")
    )


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def reference_tokenizer_class(source: str) -> tuple[str | None, dict]:
    """The tokenizer class transformers 4.51 instantiates for a local ``source`` (``tokenizer_config.json``'s
    ``tokenizer_class`` without ``Fast``, else from ``config.json``'s ``model_type``), and the tokenizer config."""
    local = Path(source).expanduser()
    if not local.is_dir():
        return None, {}
    config = _read_json(local / "tokenizer_config.json")
    name = config.get("tokenizer_class")
    if isinstance(name, str):
        return name.removesuffix("Fast"), config
    model_type = _read_json(local / "config.json").get("model_type")
    return (_MODEL_TYPE_CLASSES.get(model_type) if isinstance(model_type, str) else None), config


def apply_reference_eos(tokenizer, source: str) -> bool:
    """Make ``tokenizer`` append EOS exactly where the reference's ``add_eos_token = True`` does (see the module
    docstring); True when it now appends one."""
    cls, config = reference_tokenizer_class(source)
    if cls not in _EOS_CLASSES:
        return False
    if not hasattr(type(tokenizer), "add_eos_token") or tokenizer.eos_token is None:
        return False
    add_bos = config.get("add_bos_token", _EOS_CLASSES[cls])
    tokenizer.add_bos_token = bool(add_bos) and tokenizer.bos_token is not None
    tokenizer.add_eos_token = True
    logger.info(
        "tokenizer %s (%s in the reference): EOS appended after each text, as add_eos_token does", source, cls
    )
    return True
