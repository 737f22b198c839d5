"""Judge prompt rendering and verdict parsing: handcrafted outputs and hypothesis fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.errors import ModelError
from orchestrator.scoring.judge_prompts import chat_prompt, load_template, question_text
from orchestrator.scoring.verdicts import parse_pair, parse_score

# ----------------------------------------------------------------- parsing, handcrafted


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The reply is relevant and complete.\nScore: 4", 4.0),
        ("score:5", 5.0),
        ("SCORE : 0", 0.0),
        ("Score: **3**", 3.0),
        ("Score: 4/5", 4.0),
        ("Score: 3.", 3.0),
        ("Score: 2.0", 2.0),
        ("First I thought Score: 1, but on reflection\nScore: 4", 4.0),  # the last one counts
        ("Score: 4\n\nScore: 2", 2.0),
        ("Score: 6", None),  # out of range
        ("Score: 10", None),  # not 1
        ("Score: 2.5", None),  # not a point count
        ("Score: -1", None),
        ("Score: N", None),
        ("I'd give it four points.", None),
        ("", None),
    ],
)
def test_parse_score_handcrafted(text, expected):
    assert parse_score(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Reply A is more accurate.\n[[A]]", "A"),
        ("[[B]]", "B"),
        ("Final verdict: [[B]].", "B"),
        ("Both [[A]] and [[B]] are fine", None),  # both named: ambiguous
        ("A is better", None),  # no verdict
        ("[A]", None),
        ("[[a]]", None),
        ("", None),
    ],
)
def test_parse_pair_handcrafted(text, expected):
    assert parse_pair(text) == expected


def test_parsers_take_non_text():
    assert parse_score(None) is None and parse_pair(None) is None


# ----------------------------------------------------------------- parsing, fuzzed


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parsers_never_raise(text):
    score = parse_score(text)
    assert score is None or (score in {0.0, 1.0, 2.0, 3.0, 4.0, 5.0})
    assert parse_pair(text) in (None, "A", "B")


_free = st.text().filter(lambda t: "score" not in t.lower() and "[[" not in t and "]]" not in t)


@settings(max_examples=300, deadline=None)
@given(_free, st.integers(0, 5), st.sampled_from(["Score: {}", "score:{}", "Score: **{}**", "SCORE :  {}"]))
def test_score_line_round_trips_after_any_text(prefix, n, form):
    assert parse_score(prefix + "\n" + form.format(n)) == float(n)


@settings(max_examples=300, deadline=None)
@given(_free, _free, st.sampled_from(["A", "B"]))
def test_pair_verdict_round_trips_inside_any_text(before, after, label):
    assert parse_pair(f"{before}[[{label}]]{after}") == label


@settings(max_examples=200, deadline=None)
@given(_free, st.integers(6, 10_000))
def test_out_of_range_scores_fail(prefix, n):
    assert parse_score(f"{prefix}\nScore: {n}") is None


# ----------------------------------------------------------------- rendering


def test_shipped_templates_render_question_and_responses():
    rubric = load_template("rubric")
    text = rubric.render("What is 2+2?", "It is 4.")
    assert "What is 2+2?" in text and "It is 4." in text and '"Score: N"' in text
    assert rubric.source.endswith("judge_templates/rubric.jinja")
    pair = load_template("pairwise")
    text = pair.render("Q?", "first reply", "second reply")
    assert text.index("first reply") < text.index("second reply") and '"[[A]]"' in text and '"[[B]]"' in text


def test_multi_turn_prompt_is_labelled_turns():
    assert question_text("plain") == "plain"
    convo = ["hi", "hello, how can I help?", "add 2 and 2"]
    assert question_text(convo) == "User: hi\n\nAssistant: hello, how can I help?\n\nUser: add 2 and 2"
    assert question_text([{"role": "user", "content": "x"}]) == "x"


def test_custom_template_file_and_its_errors(tmp_path):
    good = tmp_path / "mine.jinja"
    good.write_text("Q={{ question }} | R={{ response }} | turns={{ messages | length }}")
    assert (
        load_template("rubric", good).render(["a", "b", "c"], "resp")
        == "Q=User: a\n\nAssistant: b\n\nUser: c | R=resp | turns=3"
    )
    typo = tmp_path / "typo.jinja"
    typo.write_text("{{ question }} {{ respnose }}")
    with pytest.raises(ModelError, match="typo.jinja.*respnose"):
        load_template("rubric", typo)
    broken = tmp_path / "broken.jinja"
    broken.write_text("{% if %}")
    with pytest.raises(ModelError, match="broken.jinja:1"):
        load_template("pairwise", broken)
    with pytest.raises(ModelError, match="cannot read"):
        load_template("rubric", tmp_path / "missing.jinja")


def test_template_sandbox_blocks_attribute_escapes(tmp_path):
    evil = tmp_path / "evil.jinja"
    evil.write_text("{{ question.__class__.__mro__[1].__subclasses__() }} {{ response }}")
    with pytest.raises(ModelError, match="evil.jinja"):
        load_template("rubric", evil)


def test_chat_prompt_wraps_one_user_turn_with_generation_prompt(tiny_models):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_models["tiny-judge"]))
    text = chat_prompt(tok, "judge this")
    assert text == tok.apply_chat_template(
        [{"role": "user", "content": "judge this"}], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<s><|user|>\njudge this") and text.endswith("<|assistant|>\n")


@settings(max_examples=100, deadline=None)
@given(st.text(), st.text(), st.text())
def test_rendering_keeps_any_text_verbatim(question, a, b):
    text = load_template("pairwise").render(question, a, b)
    assert question in text and a in text and b in text
