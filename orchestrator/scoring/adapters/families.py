"""The shipped adapter declarations (see :mod:`orchestrator.scoring.adapters`), in ``auto`` priority order.

Each mirrors the reference's ``REWARD_MODEL_CONFIG`` entry and pipeline for the family (rewardbench 0.1.4).
"""

from __future__ import annotations

from orchestrator.scoring.adapters import Adapter, register_adapter

REFERENCE_CHECK = (
    "replica built with the reference's model class, run_rm.py --not_quantized --torch_dtype float32 on the first "
    "2 rows of every v1 subset: every `correct` equal, scores within 1e-4 (tests/scoring/adapters/)"
)

register_adapter(
    Adapter(
        name="grm-sftreg",
        family="GRM sftreg (value head)",
        covers=(
            "Ray2333/GRM-Gemma-2B-sftreg",
            "Ray2333/GRM-llama3-8B-sftreg",
            "Ray2333/GRM-Gemma2-2B-sftreg",
            "Ray2333/GRM-llama3.2-3B-sftreg",
        ),
        head="value-head",
        head_tensors=("v_head.summary.",),
        architectures=("GRewardModel",),
        pooling="last",
        quantized=False,
        verified=REFERENCE_CHECK,
        notes="GRMPipeline: no doubled-BOS masking; the value head (linear or MLP, read from the tensors) at the "
        "last attended token.",
    )
)

register_adapter(
    Adapter(
        name="starling",
        family="Starling RM (v_head at the token before the first pad id 0)",
        covers=("Nexusflow/Starling-RM-34B",),
        head="v-head-first-pad",
        base_prefix="transformer.",
        head_tensors=("v_head.",),
        pooling="before-first-pad",
        pad_id=0,
        quantized=True,
        verified=REFERENCE_CHECK,
        notes="StarlingPipeline: the reference hard-codes PAD_ID = 0 and reads the token before its first "
        "occurrence; a sequence starting with id 0 has no such token in the reference either (it reads the "
        "batch's last column) and is an error here. berkeley-nest/Starling-RM-7B-alpha (a .pt head over "
        "meta-llama/Llama-2-7b-chat-hf) is not covered.",
    )
)

register_adapter(
    Adapter(
        name="ultrarm",
        family="UltraRM (regression head at the last attended token)",
        covers=("openbmb/UltraRM-13b",),
        head="regression-head",
        head_tensors=("regression_head.",),
        architectures=("LlamaRewardModel",),
        pooling="last",
        conversation_template="openbmb",
        quantized=True,
        verified=REFERENCE_CHECK,
        notes="OpenBMBPipeline: no doubled-BOS masking.",
    )
)

register_adapter(
    Adapter(
        name="eurus-rm",
        family="Eurus-RM (Mistral, regression head at the last attended token)",
        covers=("openbmb/Eurus-RM-7b",),
        head="regression-head",
        head_tensors=("regression_head.",),
        architectures=("EurusRewardModel",),
        pooling="last",
        conversation_template="openbmb",
        quantized=True,
        verified="not against the reference: its model class is the checkpoint's remote code (not obtainable "
        "offline); implemented from the published modeling file (MistralModel + bias-free regression_head read "
        "at attention_mask.cumsum().argmax()), the UltraRM layout that is verified",
        notes="the reference loads it with AutoModel + trust_remote_code; Rayward needs no remote code.",
    )
)

for _name, _sign, _covers, _check in (
    (
        "beaver-reward",
        1,
        ("PKU-Alignment/beaver-7b-v1.0-reward", "PKU-Alignment/beaver-7b-v2.0-reward"),
        REFERENCE_CHECK,
    ),
    (
        "beaver-cost",
        -1,
        ("PKU-Alignment/beaver-7b-v1.0-cost", "PKU-Alignment/beaver-7b-v2.0-cost"),
        REFERENCE_CHECK,
    ),
):
    register_adapter(
        Adapter(
            name=_name,
            family="beaver "
            + _name.split("-")[1]
            + (" (end score, negated)" if _sign < 0 else " (end score)"),
            covers=_covers,
            head="score-head",
            head_tensors=("score_head.",),
            architectures=("LlamaForScore",),
            pooling="last",
            sign=_sign,
            conversation_template="pku-align",
            quantized=True,
            verified=_check,
            notes="safe-rlhf LlamaForScore: end score at the last attended token (normalised when the config sets "
            "do_normalize); BeaverCostPipeline negates it. `auto` tells them apart by config.json score_type.",
            extra={
                "score_type": "cost" if _sign < 0 else "reward",
                "ignore_tensors": ("lm_head.weight",),
                "aux_tensors": ("normalizer.",),
            },
        )
    )

