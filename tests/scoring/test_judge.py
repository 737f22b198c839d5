"""Judge config, planning and records (handcrafted outputs), and the transformers JudgeScorer on the tiny judge."""

from __future__ import annotations

import pyarrow as pa
import pytest

from orchestrator.config import JobConfig, model_spec
from orchestrator.errors import ConfigError
from orchestrator.results.records import make_table
from orchestrator.scoring.judge_prompts import load_template
from orchestrator.scoring.judge_records import (
    JudgeSettings,
    pair_orders,
    pairwise_columns,
    plan_pairwise,
    plan_rubric,
    rubric_list_columns,
    rubric_pair_columns,
)

# ----------------------------------------------------------------- config


def _job(model: dict) -> dict:
    return {
        "name": "j",
        "benchmarks": [{"name": "reward-bench"}],
        "models": [{"name": "m", "path": "p", **model}],
    }


@pytest.mark.parametrize(
    "model, message",
    [
        ({"mode": "rubric"}, "models[0].mode: only for kind judge, not 'classifier'"),
        (
            {"kind": "dpo", "reference": "ref", "temperature": 0.5},
            "models[0].temperature: only for kind judge, not 'dpo'",
        ),
        ({"kind": "judge", "order": "both"}, "models[0]: order: only for mode pairwise"),
        ({"kind": "judge", "mode": "pairwise", "samples": 3}, "models[0]: samples: only for mode rubric"),
        ({"kind": "judge", "samples": 3}, "models[0]: samples: more than one draw needs temperature > 0"),
        ({"kind": "judge", "top_p": 0.9}, "models[0]: top_p: needs temperature > 0"),
        (
            {"kind": "judge", "mode": "vote"},
            "models[0].mode: Input should be 'rubric', 'pairwise' or 'four-way'",
        ),
        ({"kind": "judge", "order": "sometimes", "mode": "pairwise"}, "models[0].order: Input should be"),
        ({"kind": "judge", "samples": 0}, "models[0].samples: Input should be greater than or equal to 1"),
        (
            {"kind": "judge", "template": "/no/such/file.jinja"},
            "models[0].template: judge template file not found",
        ),
        ({"kind": "judge", "judge_mode": "rubric"}, "models[0].judge_mode: unknown key"),
    ],
)
def test_judge_keys_are_validated_with_their_path(model, message):
    with pytest.raises(ConfigError) as err:
        JobConfig.from_dict(_job(model), source="job.yaml")
    assert f"job.yaml: {message}" in str(err.value)


def test_judge_defaults():
    s = JudgeSettings.from_spec(model_spec(name="m", path="p", kind="judge"))
    assert (s.mode, s.samples, s.temperature, s.top_p, s.seed, s.max_new_tokens, s.order) == (
        "rubric",
        1,
        0.0,
        1.0,
        0,
        512,
        None,
    )
    s = JudgeSettings.from_spec(model_spec(name="m", path="p", kind="judge", mode="pairwise"))
    assert s.order == "random" and s.greedy
    spec = model_spec(name="m", path="p", kind="judge", samples=3, temperature=0.7, top_p=0.9, seed=5)
    assert JudgeSettings.from_spec(spec).samples == 3


# ----------------------------------------------------------------- planning and records on handcrafted outputs


