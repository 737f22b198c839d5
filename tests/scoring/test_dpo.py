"""Implicit (DPO) rewards: against a direct per-example torch computation and against rewardbench 0.1.4's run_dpo.py."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from orchestrator.config import model_spec
from orchestrator.errors import ModelError
from orchestrator.scoring import make_scorer
from orchestrator.scoring.dpo_tokens import MAX_PROMPT_LENGTH, _split, tokenize, tokenize_pairs
from tests.conftest import FIXTURES

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def dpo_models(tmp_path_factory):
    from orchestrator.tiny import build_tiny_model

    root = tmp_path_factory.mktemp("dpo")
    return {m: build_tiny_model(root / m, kind="causal", seed=m) for m in ("tiny-dpo", "tiny-dpo-ref")}


@pytest.fixture(scope="module")
def scorer(dpo_models):
    spec = model_spec(
        name="d", path=str(dpo_models["tiny-dpo"]), kind="dpo", reference=str(dpo_models["tiny-dpo-ref"])
    )
    return make_scorer(spec)


@pytest.fixture(scope="module")
def short_pairs(filtered_path):
    """A few real v1 pairs short enough to need no truncation."""
    t = pq.read_table(filtered_path).to_pydict()
    rows = [
        i
        for i in range(len(t["prompt"]))
        if len(t["prompt"][i]) + max(len(t["chosen"][i]), len(t["rejected"][i])) < 400
    ]
    rows = rows[:: max(1, len(rows) // 6)][:6]
    return [t["prompt"][i] for i in rows], [t["chosen"][i] for i in rows], [t["rejected"][i] for i in rows]


def _direct_logps(model, tokenizer, prompt: str, completion: str) -> np.ndarray:
    """Straight from the definition: [BOS] + enc(templated prompt + the rest of the templated conversation) + [EOS],
    one unbatched forward, log-softmax of the positions before each completion token."""
    user = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(user, tokenize=False)
    full_text = tokenizer.apply_chat_template(
        user + [{"role": "assistant", "content": completion}], tokenize=False
    )
    rest = full_text.replace(prompt_text, "")
    p_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    f_ids = tokenizer(prompt_text + rest, add_special_tokens=False)["input_ids"]
    assert f_ids[: len(p_ids)] == p_ids  # the tiny template ends each turn with a newline: no merge here
    ids = [tokenizer.bos_token_id] + f_ids + [tokenizer.eos_token_id]
    start = 1 + len(p_ids)
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
    logp = logits.log_softmax(-1)[start - 1 : -1].gather(-1, torch.tensor(ids[start:])[:, None]).squeeze(-1)
    return logp.numpy().astype(np.float64)


def test_rewards_equal_direct_computation(scorer, short_pairs):
    prompts, chosen, rejected = short_pairs
    cols = scorer.pair_columns(prompts, chosen, rejected)
    tok = scorer.tokenizer
    for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected)):
        for side, text in (("chosen", c), ("rejected", r)):
            pol = _direct_logps(scorer.model, tok, p, text)
            ref = _direct_logps(scorer.ref_model, tok, p, text)
            assert cols[f"logp_{side}"][i] == pytest.approx(pol.sum(), rel=1e-5, abs=1e-3)
            assert cols[f"ref_logp_{side}"][i] == pytest.approx(ref.sum(), rel=1e-5, abs=1e-3)
            assert cols[f"score_{side}"][i] == pytest.approx(pol.sum() - ref.sum(), abs=2e-3)
            assert cols[f"completion_tokens_{side}"][i] == len(pol)
        assert bool(cols["correct"][i]) == bool(cols["score_chosen"][i] > cols["score_rejected"][i])
    assert list(cols["beta"]) == [1.0] * len(prompts) and cols["reference"][0] == scorer.spec.reference
    assert cols["iteration"] == [None] * len(prompts)


def test_beta_scales_rewards_not_accuracy(dpo_models, scorer, short_pairs):
    prompts, chosen, rejected = short_pairs
    base = scorer.pair_columns(prompts, chosen, rejected)
    spec = scorer.spec.model_copy(update={"beta": 0.1, "iteration": 2})
    scaled = make_scorer(spec).pair_columns(prompts, chosen, rejected)
    np.testing.assert_allclose(scaled["score_chosen"], 0.1 * base["score_chosen"], rtol=1e-9)
    np.testing.assert_allclose(scaled["logp_chosen"], base["logp_chosen"], rtol=1e-9)  # sums are unscaled
    assert list(scaled["correct"]) == list(base["correct"])
    assert scaled["beta"] == [0.1] * len(prompts) and scaled["iteration"] == [2] * len(prompts)


@pytest.mark.parametrize("mode", ["sum", "avg", "norm"])
def test_reference_free_modes(dpo_models, short_pairs, mode):
    prompts, chosen, rejected = short_pairs
    spec = model_spec(name="d", path=str(dpo_models["tiny-dpo"]), kind="dpo", ref_free_norm=mode)
    s = make_scorer(spec)
    assert s.ref_model is None
    cols = s.pair_columns(prompts[:3], chosen[:3], rejected[:3])
    for i in range(3):
        for side, text in (("chosen", chosen[i]), ("rejected", rejected[i])):
            lp = _direct_logps(s.model, s.tokenizer, prompts[i], text)
            want = {"sum": lp.sum(), "avg": lp.mean(), "norm": -np.sqrt((lp**2).sum())}[mode]
            assert cols[f"score_{side}"][i] == pytest.approx(want, rel=1e-5, abs=1e-4)
            assert cols[f"logp_{side}"][i] == pytest.approx(lp.sum(), rel=1e-5, abs=1e-3)
            assert cols[f"ref_logp_{side}"][i] is None
    assert cols["reference"] == [None] * 3


def test_truncation_follows_the_reference(scorer, filtered_path):
    """Prompt + the pair's longer completion over max_length: the prompt keeps its last 128 ids (both sides,
    decided by the longer one), then each completion its first max_length - 128."""
    tok = scorer.tokenizer
    prompt = "What is the capital of France? " * 40
    short, long_ = "Paris.", "The capital of France is Paris. " * 60
    full = tokenize_pairs(tok, [prompt], [short], [long_], max_length=100_000)
    cut = tokenize_pairs(tok, [prompt], [short], [long_], max_length=400)
    assert len(full[0].prompt_ids) > MAX_PROMPT_LENGTH and len(full[1].completion_ids) > 400
    for f, c in zip(full, cut):
        assert c.prompt_ids == f.prompt_ids[-MAX_PROMPT_LENGTH:]  # BOS cut off with the rest of the left
        assert c.completion_ids == f.completion_ids[: 400 - MAX_PROMPT_LENGTH]
    # the short chosen side is cut because of the rejected side's length (the pair is truncated together) ...
    assert len(cut[0].prompt_ids) == MAX_PROMPT_LENGTH
    # ... but alone it fits
    alone = tokenize(tok, [prompt], [short], max_length=400)[0]
    assert alone.prompt_ids == full[0].prompt_ids
    # sequences start with the doubled BOS (reference BOS + the template's) and end with the appended EOS
    assert full[0].prompt_ids[:2] == [tok.bos_token_id] * 2 and full[0].completion_ids[-1] == tok.eos_token_id


def test_boundary_merge_moves_token_to_completion():
    assert _split([5, 6, 7], [5, 6, 7, 8, 9], "x") == ([5, 6, 7], [8, 9])
    assert _split([5, 6, 7], [5, 6, 70, 9], "x") == ([5, 6], [70, 9])  # 7 merged into 70 across the boundary


def test_tokenizer_without_bos_uses_eos(dpo_models):
    """The reference sets bos_token_id = eos_token_id when a tokenizer has no BOS (e.g. Qwen)."""
    from transformers import AutoTokenizer

    from orchestrator.scoring.dpo_tokens import special_ids

    tok = AutoTokenizer.from_pretrained(dpo_models["tiny-dpo"])
    tok.bos_token = None
    seq = tokenize(tok, ["hi"], ["there"])[0]
    assert special_ids(tok) == (tok.eos_token_id, tok.eos_token_id)
    assert seq.prompt_ids[0] == tok.eos_token_id and seq.completion_ids[-1] == tok.eos_token_id


def test_best_of_n_columns(scorer, short_pairs):
    prompts, chosen, rejected = short_pairs
    lists = scorer.list_columns(
        prompts[:2], [[chosen[0]], [chosen[1], rejected[0]]], [[rejected[0], chosen[1]], [rejected[1]]]
    )
    single = scorer.columns._rewards(
        tokenize(scorer.tokenizer, [prompts[0]] * 3, [chosen[0], rejected[0], chosen[1]])
    )
    assert lists["scores_chosen"][0] == pytest.approx([single["score"][0]])
    assert lists["scores_rejected"][0] == pytest.approx(list(single["score"][1:]))
    best = 1 + int(np.argmax(single["score"][1:]))
    assert lists["logp_rejected"][0] == pytest.approx(single["logp"][best])
    assert lists["completion_tokens_chosen"][0] == single["completion_tokens"][0]


def test_errors(dpo_models, tmp_path):
    with pytest.raises(ModelError, match="cannot load causal LM"):
        make_scorer(
            model_spec(
                name="d", path=str(dpo_models["tiny-dpo"]), kind="dpo", reference=str(tmp_path / "nope")
            )
        )


def test_matches_rewardbench_run_dpo_per_example(scorer, dpo_models, filtered_path):
    """rewardbench 0.1.4 scripts/run_dpo.py on tiny-dpo vs tiny-dpo-ref (perf/reference/run_reference_dpo.sh):
    73 rows, the first 3 of every subset and the 4 longest pairs (5 of the 73 pairs are truncated)."""
    import hashlib
    import json

    summary = json.loads((FIXTURES / "reference" / "tiny-dpo.rewardbench-0.1.4.summary.json").read_text())
    for name, digest in summary["weights_sha256"].items():  # the same weights as the reference ran
        assert hashlib.sha256((dpo_models[name] / "model.safetensors").read_bytes()).hexdigest() == digest
    fixture = pq.read_table(FIXTURES / "reference" / "tiny-dpo.rewardbench-0.1.4.parquet").to_pydict()
    data = pq.read_table(filtered_path).to_pydict()
    rows = fixture["row_index"]
    assert [data["id"][i] for i in rows] == fixture["id"] and [data["subset"][i] for i in rows] == fixture[
        "subset"
    ]
    cols = scorer.pair_columns(
        [data["prompt"][i] for i in rows],
        [data["chosen"][i] for i in rows],
        [data["rejected"][i] for i in rows],
    )
    np.testing.assert_allclose(cols["score_chosen"], fixture["score_chosen"], rtol=1e-4, atol=5e-3)
    np.testing.assert_allclose(cols["score_rejected"], fixture["score_rejected"], rtol=1e-4, atol=5e-3)
    assert [int(x) for x in cols["correct"]] == fixture["result"]


def test_reference_free_modes_match_rewardbench_run_dpo(scorer, filtered_path):
    """run_dpo.py without --ref_model, --ref_free_type sum | avg | norm, on the same 73 rows: one pass of the
    policy's per-token log-probs, reduced by each mode as DPOColumns does."""
    from orchestrator.scoring.dpo import reduce_logps

    data = pq.read_table(filtered_path).to_pydict()
    fixtures = {
        m: pq.read_table(
            FIXTURES / "reference" / f"tiny-dpo.ref-free-{m}.rewardbench-0.1.4.parquet"
        ).to_pydict()
        for m in ("sum", "avg", "norm")
    }
    rows = fixtures["sum"]["row_index"]
    assert all(f["row_index"] == rows for f in fixtures.values())
    seqs = tokenize_pairs(
        scorer.tokenizer,
        [data["prompt"][i] for i in rows],
        [data["chosen"][i] for i in rows],
        [data["rejected"][i] for i in rows],
    )
    logps = scorer.completion_logps(scorer.model, seqs)
    n = len(rows)
    for mode, fixture in fixtures.items():
        got = np.asarray([reduce_logps(x, mode) for x in logps])
        np.testing.assert_allclose(got[:n], fixture["score_chosen"], rtol=1e-4, atol=5e-3, err_msg=mode)
        np.testing.assert_allclose(got[n:], fixture["score_rejected"], rtol=1e-4, atol=5e-3, err_msg=mode)
        assert [int(x) for x in got[:n] > got[n:]] == fixture["result"], mode