register_adapter(
    Adapter(
        name="inf-orm",
        family="INF-ORM (MLP score head)",
        covers=("infly/INF-ORM-Llama3.1-70B",),
        head="mlp-score",
        head_tensors=("score.0.", "score."),
        architectures=("INFORMForSequenceClassification",),
        pooling="before-first-pad",
        mask_doubled_bos=True,
        dtype="bfloat16",
        quantized=False,
        verified=REFERENCE_CHECK,
        notes="RewardBenchPipeline (doubled BOS masked); the score MLP (Linear-ReLU-Linear) at the token before "
        "the first pad id, as transformers 4.x pooled (with pad = eos that is the first EOS).",
    )
)

register_adapter(
    Adapter(
        name="oasst-pythia",
        family="OpenAssistant pythia reward (gpt_neox_reward_model)",
        covers=(
            "OpenAssistant/oasst-rm-2.1-pythia-1.4b-epoch-2.5",
            "OpenAssistant/oasst-rm-2-pythia-6.9b-epoch-1",
        ),
        head="out-proj",
        base_prefix="gpt_neox.",
        head_tensors=("out_proj.",),
        architectures=("GPTNeoXRewardModel",),
        model_types=("gpt_neox_reward_model",),
        pooling="last",
        mask_doubled_bos=True,
        conversation_template="oasst_pythia",
        quantized=True,
        verified=REFERENCE_CHECK,
        notes="pooling `last` only: the reference's `mean` pooling multiplies [B,T,H] by [B,T] and fails.",
    )
)

register_adapter(
    Adapter(
        name="ziya",
        family="Ziya LLaMA reward (sequence classifier, fp16)",
        covers=("IDEA-CCNL/Ziya-LLaMA-7B-Reward",),
        conversation_template="Ziya",
        dtype="float16",
        quantized=False,
        verified="not against the reference: ZiyaPipeline calls .half().cuda() (no CPU run) and returns the "
        "model output object, which run_rm.py 0.1.4 cannot read (it calls .float() on it)",
        notes="AutoModelForSequenceClassification, no doubled-BOS masking, float16 as ZiyaPipeline.",
    )
)

register_adapter(
    Adapter(
        name="armorm",
        family="ArmoRM (multi-objective, gating; remote code)",
        covers=("RLHFlow/ArmoRM-Llama3-8B-v0.1",),
        dtype="bfloat16",
        quantized=False,
        verified="not against the reference: the model class is the checkpoint's remote code, and run_rm.py 0.1.4 "
        "runs ArmoRM as a `Custom Classifier` over a default-collated batch, which fails before scoring",
        notes="needs `trust_remote_code: true`; ArmoRMPipeline: no doubled-BOS masking, the output's logits.",
    )
)

register_adapter(
    Adapter(
        name="rlhflow-pair",
        family="RLHFlow pair-preference (causal LM, softmax over the A/B tokens, both orders averaged)",
        covers=("RLHFlow/pair-preference-model-LLaMA3-8B",),
        head="lm-ab-tokens",
        input_rule="pair",
        quantized=True,
        verified="replica (tiny causal Llama) through the reference's SlicPairPMPipeline over the first 2 rows of "
        "every v1 subset: every `correct` equal, both orders' A/B logits within 1e-4 (tests/scoring/test_pairwise.py)",
        notes="kind: pairwise. `[CONTEXT] {context} [RESPONSE A] {a} [RESPONSE B] {b} \\n` as the user turn of the "
        "model's chat template with every BOS string removed, no truncation; P(chosen) = softmax over the last "
        "position's A and B logits, averaged over both orders; correct when > 0.5.",
    )
)