def test_rubric_records_from_handcrafted_outputs():
    settings = JudgeSettings(mode="rubric", samples=3, temperature=1.0)
    plan = plan_rubric(
        settings,
        load_template("rubric"),
        ["q1", "q2", "q3"],
        [
            [("chosen", "c1"), ("rejected", "r1")],
            [("chosen", "c2"), ("rejected", "r2")],
            [("chosen", "c3"), ("rejected", "r3")],
        ],
    )
    assert [(r.example, r.target, r.sample) for r in plan[:4]] == [
        (0, "chosen", 0),
        (0, "chosen", 1),
        (0, "chosen", 2),
        (0, "rejected", 0),
    ]
    assert len({r.seed for r in plan}) == len(plan)  # every draw its own stream
    texts = [
        "Score: 4",
        "Score: 5",
        "garbage",  # chosen 1: (4 + 5) / 2, the failure left out
        "Score: 2",
        "Score: 2",
        "Score: 3",  # rejected 1: 7/3
        "Score: 3",
        "Score: 3",
        "Score: 3",  # chosen 2: 3
        "Score: 3",
        "Score: 3",
        "Score: 3",  # rejected 2: 3 -> a tie is wrong
        "no",
        "nope",
        "Score: 9",  # chosen 3: all failed -> null, wrong
        "Score: 0",
        "Score: 0",
        "Score: 0",
    ]
    cols = rubric_pair_columns(plan, texts, 3)
    assert cols["score_chosen"] == [4.5, 3.0, None]
    assert cols["score_rejected"][0] == pytest.approx(7 / 3) and cols["score_rejected"][1:] == [3.0, 0.0]
    assert cols["correct"] == [True, False, False]
    assert cols["parse_failures"] == [1, 0, 3]
    assert cols["position_consistent"] == [None, None, None]
    first = cols["judge_outputs"][0]
    assert first[2] == {
        "target": "chosen",
        "order": None,
        "sample": 2,
        "text": "garbage",
        "parsed": None,
        "member": None,
        "cached": False,
        "label": None,
        "fallback": None,
    }
    # the columns fit the record schema as they are
    table = make_table(
        {
            "schema_version": [3] * 3,
            "run_id": ["r"] * 3,
            "benchmark": ["b"] * 3,
            "model": ["m"] * 3,
            "kind": ["judge"] * 3,
            "subset": ["s"] * 3,
            "example_id": [0, 1, 2],
            "row_index": [0, 1, 2],
            "shard": [0] * 3,
            **cols,
        }
    )
    assert table.column("judge_outputs").type == pa.list_(table.schema.field("judge_outputs").type.value_type)
    assert table.column("judge_outputs").to_pylist()[0][0]["text"] == "Score: 4"


def test_pairwise_both_orders_records():
    settings = JudgeSettings(mode="pairwise", order="both")
    plan = plan_pairwise(
        settings,
        load_template("pairwise"),
        ["q"] * 5,
        [f"c{i}" for i in range(5)],
        [f"r{i}" for i in range(5)],
    )
    assert [(r.example, r.order) for r in plan[:2]] == [(0, "AB"), (0, "BA")]
    assert "c0" in plan[0].instruction and plan[0].instruction.index("c0") < plan[0].instruction.index("r0")
    assert plan[1].instruction.index("r0") < plan[1].instruction.index("c0")
    texts = [
        "[[A]]",
        "[[B]]",  # chosen wins in both orders -> 1, consistent
        "[[B]]",
        "[[A]]",  # rejected wins in both -> 0, consistent
        "[[A]]",
        "[[A]]",  # always A: position bias -> 0.5, inconsistent
        "[[A]]",
        "???",  # one unparseable -> 0.5, consistency unknown
        "x",
        "[[A]] [[B]]",
    ]  # both unparseable -> 0.5
    cols = pairwise_columns(plan, texts, 5)
    assert cols["score_chosen"] == [1.0, 0.0, 0.5, 0.5, 0.5]
    assert cols["score_rejected"] == [0.0, 1.0, 0.5, 0.5, 0.5]
    assert cols["correct"] == [True, False, False, False, False]
    assert cols["position_consistent"] == [True, True, False, None, None]
    assert cols["parse_failures"] == [0, 0, 0, 1, 2]
    assert [o["parsed"] for o in cols["judge_outputs"][2]] == [1.0, 0.0]


