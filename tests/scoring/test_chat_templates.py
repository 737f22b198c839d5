"""The shipped named templates render byte for byte what the reference's fastchat templates render.

The fixture holds fastchat 0.2.36's output (through rewardbench 0.1.4's own ``prepare_dialogue``) over real v1
prompts, single- and multi-turn (``perf/reference/make_template_fixture.py``, run in the reference venv).
"""

from __future__ import annotations

import gzip
import json
import shutil

import pytest

from orchestrator.config import model_spec
from orchestrator.scoring.classifier import load_tokenizer
from orchestrator.scoring.formatting import format_conversations
from orchestrator.scoring.named_templates import NAMES, apply_reference_eos, named_template
from tests.conftest import FIXTURES

FIXTURE = json.loads(
    gzip.open(FIXTURES / "reference" / "fastchat-templates.json.gz", "rt", encoding="utf-8").read()
)


@pytest.fixture(scope="module")
def tokenizer(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_models["tiny-rm"]))


def test_fixture_covers_every_name_and_multi_turn():
    assert sorted(FIXTURE["expected"]) == sorted(NAMES)
    cases = FIXTURE["cases"]
    assert sum(isinstance(c["prompt"], list) for c in cases) >= 10 and len(cases) >= 40


@pytest.mark.parametrize("name", NAMES)
def test_named_template_matches_fastchat(tokenizer, name):
    tokenizer.chat_template = named_template(name)
    cases = FIXTURE["cases"]
    prompts = [c["prompt"] for c in cases]
    texts = format_conversations(
        tokenizer, prompts * 2, [c["chosen"] for c in cases] + [c["rejected"] for c in cases]
    )
    want = [e["chosen"] for e in FIXTURE["expected"][name]] + [
        e["rejected"] for e in FIXTURE["expected"][name]
    ]
    for i, (got, exp) in enumerate(zip(texts, want)):
        assert got == exp, f"{name}: case {i % len(cases)} (rows {cases[i % len(cases)]['rows']}) differs"


def test_job_names_a_template(tiny_models):
    tok = load_tokenizer(model_spec(name="m", path=str(tiny_models["tiny-rm"]), chat_template="pku-align"))
    (text,) = format_conversations(tok, ["Hi?"], ["Hello."])
    assert text == "BEGINNING OF CONVERSATION: USER: Hi? ASSISTANT: Hello. "


def test_tokenizer_without_template_gets_tulu_and_reference_eos(tiny_models, tmp_path):
    """The reference sets add_eos_token = True after choosing a fastchat template: an EOS is appended only where
    transformers 4.51's tokenizer class has that property (Llama-style), never on the generic fast class."""
    plain = tmp_path / "plain"
    shutil.copytree(tiny_models["tiny-rm"], plain)
    (plain / "chat_template.jinja").unlink()
    tok = load_tokenizer(model_spec(name="p", path=str(plain)))
    assert tok.chat_template == named_template("tulu")
    (text,) = format_conversations(tok, ["Hi?"], ["Hello."])
    assert text == "<|user|>\nHi?\n<|assistant|>\nHello.\n"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] != tok.eos_token_id  # generic class: no EOS
    llama = tmp_path / "llama"
    shutil.copytree(plain, llama)
    cfg = json.loads((llama / "tokenizer_config.json").read_text())
    cfg["tokenizer_class"] = "LlamaTokenizerFast"
    (llama / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok2 = load_tokenizer(model_spec(name="l", path=str(llama)))
    ids2 = tok2(text)["input_ids"]
    assert ids2[0] == tok2.bos_token_id and ids2[-1] == tok2.eos_token_id and ids2[:-1] == ids
    assert apply_reference_eos(tok2, str(plain)) is False
