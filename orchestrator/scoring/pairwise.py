"""``kind: pairwise``: models that read both completions at once and give P(A better), scored in both orders.

Families (adapters with ``input_rule: pair``, :mod:`orchestrator.scoring.adapters.families`); :func:`pairwise_scorer`
picks the scorer by the adapter's head:

* ``rlhflow-pair`` (RLHFlow pair-preference, the reference's ``SlicPairPMPipeline``): the context (every message
  before the completion) rendered with the family's turn format, then ``[CONTEXT] {context} [RESPONSE A] {a}
  [RESPONSE B] {b} \\n`` as the user turn of the model's chat template, every BOS string removed, tokenized
  without special tokens and without truncation; at the last position the logits of the tokens ``A`` and ``B``;
  P(chosen better) = softmax(A, B) at the chosen one's letter, averaged over the two orders; correct when > 0.5.
* ``pairrm``, ``better-pairrm`` (DeBERTa-v2 pair rankers): :mod:`orchestrator.scoring.pairrm`.
* ``steamshp`` (T5 naming the better response): :mod:`orchestrator.scoring.steamshp`.

RLHFlow records: ``score_chosen`` = P(chosen better) averaged over the orders, ``score_rejected`` = 1 - it (so
``correct = score_chosen > score_rejected`` is the reference's rule); ``judge_outputs`` keeps each order's raw
outputs (``order`` AB = chosen shown as A; ``target`` A or B; ``parsed`` = that token's raw logit).
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
from orchestrator.scoring._hf import (
    load_pretrained,
    load_tokenizer,
    loaded_model_info,
    resolve_dtype,
)
from orchestrator.scoring.adapters import Adapter, select_pairwise_adapter
from orchestrator.scoring.columns import both_order_outputs
from orchestrator.scoring.formatting import to_messages
from orchestrator.scoring.prefetch import padded_batches, prefetch

logger = logging.getLogger(__name__)

CONTEXT_TEMPLATE = (
    "\n{% for message in messages %}{% if loop.index0 % 2 == 0 %}\n\n<turn> user\n {{ message['content'] }}"
    "{% else %}\n\n<turn> assistant\n {{ message['content'] }}{% endif %}{% endfor %}\n\n\n"
)
"""The context format of the RLHFlow pair-preference model (its model card), rendered by transformers' chat-template
engine (trim_blocks, lstrip_blocks) as the reference renders it."""

PAIR_PROMPT = "[CONTEXT] {context} [RESPONSE A] {response_A} [RESPONSE B] {response_B} \n"


def pairwise_scorer(spec: PairwiseSpec, device: str = "cpu"):
    """The ``(pairwise, transformers)`` factory: the scorer of the selected pair-input adapter's head."""
    adapter = select_pairwise_adapter(spec.adapter, spec.path)
    if adapter.head == "pair-ranker":
        from orchestrator.scoring.pairrm import PairRMScorer

        return PairRMScorer(spec, adapter, device=device)
    if adapter.head == "seq2seq-ab-token":
        from orchestrator.scoring.steamshp import SteamSHPScorer

        return SteamSHPScorer(spec, adapter, device=device)
    return PairwiseScorer(spec, device=device, adapter=adapter)