def test_pairwise_random_order_is_seeded_and_balanced():
    settings = JudgeSettings(mode="pairwise", order="random", seed=7)
    prompts, chosen, rejected = (
        [f"q{i}" for i in range(400)],
        [f"c{i}" for i in range(400)],
        [f"r{i}" for i in range(400)],
    )
    orders = [pair_orders(settings, p, c, r)[0] for p, c, r in zip(prompts, chosen, rejected)]
    assert 150 < orders.count("BA") < 250  # a fair coin
    assert orders == [pair_orders(settings, p, c, r)[0] for p, c, r in zip(prompts, chosen, rejected)]
    other = [
        pair_orders(JudgeSettings(mode="pairwise", order="random", seed=8), p, c, r)[0]
        for p, c, r in zip(prompts, chosen, rejected)
    ]
    assert other != orders
    assert {pair_orders(JudgeSettings(mode="pairwise", order="fixed"), "q", "c", "r")[0]} == {"AB"}
    plan = plan_pairwise(settings, load_template("pairwise"), prompts[:50], chosen[:50], rejected[:50])
    # a swapped example: "[[A]]" picks the rejected response
    texts = ["[[A]]"] * 50
    cols = pairwise_columns(plan, texts, 50)
    assert cols["score_chosen"] == [0.0 if r.order == "BA" else 1.0 for r in plan]
    assert cols["position_consistent"] == [None] * 50


def test_rubric_best_of_n_records():
    settings = JudgeSettings(mode="rubric")
    plan = plan_rubric(
        settings,
        load_template("rubric"),
        ["q", "q2"],
        [
            [("chosen:0", "a"), ("rejected:0", "b"), ("rejected:1", "c")],
            [("chosen:0", "a"), ("rejected:0", "b"), ("rejected:1", "c")],
        ],
    )
    cols = rubric_list_columns(
        plan, ["Score: 5", "Score: 3", "oops", "Score: 4", "Score: 4", "Score: 1"], [1, 1], [2, 2]
    )
    assert cols["scores_chosen"] == [[5.0], [4.0]]
    assert cols["scores_rejected"] == [[3.0, None], [4.0, 1.0]]
    assert cols["score_rejected"] == [3.0, 4.0]
    assert cols["correct"] == [False, False]  # an unscored completion, then a tie
    assert cols["parse_failures"] == [1, 0]


# ----------------------------------------------------------------- the transformers judge on the tiny model

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku.",
    ["hi", "hello!", "add 2 and 2"],
    "Explain photosynthesis.",
]
CHOSEN = ["Paris.", "An old silent pond.", "4", "Plants turn light into chemical energy."]
REJECTED = ["London.", "no", "5", "Magic."]


def _scorer(tiny_models, **judge):
    from orchestrator.scoring import make_scorer

    return make_scorer(
        model_spec(
            name="tiny-judge", path=str(tiny_models["tiny-judge"]), kind="judge", max_new_tokens=12, **judge
        )
    )


def test_garbage_judge_rubric_records_parse_failures(tiny_models):
    scorer = _scorer(tiny_models, mode="rubric")
    assert scorer.backend == "transformers" and scorer.info.num_parameters > 0
    cols = scorer.pair_columns(PROMPTS, CHOSEN, REJECTED)
    assert cols["parse_failures"] == [2, 2, 2, 2]  # a random tiny LM never writes "Score: N"
    assert cols["score_chosen"] == [None] * 4 and cols["correct"] == [False] * 4
    outs = cols["judge_outputs"][0]
    assert [(o["target"], o["sample"], o["parsed"]) for o in outs] == [
        ("chosen", 0, None),
        ("rejected", 0, None),
    ]
    assert all(isinstance(o["text"], str) and o["text"] for o in outs)
    assert cols["tokens_chosen"][2] >= 1 and cols["tokens_rejected"][1] >= 1


def test_fingerprint_covers_the_judging_protocol(tiny_models, tmp_path):
    base = _scorer(tiny_models, mode="rubric")
    assert base.info.fingerprint.startswith(base.info.extra["model_fingerprint"] + "+judge:")
    assert _scorer(tiny_models, mode="rubric").info.fingerprint == base.info.fingerprint
    custom = tmp_path / "rubric.jinja"
    custom.write_text(base.template.text + " ")
    others = [
        _scorer(tiny_models, mode="pairwise"),
        _scorer(tiny_models, mode="rubric", seed=1),
        _scorer(tiny_models, mode="rubric", template=str(custom)),
    ]
    assert len({base.info.fingerprint, *(o.info.fingerprint for o in others)}) == 4


