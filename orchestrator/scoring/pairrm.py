"""``kind: pairwise`` for the PairRM families (DeBERTa-v2 pair rankers): ``pairrm`` and ``better-pairrm``.

What the reference computes (rewardbench 0.1.4 ``PairRMPipeline`` / ``BetterPairRMPipeline`` over its
``DebertaV2PairRM``), re-implemented natively on transformers 5's ``DebertaV2Model``:

* one input holds the context and both candidates, each segment encoded with the tokenizer's special tokens
  (``[CLS] ... [SEP]``) and prefixed by its marker token: ``<|source|>`` + context, ``<|candidate1|>`` + the first
  completion, ``<|candidate2|>`` + the second, concatenated;
* ``pairrm`` (llm-blender/PairRM-hf): the context is an instruction plus one ``USER: {turn}\\nAssistant: <Response k>``
  line per user turn, each candidate one ``<Response k>: {turn}`` line per assistant turn of its conversation; the
  context is cut to 1224 tokens and each candidate to ``(2048 - len(context)) // 2``, from the tokenizer's own
  truncation side (``tokenizer_config.json``; the right by default);
* ``better-pairrm`` (mightbe/Better-PairRM): the context is the conversation before the completion in the family's
  ``USER:`` / ``ASSISTANT:`` format with a trailing ``ASSISTANT: ``, first cut to 2030 tokens from the left and
  decoded back to text (special tokens dropped), each candidate likewise cut to 670 tokens from the right; then the
  ``<|source|>`` segment is followed by the context's own ``[CLS] ... [SEP]`` encoding (cut to 2027 tokens from the
  left) and each candidate is cut to ``(3370 - len(context)) // 2`` from the right;
* the last hidden states at the three marker tokens; the head ``Linear(2H, H) - tanh - Linear(H, n_tasks)`` on
  [context; candidate] for each candidate; the order's logit = mean over tasks of head(candidate 1) - head(candidate
  2); the pair's logit = logit(chosen first) - logit(rejected first); chosen wins when it is > 0.

Records: ``score_chosen`` = that logit, ``score_rejected`` = its negative (the same pipeline with the two
completions swapped), ``judge_outputs`` = per order (AB = chosen as candidate 1, BA) the head's mean score of
candidate 1 (``target`` A) and of candidate 2 (``target`` B).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import PairwiseSpec
from orchestrator.errors import ModelError
from orchestrator.scoring._hf import load_tokenizer, loaded_model_info, resolve_dtype
from orchestrator.scoring.adapters import Adapter
from orchestrator.scoring.columns import both_order_outputs
from orchestrator.scoring.formatting import to_messages
from orchestrator.scoring.prefetch import padded_batches, prefetch
from orchestrator.scoring.tokenizer_file import configured_truncation_side

logger = logging.getLogger(__name__)

MARKERS = ("<|source|>", "<|candidate1|>", "<|candidate2|>")
"""The segment marker tokens of the PairRM tokenizers (their ids are the config's ``source_prefix_id``,
``cand1_prefix_id``, ``cand2_prefix_id``)."""

PAIRRM_INSTRUCTION = (
    "Finish the following coversation in each i-th turn by filling in <Response i> with your response."
)
"""PairRM's fixed instruction before the context (its training format; the typo is the model's)."""

_BETTER_LABELS = {
    "user": "USER",
    "assistant": "ASSISTANT",
    "user_context": "USER",
    "system": "SYSTEM MESSAGE",
}


def pairrm_texts(messages: Sequence[dict[str, str]], where: str) -> tuple[str, str]:
    """``pairrm``: (context, candidate) texts of one conversation (user/assistant turns, ending with the
    completion)."""
    if len(messages) % 2 or any(
        m["role"] != ("user" if i % 2 == 0 else "assistant") for i, m in enumerate(messages)
    ):
        raise ModelError(f"{where}: PairRM needs alternating user/assistant turns ending with the completion")
    users = [m["content"] for m in messages[0::2]]
    answers = [m["content"] for m in messages[1::2]]
    source = "\n".join(f"USER: {u}\nAssistant: <Response {k + 1}>" for k, u in enumerate(users))
    candidate = "\n".join(f"<Response {k + 1}>: {a}" for k, a in enumerate(answers))
    return PAIRRM_INSTRUCTION + source, candidate


def better_pairrm_context(messages: Sequence[dict[str, str]]) -> str:
    """``better-pairrm``: the context text of the turns before the completion, as the family's template renders
    it (each known role ``LABEL: {content stripped}`` followed by ``"\\n    \\n    "``, an unknown role by
    ``"\\n    "`` alone, then ``ASSISTANT: `` unless the last turn is the assistant's)."""
    parts = []
    for m in messages:
        label = _BETTER_LABELS.get(m["role"])
        parts.append(f"{label}: {m['content'].strip()}\n    \n    " if label else "\n    ")
    if messages and messages[-1]["role"] != "assistant":
        parts.append("ASSISTANT: ")
    return "".join(parts)


class PairRMScorer:
    """A DeBERTa-v2 pair ranker (``pairrm``, ``better-pairrm``); both orders in one length-sorted pass."""

    backend = "transformers"

    def __init__(self, spec: PairwiseSpec, adapter: Adapter, device: str = "cpu"):
        torch = require("torch")
        self.spec = spec
        self.device = device
        self.adapter = adapter
        self.better = adapter.extra["format"] == "better-pairrm"
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        # the reference leaves the loaded tokenizer's truncation side for these pipelines (PairRM's own cuts)
        self.side = configured_truncation_side(spec.tokenizer or spec.path, spec.revision)
        dtype_name = resolve_dtype(spec, device)
        from orchestrator.scoring.adapters.heads import load_native

        self.model = load_native(adapter, spec.path, spec.name, getattr(torch, _dtype(dtype_name)), None)
        self.model.to(device).eval()
        config = self.model.config
        self.marker_ids = []
        for marker, key in zip(MARKERS, ("source_prefix_id", "cand1_prefix_id", "cand2_prefix_id")):
            ids = self.tokenizer.encode(marker, add_special_tokens=False)
            want = getattr(config, key, None)
            if len(ids) != 1 or (want is not None and ids[0] != want):
                raise ModelError(
                    f"model {spec.name!r}: the tokenizer encodes {marker!r} as {ids}, but config.json {key} is "
                    f"{want}: not a PairRM tokenizer"
                )
            self.marker_ids.append(ids[0])
        if self.tokenizer.pad_token_id is None:
            raise ModelError(f"model {spec.name!r}: the tokenizer has no pad token")
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        self.info = loaded_model_info(
            spec,
            self.model,
            dtype=dtype_name,
            device=device,
            start=start,
            extra={"adapter": adapter.name, "marker_ids": self.marker_ids},
        )

    # ------------------------------------------------------------------ inputs

    def _encode(self, text: str, max_length: int, side: str, special: bool = True) -> list[int]:
        self.tokenizer.truncation_side = side
        return self.tokenizer.encode(text, add_special_tokens=special, max_length=max_length, truncation=True)

    def _roundtrip(self, text: str, max_length: int, side: str) -> str:
        """Better-PairRM's first cut: the text's tokens (no special tokens) cut to ``max_length``, decoded back
        without special tokens."""
        ids = self._encode(text, max_length, side, special=False)
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def input_ids(self, prompt: Any, first: str, second: str, where: str) -> list[int]:
        """The token ids of one order: context, then ``first`` as candidate 1 and ``second`` as candidate 2."""
        source_max, cand_max = self.adapter.extra["source_max"], self.adapter.extra["candidate_max"]
        total = source_max + 2 * cand_max
        m1 = to_messages(prompt, first, where=where)
        m2 = to_messages(prompt, second, where=where)
        if self.better:
            source_text = self._roundtrip(better_pairrm_context(m1[:-1]), source_max, "left")
            c1_text = self._roundtrip(m1[-1]["content"], cand_max, "right")
            c2_text = self._roundtrip(m2[-1]["content"], cand_max, "right")
            marker = self.tokenizer.encode(MARKERS[0])
            source = marker + self._encode(source_text, source_max - len(marker), "left")
        else:
            source_text, c1_text = pairrm_texts(m1, where)
            _, c2_text = pairrm_texts(m2, where)
            source = self._encode(MARKERS[0] + source_text, source_max, self.side)
        room = (total - len(source)) // 2
        cand_side = "right" if self.better else self.side
        ids = (
            source
            + self._encode(MARKERS[1] + c1_text, room, cand_side)
            + self._encode(MARKERS[2] + c2_text, room, cand_side)
        )
        for marker, marker_id in zip(MARKERS, self.marker_ids):
            if ids.count(marker_id) != 1:
                raise ModelError(
                    f"model {self.spec.name!r}, {where}: the input holds {ids.count(marker_id)} {marker} tokens "
                    "(a text contains the marker): the reference cannot score it either"
                )
        return ids

    # ------------------------------------------------------------------ scoring

    def candidate_scores(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """``[N, 2]``: the head's mean score of candidate 1 and of candidate 2 for each input, in input order."""
        torch = require("torch")
        out = np.empty((len(seqs), 2), dtype=np.float64)
        budget = self.spec.batch_tokens or (65536 if self.device.startswith("cuda") else 8192)
        src, c1, c2 = self.marker_ids
        pos = [[list(s).index(src), list(s).index(c1), list(s).index(c2)] for s in seqs]
        base = self.model.base
        with torch.inference_mode():
            batches = padded_batches(
                seqs,
                self.tokenizer.pad_token_id,
                budget,
                causal=False,
                pin_memory=self.device.startswith("cuda"),
            )
            for batch in prefetch(batches, depth=self.spec.prefetch_batches):
                inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                hidden = base(**inputs).last_hidden_state
                rows = torch.arange(len(batch.indices), device=hidden.device)
                at = torch.as_tensor([pos[i] for i in batch.indices], device=hidden.device)
                source, first, second = (hidden[rows, at[:, k]] for k in range(3))
                left = self.model.head(torch.cat([source, first], dim=-1)).mean(dim=-1)
                right = self.model.head(torch.cat([source, second], dim=-1)).mean(dim=-1)
                out[batch.indices] = torch.stack([left, right], dim=1).cpu().numpy()
        return out

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        n = len(prompts)
        rows = list(zip(prompts, chosen, rejected))
        seqs = [self.input_ids(p, c, r, f"example {i}") for i, (p, c, r) in enumerate(rows)]
        seqs += [self.input_ids(p, r, c, f"example {i}") for i, (p, c, r) in enumerate(rows)]
        scores = self.candidate_scores(seqs)
        if not np.all(np.isfinite(scores)):
            raise ModelError(f"model {self.spec.name!r}: non-finite PairRM head scores")
        ab, ba = scores[:n], scores[n:]
        logit_ab = ab[:, 0] - ab[:, 1]  # chosen as candidate 1
        logit_ba = ba[:, 0] - ba[:, 1]  # rejected as candidate 1
        delta = logit_ab - logit_ba
        outputs = both_order_outputs(ab, ba)
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "score_chosen": delta,
            "score_rejected": -delta,
            "correct": np.asarray(delta > 0, dtype=bool),
            "tokens_chosen": np.asarray([len(s) for s in seqs[:n]], dtype=np.int32),
            "tokens_rejected": np.asarray([len(s) for s in seqs[n:]], dtype=np.int32),
            "judge_outputs": outputs,
            "position_consistent": [bool((a > 0) == (b < 0)) for a, b in zip(logit_ab, logit_ba)],
        }

    def list_columns(self, prompts, chosen, rejected) -> dict[str, Any]:
        raise ModelError(
            f"model {self.spec.name!r}: kind pairwise compares one chosen with one rejected completion; "
            "best-of-N data needs a per-completion score"
        )


def _dtype(name: str) -> str:
    from orchestrator.scoring._hf import _DTYPES

    return _DTYPES[name]
