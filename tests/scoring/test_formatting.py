import pytest

from orchestrator.errors import DataError
from orchestrator.scoring.formatting import encode, format_conversations, to_messages


def test_single_turn_messages():
    assert to_messages("q", "a") == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]


def test_multi_turn_alternates_roles_like_reference():
    prompt = [
        {"role": "user", "content": "1"},
        {"role": "assistant", "content": "2"},
        {"role": "user", "content": "3"},
    ]
    msgs = to_messages(prompt, "4")
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[-1]["content"] == "4"
    with pytest.raises(DataError, match="must end with a user turn"):
        to_messages(prompt[:2], "x", where="row 7")


def test_doubled_bos_detected_and_left_truncation(tiny_models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_models["tiny-rm"]))
    tok.truncation_side = "left"
    texts = format_conversations(tok, ["hello", "hi"], ["world " * 5, "x " * 4000])
    assert texts[0].startswith("<s><|user|>")
    enc = encode(tok, texts, max_length=64)
    assert enc.input_ids[0][:2] == [tok.bos_token_id, tok.bos_token_id]
    assert enc.first_masked == [True, False]  # the long one lost its template BOS to left truncation
    assert len(enc.input_ids[1]) == 64
    assert enc.input_ids[1][0] == tok.bos_token_id  # the tokenizer's BOS survives truncation
    full = tok(texts[1])["input_ids"]
    assert enc.input_ids[1][1:] == full[-63:]  # the right end is kept


def test_no_chat_template_is_an_error(tiny_models):
    from transformers import AutoTokenizer

    from orchestrator.errors import ModelError

    tok = AutoTokenizer.from_pretrained(str(tiny_models["tiny-rm"]))
    tok.chat_template = None
    with pytest.raises(ModelError, match="no chat template"):
        format_conversations(tok, ["q"], ["a"])
