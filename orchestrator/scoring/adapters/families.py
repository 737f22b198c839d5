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

REMOTE_CHECK = (
    "replica built with the checkpoint's published modeling file (the remote code the reference loads), run_rm.py "
    "--trust_remote_code --not_quantized --torch_dtype float32 plus the reference eval config's flags, first 2 rows "
    "of every v1 subset: every `correct` equal, scores within 1e-4 (tests/scoring/adapters/test_remote_families.py)"
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
        conversation_template="mistral",
        quantized=True,
        verified=REMOTE_CHECK,
        notes="the reference loads the checkpoint's remote code (AutoModel, EurusRewardModel) through "
        "OpenBMBPipeline; Rayward reads it natively. Template `mistral` as the reference's eval config.",
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
        family="Ziya LLaMA reward (value head at the last attended token, fp16)",
        covers=("IDEA-CCNL/Ziya-LLaMA-7B-Reward",),
        head="regression-head",
        head_tensors=("value_head.",),
        architectures=("LlamaRewardModel",),
        pooling="last",
        conversation_template="Ziya",
        dtype="float16",
        quantized=False,
        verified=REMOTE_CHECK,
        notes="the checkpoint's remote-code LlamaRewardModel: a bias-free value_head (1 or model_parallel_size "
        "outputs, averaged) at the last attended token; ZiyaPipeline: float16, no doubled-BOS masking.",
        extra={"reduce": "mean"},
    )
)

register_adapter(
    Adapter(
        name="armorm",
        family="ArmoRM (multi-objective rewards, gating network at the last assistant header)",
        covers=("RLHFlow/ArmoRM-Llama3-8B-v0.1",),
        head="armo-gating",
        head_tensors=("regression_layer.", "gating.", "reward_transform_matrix"),
        architectures=("LlamaForRewardModelWithGating",),
        pooling="before-first-pad",
        dtype="bfloat16",
        quantized=False,
        verified=REMOTE_CHECK
        + "; run_rm.py 0.1.4's `Custom Classifier` branch cannot call ArmoRMPipeline, so "
        "the reference run takes its classifier branch (model_type overridden in-process); --max_length 4096 on "
        "both sides (the replica tokenizer's long rows)",
        notes="the checkpoint's remote-code LlamaForRewardModelWithGating read natively: rewards at the token "
        "before the first pad id, the gate at the last <|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n; "
        "ArmoRMPipeline: no doubled-BOS masking, bfloat16.",
    )
)

register_adapter(
    Adapter(
        name="oasst-deberta",
        family="OpenAssistant DeBERTa reward (sequence classifier, raw text)",
        covers=(
            "OpenAssistant/reward-model-deberta-v3-large-v2",
            "OpenAssistant/reward-model-deberta-v3-large",
            "OpenAssistant/reward-model-deberta-v3-base",
        ),
        conversation_template="raw",
        mask_doubled_bos=True,
        verified="the default classifier path (run_rm.py's RewardBenchPipeline) with the `raw` template, which "
        "matches fastchat byte for byte (tests/scoring/test_chat_templates.py)",
        notes="template `raw` (prompt and completion concatenated) as the reference's eval config.",
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
        "logit as the score and every logit in judge_outputs.",
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

register_adapter(
    Adapter(
        name="qrm",
        family="QRM (quantile regression, gating at the last Llama-3 assistant header)",
        covers=("nicolinho/QRM-Llama3.1-8B", "nicolinho/QRM-Llama3-8B"),
        head="qrm-gating",
        architectures=("LlamaForRewardModelWithGating31", "LlamaForRewardModelWithGating3"),
        pooling="before-first-pad",
        mask_doubled_bos=True,
        quantized=False,
        verified=REFERENCE_CHECK + "; a 128,010-id vocabulary carries the Llama-3 header ids",
        notes="RewardBenchPipeline (doubled BOS masked); quantiles at the token before the first pad id (pad = eos "
        "when the tokenizer has none), the gating network at the first token of the last "
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n (ids 128009 128006 78191 128007 271); an input "
        "without it is an error, as in the reference. The reference's from_pretrained drops run_rm.py's "
        "torch_dtype (the weights load in float32) and forces flash-attention 2.",
    )
)

register_adapter(
    Adapter(
        name="ldl-reward",
        family="LDL-Reward (label-distribution regression + gating MLPs)",
        covers=("ShikaiChen/LDL-Reward-Gemma-2-27B-v0.1",),
        head="ldl-gating",
        architectures=("LDLRewardModel27B",),
        pooling="before-first-pad",
        mask_doubled_bos=True,
        dtype="bfloat16",
        quantized=False,
        verified=REFERENCE_CHECK
        + " (the reference's bfloat16 and flash-attention 2 replaced by float32 and eager "
        "in a copy of the reference)",
        notes="LDLPipeline: a doubled BOS is cut (the batch's first column, which with right padding is every "
        "row's first BOS); Gemma-2 base (tensors with or without the model. prefix) in bfloat16 as the reference "
        "forces, the heads from regression_layer.pt and gating_layer.pt (read with weights_only) in float32, read "
        "at the token before the first pad id.",
    )
)

register_adapter(
    Adapter(
        name="internlm2-reward",
        family="InternLM2 reward (reward token appended; InternLM2 decoder as Llama)",
        covers=(
            "internlm/internlm2-1_8b-reward",
            "internlm/internlm2-7b-reward",
            "internlm/internlm2-20b-reward",
        ),
        head="internlm2-reward",
        architectures=("InternLM2ForRewardModel",),
        input_rule="reward-token",
        pooling="last",
        quantized=True,
        verified="replica built with InternLM2's published modeling code (OpenGVLab/InternVL's copy of the hub file) "
        "plus its reward class, run by run_rm.py --not_quantized --torch_dtype float32 --trust_remote_code on the "
        "first 2 rows of every v1 subset: every `correct` equal, scores within 1e-4 (tests/scoring/adapters/)",
        notes="InternLMPipeline: the chat template's text tokenized without special tokens, the config's "
        "reward_token_id appended unless last, no truncation; the bias-free v_head at the last attended token. "
        "No remote code: the decoder runs as transformers' LlamaModel on the converted tensors (wqkv split).",
    )
)
