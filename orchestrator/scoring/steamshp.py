"""``kind: pairwise`` for SteamSHP (``steamshp``: stanfordnlp/SteamSHP-flan-t5-xl and -large, T5 seq2seq).

What the reference computes (rewardbench 0.1.4 ``SHPPipeline``): the contents of every message before the
completion joined by single spaces as the post, then ``POST: {post}\\n\\n RESPONSE A: {a}\\n\\n RESPONSE B: {b}\\n\\n
Which response is better? RESPONSE``, tokenized with the tokenizer's EOS, cut to ``max_length`` (run_rm.py's
``--max_length``, 2048) from the tokenizer's own truncation side; ``generate(max_new_tokens=1)`` (greedy: the
argmax of the first decoder step after the decoder start token), decoded without special tokens; response A wins
when the text is exactly ``A``, otherwise B wins (an output that is neither counts for B).

The reference shows each pair in ONE order, drawn by ``random.shuffle`` from Python's unseeded global generator,
so its per-example results (and its accuracy) change from run to run. Rayward scores both orders: the chosen
completion wins order AB (shown as A) when the output is ``A`` and order BA (shown as B) when it is not ``A``;
``score_chosen`` = ``judge_credit`` = the mean of the two verdicts (1, 0.5 or 0: the probability that the
reference's random order counts the example correct, so the subset accuracy is the reference's expected one),
``score_rejected`` = 1 - it, ``correct`` = both orders prefer the chosen completion. ``judge_outputs``: per order
the first step's logits of ``A`` and ``B`` (``parsed``), the decoded output (``text``) and its label (``A``,
``B``, or null for any other output, also counted in ``parse_failures``).
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
from orchestrator.scoring.adapters import Adapter
from orchestrator.scoring.formatting import to_messages
from orchestrator.scoring.prefetch import padded_batches, prefetch
from orchestrator.scoring.tokenizer_file import configured_truncation_side

logger = logging.getLogger(__name__)

SHP_FORMAT = "POST: {post}\n\n RESPONSE A: {a}\n\n RESPONSE B: {b}\n\n Which response is better? RESPONSE"
"""SteamSHP's input format (its model card), as SHPPipeline fills it."""

_UNSUPPORTED_GENERATION = ("forced_bos_token_id", "suppress_tokens", "begin_suppress_tokens", "bad_words_ids")


def shp_text(prompt: Any, first: str, second: str, where: str) -> str:
    """The input text with ``first`` shown as response A and ``second`` as response B."""
    post = " ".join(m["content"] for m in to_messages(prompt, first, where=where)[:-1])
    return SHP_FORMAT.format(post=post, a=first, b=second)


