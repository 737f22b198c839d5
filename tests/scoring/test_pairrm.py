"""PairRM and Better-PairRM (kind: pairwise) against the reference, per example.

Fixtures from ``perf/reference/run_reference_pair_families.sh``: tiny random-weight ``DebertaV2PairRM`` replicas
(the reference's own class; a tiny SentencePiece ``DebertaV2TokenizerFast`` with the three marker tokens) saved as
``llm-blender/PairRM-hf`` and ``mightbe/Better-PairRM``, run by the reference's run_rm.py
(``--not_quantized --torch_dtype float32``, Better-PairRM with its ``--max_length 3370``) over the first 2 rows of
every v1 subset, with every model call's input ids and logits recorded in-process (AB = chosen as candidate 1).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES

ADAPTERS = FIXTURES / "reference" / "adapters"
REPLICAS = {
    "pairrm": ADAPTERS / "replicas" / "llm-blender" / "PairRM-hf",
    "better-pairrm": ADAPTERS / "replicas" / "mightbe" / "Better-PairRM",
}


def _sha1(ids) -> str:
    return hashlib.sha1(json.dumps(list(ids)).encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def rows(filtered_path):
    ref = pq.read_table(ADAPTERS / "pairrm.rewardbench-0.1.4.parquet").to_pydict()
    data = pq.read_table(filtered_path).to_pylist()
    return [data[i] for i in ref["row_index"]]


@pytest.mark.parametrize("family", sorted(REPLICAS))
def test_pairrm_family_matches_reference_per_example(family, rows):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    ref = pq.read_table(ADAPTERS / f"{family}.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23
    scorer = make_scorer(model_spec(name=family, path=str(REPLICAS[family]), kind="pairwise"))
    assert scorer.adapter.name == family  # auto, from the hub id in the path
    prompts, chosen, rejected = ([r[k] for r in rows] for k in ("prompt", "chosen", "rejected"))
    # the inputs, token for token, in both orders
    for order, (first, second) in (("ab", (chosen, rejected)), ("ba", (rejected, chosen))):
        seqs = [
            scorer.input_ids(p, a, b, f"row {i}") for i, (p, a, b) in enumerate(zip(prompts, first, second))
        ]
        assert [len(s) for s in seqs] == ref[f"tokens_{order}"]
        assert [_sha1(s) for s in seqs] == ref[f"sha1_{order}"]
    cols = scorer.pair_columns(prompts, chosen, rejected)
    raw = np.asarray(
        [[o["parsed"] for o in outs] for outs in cols["judge_outputs"]]
    )  # A, B (AB) then A, B (BA)
    np.testing.assert_allclose(raw[:, 0] - raw[:, 1], ref["logit_ab"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(raw[:, 2] - raw[:, 3], ref["logit_ba"], atol=1e-4, rtol=0)
    np.testing.assert_array_equal(cols["correct"], np.asarray(ref["result"]) == 1)
    delta = np.asarray(ref["logit_ab"]) - np.asarray(ref["logit_ba"])
    np.testing.assert_allclose(cols["score_chosen"], delta, atol=1e-4, rtol=0)
    np.testing.assert_allclose(cols["score_rejected"], -np.asarray(cols["score_chosen"]))
    assert np.abs(delta).min() > 2e-6  # every verdict has a margin well above the float error (~2e-7)
    assert [o["order"] for o in cols["judge_outputs"][0]] == ["AB", "AB", "BA", "BA"]


def test_better_pairrm_context_and_truncation(rows):
    """Better-PairRM's own template for multi-turn and system turns (the expected text is what the reference's
    template renders for these turns, checked once in the reference venv), and its long-context cuts (left for the
    context, right for the candidates)."""
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.pairrm import better_pairrm_context

    msgs = [
        {"role": "system", "content": " be brief "},
        {"role": "user", "content": "hi\n"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"},
    ]
    assert better_pairrm_context(msgs) == (
        "SYSTEM MESSAGE: be brief\n    \n    USER: hi\n    \n    ASSISTANT: hello\n    \n    USER: bye\n    \n    "
        "ASSISTANT: "
    )
    scorer = make_scorer(model_spec(name="b", path=str(REPLICAS["better-pairrm"]), kind="pairwise"))
    long = " ".join(r["chosen"] for r in rows) * 3
    ids = scorer.input_ids(long, long, "short", "row 0")
    src, c1, c2 = scorer.marker_ids
    assert ids.index(c1) <= 2030 and len(ids) <= 3370
    # the context keeps its end (left cut): its tokens end with the generation prompt
    tail = scorer.tokenizer.decode(ids[ids.index(src) + 1 : ids.index(c1)], skip_special_tokens=True)
    assert tail.rstrip().endswith("ASSISTANT:")


def test_pairrm_checkpoint_as_classifier_is_refused():
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    with pytest.raises(ModelError, match="set kind: pairwise"):
        make_scorer(model_spec(name="c", path=str(REPLICAS["pairrm"])))


def test_pairrm_auto_from_config_architectures(tmp_path):
    """A local copy not under the hub id: ``auto`` reads config.json's DebertaV2PairRM (PairRM's format)."""
    import shutil

    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    local = tmp_path / "my-ranker"
    shutil.copytree(REPLICAS["pairrm"], local)
    assert make_scorer(model_spec(name="p", path=str(local), kind="pairwise")).adapter.name == "pairrm"


# perf/reference/pair_families_reference.py LONG_CASES: each text = the slice's texts of those rows, space-joined
LONG_CASES = {
    "long-prompt": ((0, 46), (0, 1), (1, 2)),
    "long-candidates": ((0, 1), (0, 46), (10, 46)),
    "all-long": ((0, 46), (0, 46), (5, 46)),
}


@pytest.mark.parametrize("family", ["pairrm", "better-pairrm", "steamshp"])
def test_cuts_of_over_long_inputs_match_the_reference(family, rows):
    """Every cut binds: the reference's own input construction (tokenize_conv_pair of each PairRM pipeline,
    SHPPipeline's tokenizer call) on over-long texts, recorded as token ids by the recipe."""
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.steamshp import shp_text

    ref = json.loads((ADAPTERS / "pair-families-truncation.rewardbench-0.1.4.json").read_text())
    path = REPLICAS.get(family, ADAPTERS / "replicas" / "stanfordnlp" / "SteamSHP-flan-t5-large")
    scorer = make_scorer(model_spec(name=family, path=str(path), kind="pairwise"))
    for case, ((p0, p1), (c0, c1), (r0, r1)) in LONG_CASES.items():
        prompt = " ".join(r["prompt"] for r in rows[p0:p1])
        chosen = " ".join(r["chosen"] for r in rows[c0:c1])
        rejected = " ".join(r["rejected"] for r in rows[r0:r1])
        if family == "steamshp":
            seqs = scorer.encode([shp_text(prompt, chosen, rejected, case)])
        else:
            seqs = [
                scorer.input_ids(prompt, chosen, rejected, case),
                scorer.input_ids(prompt, rejected, chosen, case),
            ]
        assert [{"tokens": len(s), "sha1": _sha1(s)} for s in seqs] == ref[f"{family}/{case}"], case


def test_a_text_holding_a_marker_token_is_an_error():
    """The reference's torch.where over the marker ids would misalign such a batch; here it names the example."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer

    scorer = make_scorer(model_spec(name="p", path=str(REPLICAS["pairrm"]), kind="pairwise"))
    with pytest.raises(ModelError, match=r"example 1: the input holds 2 <\|candidate1\|> tokens"):
        scorer.pair_columns(["q", "q"], ["fine", "see <|candidate1|>"], ["no", "no"])