PAIR_CHECK = (
    "replica built with the reference's own class, run_rm.py --not_quantized --torch_dtype float32 on the first 2 "
    "rows of every v1 subset, outputs recorded in-process: every `correct` equal, both orders' outputs within 1e-4 "
    "(tests/scoring/test_pairrm.py, test_steamshp.py)"
)

for _pair_name, _family, _pair_ids, _extra, _notes in (
    (
        "pairrm",
        "PairRM (DeBERTa-v2 pair ranker; A-B minus B-A logits)",
        ("llm-blender/PairRM-hf",),
        {"format": "pairrm", "source_max": 1224, "candidate_max": 412},
        "PairRMPipeline: `USER: ... Assistant: <Response k>` context (1224 tokens) and `<Response k>: ...` "
        "candidates ((2048 - context) // 2 tokens each) after their marker tokens; the logit of chosen-first "
        "minus the logit of rejected-first, chosen wins when > 0. llm-blender/PairRM (the llm-blender package's "
        "own format) is not covered: the reference runs the -hf conversion.",
    ),
    (
        "better-pairrm",
        "Better-PairRM (DeBERTa-v2 pair ranker; A-B minus B-A logits)",
        ("mightbe/Better-PairRM",),
        {"format": "better-pairrm", "source_max": 2030, "candidate_max": 670},
        "BetterPairRMPipeline: `USER:` / `ASSISTANT:` context cut to 2030 tokens from the left and candidates to "
        "670 (text round trip through the tokenizer), then (3370 - context) // 2 tokens per candidate; combined as "
        "PairRM. Its config.json names the same architecture as PairRM: a local copy not laid out under its hub "
        "id needs `adapter: better-pairrm`.",
    ),
):
    register_adapter(
        Adapter(
            name=_pair_name,
            family=_family,
            covers=_pair_ids,
            head="pair-ranker",
            base_prefix="pretrained_model.",
            head_tensors=("head_layer.",),
            architectures=("DebertaV2PairRM",),
            input_rule="pair",
            quantized=True,
            verified=PAIR_CHECK,
            notes="kind: pairwise. " + _notes,
            extra=_extra,
        )
    )

register_adapter(
    Adapter(
        name="steamshp",
        family="SteamSHP (T5 naming the better response; both orders, the reference draws one at random)",
        covers=("stanfordnlp/SteamSHP-flan-t5-xl", "stanfordnlp/SteamSHP-flan-t5-large"),
        head="seq2seq-ab-token",
        input_rule="pair",
        quantized=True,
        verified=PAIR_CHECK
        + "; the reference's unseeded random order made deterministic: seeded (random.seed(0)) "
        "and fixed to each order",
        notes="kind: pairwise. SHPPipeline: `POST: ... RESPONSE A: ... RESPONSE B: ... Which response is better? "
        "RESPONSE`, one greedy token, A wins when it decodes to exactly `A`. The reference shows each pair in one "
        "order drawn at random (unseeded); Rayward scores both and credits the mean of the two verdicts (1, 0.5, 0: "
        "the reference's expected result).",
    )
)

register_adapter(
    Adapter(
        name="multi-label",
        family="sequence classifier with several labels (lists compared)",
        mask_doubled_bos=True,
        multi_label=True,
        verified="by the default classifier path's reference check plus the list rule (Python list comparison) "
        "in tests/scoring/adapters/test_adapters.py",
        notes="the reference compares chosen and rejected logit lists lexicographically; records keep the first "
        "logit as the score.",
    )
)

register_adapter(
    Adapter(
        name="classifier",
        family="sequence classifier (AutoModelForSequenceClassification, one label)",
        mask_doubled_bos=True,
        verified="tests/scoring/test_classifier.py against run_rm.py on the full v1 split (docs/reference-crosscheck.md)",
        notes="the default: the raw logit is the score; a doubled BOS is masked (RewardBenchPipeline).",
    )
)