class SteamSHPScorer:
    """A T5 preference model that names the better response (``A`` or ``B``) as its first generated token."""

    backend = "transformers"

    def __init__(self, spec: PairwiseSpec, adapter: Adapter, device: str = "cpu"):
        torch = require("torch")
        self.spec = spec
        self.device = device
        self.adapter = adapter
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec)
        self.tokenizer.truncation_side = configured_truncation_side(
            spec.tokenizer or spec.path, spec.revision
        )
        dtype_name = resolve_dtype(spec, device)
        self.model = load_pretrained("AutoModelForSeq2SeqLM", spec, device, dtype_name)
        if not getattr(self.model.config, "is_encoder_decoder", False):
            raise ModelError(
                f"model {spec.name!r}: adapter steamshp needs an encoder-decoder (T5) checkpoint"
            )
        gen = getattr(self.model, "generation_config", None)
        self.start_id = getattr(gen, "decoder_start_token_id", None)
        if self.start_id is None:
            self.start_id = self.model.config.decoder_start_token_id
        if self.start_id is None:
            raise ModelError(f"model {spec.name!r}: no decoder_start_token_id in its config")
        if gen is not None:
            odd = [k for k in _UNSUPPORTED_GENERATION if getattr(gen, k, None)]
            if getattr(gen, "do_sample", False) or (getattr(gen, "num_beams", 1) or 1) > 1:
                odd.append("do_sample/num_beams")
            if (getattr(gen, "min_length", 0) or 0) > 1 or (getattr(gen, "min_new_tokens", 0) or 0) > 0:
                odd.append("min_length/min_new_tokens")
            if odd:
                raise ModelError(
                    f"model {spec.name!r}: generation_config.json sets {', '.join(odd)}; the reference's one-token "
                    "greedy step would then differ from the argmax this scorer reads"
                )
        self.ab_ids = []
        for letter in ("A", "B"):
            ids = self.tokenizer.encode(letter, add_special_tokens=False)
            if not ids:
                raise ModelError(f"model {spec.name!r}: the tokenizer encodes {letter!r} as nothing")
            self.ab_ids.append(ids[-1])
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        self.info = loaded_model_info(
            spec,
            self.model,
            dtype=dtype_name,
            device=device,
            start=start,
            extra={"adapter": adapter.name, "token_ids": dict(zip(("A", "B"), self.ab_ids))},
        )

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer.encode(t, truncation=True, max_length=self.spec.max_length) for t in texts]

    def first_step(self, seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Per input (in input order): the greedy first token id, and the first step's logits of A and B."""
        torch = require("torch")
        top = np.empty(len(seqs), dtype=np.int64)
        ab = np.empty((len(seqs), 2), dtype=np.float64)
        budget = self.spec.batch_tokens or (65536 if self.device.startswith("cuda") else 8192)
        pick = torch.as_tensor(self.ab_ids, device=self.device)
        with torch.inference_mode():
            batches = padded_batches(
                seqs, self.pad_id, budget, causal=False, pin_memory=self.device.startswith("cuda")
            )
            for batch in prefetch(batches, depth=self.spec.prefetch_batches):
                inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                start = torch.full(
                    (len(batch.indices), 1), self.start_id, dtype=torch.long, device=self.device
                )
                logits = self.model(**inputs, decoder_input_ids=start, use_cache=False).logits[:, -1].float()
                top[batch.indices] = logits.argmax(dim=-1).cpu().numpy()
                ab[batch.indices] = logits[:, pick].cpu().numpy()
        return top, ab

    def decoded(self, token_id: int) -> str:
        """The generated text as the reference reads it: [decoder start, token] decoded without special tokens."""
        return self.tokenizer.decode([self.start_id, int(token_id)], skip_special_tokens=True)

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        n = len(prompts)
        rows = list(zip(prompts, chosen, rejected))
        texts = [shp_text(p, c, r, f"example {i}") for i, (p, c, r) in enumerate(rows)]
        texts += [shp_text(p, r, c, f"example {i}") for i, (p, c, r) in enumerate(rows)]
        seqs = self.encode(texts)
        top, ab = self.first_step(seqs)
        if not np.all(np.isfinite(ab)):
            raise ModelError(f"model {self.spec.name!r}: non-finite A/B logits")
        cache: dict[int, str] = {}
        said = [cache.setdefault(int(t), self.decoded(int(t))) for t in top]
        says_a = np.asarray([s == "A" for s in said], dtype=bool)
        win_ab = says_a[:n]  # chosen shown as A wins when the model says A
        win_ba = ~says_a[n:]  # chosen shown as B wins when it does not say A (the reference's flip)
        credit = (win_ab.astype(np.float64) + win_ba.astype(np.float64)) / 2
        outputs, failures = [], []
        for i in range(n):
            entry = []
            for order, k in (("AB", i), ("BA", n + i)):
                label = said[k] if said[k] in ("A", "B") else None
                for t, v in zip(("A", "B"), ab[k]):
                    entry.append(
                        {
                            "target": t,
                            "order": order,
                            "sample": 0,
                            "text": said[k],
                            "parsed": float(v),
                            "label": label,
                        }
                    )
            outputs.append(entry)
            failures.append(sum(said[k] not in ("A", "B") for k in (i, n + i)))
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "score_chosen": credit,
            "score_rejected": 1.0 - credit,
            "correct": np.asarray(credit == 1.0, dtype=bool),
            "judge_credit": credit,
            "tokens_chosen": np.asarray([len(s) for s in seqs[:n]], dtype=np.int32),
            "tokens_rejected": np.asarray([len(s) for s in seqs[n:]], dtype=np.int32),
            "judge_outputs": outputs,
            "parse_failures": np.asarray(failures, dtype=np.int32),
            "position_consistent": [bool(a == b) for a, b in zip(win_ab, win_ba)],
        }

    def list_columns(self, prompts, chosen, rejected) -> dict[str, Any]:
        raise ModelError(
            f"model {self.spec.name!r}: kind pairwise compares one chosen with one rejected completion; "
            "best-of-N data needs a per-completion score"
        )