def test_garbage_judge_pairwise_counts_half(tiny_models):
    cols = _scorer(tiny_models, mode="pairwise", order="both").pair_columns(PROMPTS, CHOSEN, REJECTED)
    assert cols["score_chosen"] == [0.5] * 4 and cols["parse_failures"] == [2] * 4
    assert [[o["order"] for o in outs] for outs in cols["judge_outputs"]] == [["AB", "BA"]] * 4
    assert cols["position_consistent"] == [None] * 4


def test_reruns_and_batchings_repeat_the_outputs(tiny_models):
    sampled = dict(mode="rubric", samples=2, temperature=1.0, seed=3)
    a = _scorer(tiny_models, **sampled).pair_columns(PROMPTS, CHOSEN, REJECTED)
    b = _scorer(tiny_models, batch_tokens=1, **sampled)  # one request per batch
    b_cols = b.pair_columns(PROMPTS[::-1], CHOSEN[::-1], REJECTED[::-1])  # another order, other batch mates
    assert a["judge_outputs"] == b_cols["judge_outputs"][::-1]
    texts = [o["text"] for outs in a["judge_outputs"] for o in outs]
    assert len(set(texts)) > len(texts) // 2  # draws differ from one another
    c = _scorer(tiny_models, mode="rubric", samples=2, temperature=1.0, seed=4).pair_columns(
        PROMPTS, CHOSEN, REJECTED
    )
    assert [o["text"] for outs in c["judge_outputs"] for o in outs] != texts
    greedy = _scorer(tiny_models, mode="rubric").pair_columns(PROMPTS, CHOSEN, REJECTED)
    assert greedy == _scorer(tiny_models, mode="rubric", batch_tokens=1).pair_columns(
        PROMPTS, CHOSEN, REJECTED
    )


def test_greedy_generation_matches_transformers_generate(tiny_models):
    """The batched KV-cache loop computes what ``model.generate`` does, one prompt at a time."""
    import torch

    scorer = _scorer(tiny_models, mode="pairwise", order="fixed")
    plan = plan_pairwise(scorer.settings, scorer.template, PROMPTS, CHOSEN, REJECTED)
    ids = scorer.prompt_ids(plan)
    ours = scorer.generate_ids(ids, [r.seed for r in plan])
    for prompt, got in zip(ids, ours):
        ref = scorer.model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            max_new_tokens=12,
            do_sample=False,
            pad_token_id=scorer.tokenizer.pad_token_id,
        )
        ref = [t for t in ref[0, len(prompt) :].tolist()]
        if scorer.tokenizer.eos_token_id in ref:
            ref = ref[: ref.index(scorer.tokenizer.eos_token_id)]
        assert got == ref


def test_best_of_n_rubric_and_pairwise_refusal(tiny_models):
    from orchestrator.errors import ModelError

    cols = _scorer(tiny_models, mode="rubric").list_columns(["q"], [["a", "b"]], [["c"]])
    assert [o["target"] for o in cols["judge_outputs"][0]] == ["chosen:0", "chosen:1", "rejected:0"]
    assert (
        cols["scores_chosen"] == [[None, None]]
        and cols["parse_failures"] == [3]
        and cols["correct"] == [False]
    )
    with pytest.raises(ModelError, match="needs `mode: rubric`"):
        _scorer(tiny_models, mode="pairwise").list_columns(["q"], [["a", "b"]], [["c"]])


def test_rubric_rates_a_row_with_no_chosen_completion(tiny_models):
    """PPE correctness rows may have no correct response: a rubric judge still rates every completion."""
    cols = _scorer(tiny_models, mode="rubric").list_columns(["q", "p"], [[], ["a"]], [["c", "d"], ["e"]])
    assert cols["chosen"] == [None, "a"] and cols["texts_chosen"] == [[], ["a"]]
    assert [o["target"] for o in cols["judge_outputs"][0]] == ["rejected:0", "rejected:1"]
    assert cols["scores_chosen"][0] == [] and len(cols["scores_rejected"][0]) == 2