class PairwiseScorer:
    """The RLHFlow pair-preference model (a causal LM reading both completions); both orders of every pair are
    scored in one length-sorted pass."""

    backend = "transformers"

    def __init__(self, spec: PairwiseSpec, device: str = "cpu", adapter: Adapter | None = None):
        torch = require("torch")
        self.spec = spec
        self.device = device
        self.adapter = adapter or select_pairwise_adapter(spec.adapter, spec.path)
        if self.adapter.head != "lm-ab-tokens":
            raise ModelError(f"adapter {self.adapter.name!r} is not read by the RLHFlow pair scorer")
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        dtype_name = resolve_dtype(spec, device)
        self.model = load_pretrained("AutoModelForCausalLM", spec, device, dtype_name)
        self.token_ids = {}
        for letter in ("A", "B"):
            ids = self.tokenizer.encode(letter, add_special_tokens=False)
            if len(ids) != 1:
                raise ModelError(
                    f"model {spec.name!r}: {letter!r} is {len(ids)} tokens; the family needs one token"
                )
            self.token_ids[letter] = ids[0]
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        self.info = loaded_model_info(
            spec,
            self.model,
            dtype=dtype_name,
            device=device,
            start=start,
            extra={"adapter": self.adapter.name, "token_ids": self.token_ids},
        )

    def _text(self, prompt: Any, first: str, second: str, where: str) -> str:
        context_messages = to_messages(prompt, "", where=where)[:-1]
        context = self.tokenizer.apply_chat_template(
            context_messages, chat_template=CONTEXT_TEMPLATE, tokenize=False
        )
        user = PAIR_PROMPT.format(context=context, response_A=first, response_B=second)
        text = self.tokenizer.apply_chat_template([{"role": "user", "content": user}], tokenize=False)
        bos = self.tokenizer.bos_token
        return text.replace(bos, "") if bos else text

    def order_logits(self, texts: Sequence[str]) -> np.ndarray:
        """``[N, 2]``: the last position's logits of ``A`` and ``B`` for each text, in input order."""
        torch = require("torch")
        seqs = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        base = self.model.base_model
        head = self.model.get_output_embeddings()
        cap = getattr(self.model.config, "final_logit_softcapping", None)
        pick = torch.as_tensor([self.token_ids["A"], self.token_ids["B"]], device=self.device)
        out = np.empty((len(seqs), 2), dtype=np.float64)
        budget = self.spec.batch_tokens or (65536 if self.device.startswith("cuda") else 8192)
        with torch.inference_mode():
            batches = padded_batches(
                seqs, self.pad_id, budget, causal=True, pin_memory=self.device.startswith("cuda")
            )
            for batch in prefetch(batches, depth=self.spec.prefetch_batches):
                inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                hidden = base(**inputs, use_cache=False).last_hidden_state
                last = torch.as_tensor([len(seqs[i]) - 1 for i in batch.indices], device=hidden.device)
                pooled = hidden[torch.arange(len(batch.indices), device=hidden.device), last]
                logits = head(pooled).float()
                if cap:
                    logits = torch.tanh(logits / cap) * cap
                out[batch.indices] = logits[:, pick].cpu().numpy()
        return out

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        n = len(prompts)
        texts = [
            self._text(p, c, r, f"example {i}") for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected))
        ]
        texts += [
            self._text(p, r, c, f"example {i}") for i, (p, c, r) in enumerate(zip(prompts, chosen, rejected))
        ]
        logits = self.order_logits(texts)
        if not np.all(np.isfinite(logits)):
            raise ModelError(f"model {self.spec.name!r}: non-finite A/B logits")
        ab, ba = logits[:n], logits[n:]

        def softmax_first(x: np.ndarray) -> np.ndarray:
            return np.exp(x[:, 0]) / (np.exp(x[:, 0]) + np.exp(x[:, 1]))

        p_ab = softmax_first(ab)  # chosen shown as A
        p_ba = 1.0 - softmax_first(ba)  # chosen shown as B
        p = (p_ab + p_ba) / 2
        outputs = both_order_outputs(ab, ba)
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "score_chosen": p,
            "score_rejected": 1.0 - p,
            "correct": np.asarray(p > 0.5, dtype=bool),
            "tokens_chosen": np.asarray(
                [len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts[:n]], dtype=np.int32
            ),
            "tokens_rejected": np.asarray(
                [len(self.tokenizer.encode(t, add_special_tokens=False)) for t in texts[n:]], dtype=np.int32
            ),
            "judge_outputs": outputs,
            "position_consistent": [bool((a > 0.5) == (b > 0.5)) for a, b in zip(p_ab, p_ba)],
        }

    def list_columns(self, prompts, chosen, rejected) -> dict[str, Any]:
        raise ModelError(
            f"model {self.spec.name!r}: kind pairwise compares one chosen with one rejected completion; "
            "best-of-N data needs a per-completion score"
        )
