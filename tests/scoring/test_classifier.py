"""The scorer against a direct transformers forward pass built like the reference pipeline."""

import numpy as np
import pyarrow.parquet as pq
import pytest

from orchestrator.config import model_spec
from orchestrator.errors import ModelError
from orchestrator.scoring.classifier import ClassifierScorer
from tests.scoring.reference_forward import direct_text_scores


def _sample(filtered_path):
    t = pq.read_table(filtered_path).to_pylist()
    picked, seen = [], {}
    for i, row in enumerate(t):
        if seen.get(row["subset"], 0) < 1:
            seen[row["subset"]] = seen.get(row["subset"], 0) + 1
            picked.append(i)
    # the longest rows too, so that left truncation at max_length is exercised
    longest = sorted(range(len(t)), key=lambda i: -len(t[i]["chosen"]) - len(t[i]["prompt"]))[:2]
    return [t[i] for i in picked + longest]


def _direct_scores(path, rows, max_length):
    """One example at a time, as RewardBenchPipeline does it (no Rayward code involved)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": row["prompt"]}, {"role": "assistant", "content": c}], tokenize=False
        )
        for row in rows
        for c in (row["chosen"], row["rejected"])
    ]
    return direct_text_scores(path, texts, max_length).reshape(-1, 2)


@pytest.fixture(scope="module")
def sample(filtered_path):
    return _sample(filtered_path)


@pytest.fixture(scope="module")
def direct(tiny_models, sample):
    return _direct_scores(tiny_models["tiny-rm"], sample, 2048)


@pytest.mark.parametrize("causal_path", [True, False], ids=["causal-no-mask", "padding-mask"])
def test_scores_match_direct_forward(tiny_models, sample, direct, causal_path):
    path = tiny_models["tiny-rm"]
    scorer = ClassifierScorer(model_spec(name="tiny-rm", path=str(path), batch_tokens=4096))
    assert scorer.causal  # a Llama classifier is a causal decoder
    scorer.causal = causal_path
    got = scorer.score_pairs(
        [r["prompt"] for r in sample], [r["chosen"] for r in sample], [r["rejected"] for r in sample]
    )
    want = direct
    np.testing.assert_allclose(got.score_chosen, want[:, 0], atol=2e-5, rtol=1e-5)
    np.testing.assert_allclose(got.score_rejected, want[:, 1], atol=2e-5, rtol=1e-5)
    assert (got.correct == (want[:, 0] > want[:, 1])).all()
    assert got.tokens_chosen.max() == 2048  # truncation was exercised


def test_tie_is_wrong():
    from orchestrator.scoring.classifier import PairScores

    s = PairScores(np.array([1.0, 2.0, 0.5]), np.array([1.0, 1.0, 0.7]), np.zeros(3), np.zeros(3))
    assert s.correct.tolist() == [False, True, False]


def test_chat_template_from_file_and_missing(tiny_models, tmp_path):
    import shutil

    path = tmp_path / "notemplate"
    shutil.copytree(tiny_models["tiny-rm"], path)
    (path / "chat_template.jinja").unlink()
    # no template of its own and none named: the reference's fastchat `tulu`
    default = ClassifierScorer(model_spec(name="m", path=str(path)))
    assert (
        default.tokenizer.chat_template
        == ClassifierScorer(
            model_spec(name="m", path=str(path), chat_template="tulu")
        ).tokenizer.chat_template
    )
    with pytest.raises(ModelError, match="not a template name"):
        ClassifierScorer(model_spec(name="m", path=str(path), chat_template="no-such-template"))
    template = tmp_path / "t.jinja"
    template.write_text("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    scorer = ClassifierScorer(model_spec(name="m", path=str(path), chat_template=str(template)))
    s = scorer.score_pairs(["q"], ["a"], ["b"])
    assert np.isfinite(s.score_chosen).all()


def test_broken_model_path_message(tmp_path):
    with pytest.raises(ModelError, match=r"model 'x': cannot load tokenizer from"):
        ClassifierScorer(model_spec(name="x", path=str(tmp_path / "missing")))


def test_multi_label_head_rejected(tmp_path, tiny_models):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(
        str(tiny_models["tiny-rm"]), num_labels=2, ignore_mismatched_sizes=True
    )
    model.save_pretrained(str(tmp_path / "two"))
    AutoTokenizer.from_pretrained(str(tiny_models["tiny-rm"])).save_pretrained(str(tmp_path / "two"))
    with pytest.raises(ModelError, match="2 output labels"):
        ClassifierScorer(model_spec(name="two", path=str(tmp_path / "two")))
