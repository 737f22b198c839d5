"""LLM-as-a-judge on transformers: a causal chat model generates verdicts that become records.

Planning (which generations an example needs, with their seeds) and turning outputs into record columns live in
:mod:`orchestrator.scoring.judge_records`; prompt templates in :mod:`orchestrator.scoring.judge_prompts`, verdict
parsing in :mod:`orchestrator.scoring.verdicts`. This module loads the model and generates.

Generation is batched (length-sorted, left padding, a token budget) with a KV cache, and each row draws from its
own ``torch.Generator`` seeded with its request's seed, so an output does not depend on which rows share its
batch; temperature 0 is greedy (argmax). Prompts are the judge instruction as one user turn through the chat
template with the generation prompt, tokenized without extra special tokens (the template carries them).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from orchestrator._lazy import require
from orchestrator.config import ModelSpec
from orchestrator.errors import ModelError
from orchestrator.scoring.judge_prompts import chat_prompt, load_template
from orchestrator.scoring.judge_records import (
    JudgeSettings,
    Request,
    _outputs,
    four_way_columns,
    pairwise_columns,
    plan_four_way,
    plan_pairwise,
    plan_rubric,
    rubric_list_columns,
    rubric_pair_columns,
)

TIES_SUBSET = "Ties"
"""RewardBench 2's subset that four-way judges rate completion by completion (as the reference does)."""

logger = logging.getLogger(__name__)


class JudgeBase:
    """Backend-independent judge: templates, planning, records. Subclasses load a model and implement
    :meth:`generate_ids` (prompt token ids + per-request seeds -> generated token ids)."""

    backend = "?"
    wants_subsets = True
    """``list_columns`` takes the rows' subsets (four-way judges rate the Ties rows instead)."""

    def _setup(self, spec: ModelSpec, tokenizer) -> None:
        self.spec = spec
        self.settings = JudgeSettings.from_spec(spec)
        self.template = load_template(self.settings.template_mode, self.settings.template)
        self.ratings_template = load_template("ratings") if self.settings.mode == "four-way" else None
        self.tokenizer = tokenizer
        self.fallback: Any = None
        fallback = getattr(spec, "fallback_parser", None)
        if fallback is not None:
            from orchestrator.scoring.judge_fallback import FallbackCaller

            self.fallback = FallbackCaller(spec.name, fallback)

    def attach_output_cache(self, cache: Any, read: bool = True) -> None:
        """Answer identical API requests (here: the fallback parser's) from ``cache``, a
        :class:`~orchestrator.scoring.judge_cache.JudgeOutputCache`; ``read=False`` only refreshes it."""
        if self.fallback is not None:
            self.fallback.completions.output_cache = cache
            self.fallback.completions.read_cache = read

    def _fallback_usage(self) -> dict[str, Any] | None:
        """The fallback parser's traffic since the last call (None without one)."""
        if self.fallback is None:
            return None
        from orchestrator.scoring.judge_openai import ApiUsage, usage_document

        usage, self.fallback.client.usage = self.fallback.client.usage, ApiUsage()
        return usage_document(usage, self.fallback.api.prices)

    def take_usage(self) -> dict[str, Any] | None:
        """API traffic since the last call, for the manifest: an in-process judge sends requests only to its
        fallback parser (``fallback``); None when it has none."""
        fallback = self._fallback_usage()
        if fallback is None:
            return None
        from orchestrator.scoring.judge_openai import ApiUsage, usage_document

        return {**usage_document(ApiUsage(), None), "fallback": fallback}

    def judged(
        self,
        requests: Sequence[Request],
        texts: Sequence[str],
        n: int,
        mode: str,
        cached: Sequence[bool] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """Each example's parsed outputs (:mod:`orchestrator.scoring.judge_records`), with the fallback parser's
        verdicts put in for the outputs that did not parse (when one is configured)."""
        per_example = _outputs(requests, texts, n, mode, self.settings, cached)
        if self.fallback is not None:
            from orchestrator.scoring.judge_records import output_mode

            self.fallback.rescue(
                requests, per_example, output_mode(mode, self.settings), self.settings.first_wins
            )
        return per_example

    def _fingerprint(self, model_fingerprint: str) -> str:
        """The model's fingerprint plus the judging protocol (settings and template text): the same weights judging
        with another template, seed or temperature give other records, so anything keyed on the fingerprint
        (e.g. a score cache) must tell them apart."""
        protocol = json.dumps(
            {
                **vars(self.settings),
                "template": None,
                "template_text": self.template.text,
                **({"ratings_text": self.ratings_template.text} if self.ratings_template else {}),
                **({"fallback": self.fallback.identity()} if self.fallback is not None else {}),
            },
            sort_keys=True,
            default=str,
        )
        return f"{model_fingerprint}+judge:{hashlib.sha256(protocol.encode()).hexdigest()[:16]}"

    # ------------------------------------------------------------------ prompts and generation

    def prompt_ids(self, requests: Sequence[Request]) -> list[list[int]]:
        """Token ids of each request's chat-templated prompt, truncated to ``max_length``."""
        texts = [chat_prompt(self.tokenizer, r.instruction) for r in requests]
        ids = [list(x) for x in self.tokenizer(texts, add_special_tokens=False)["input_ids"]] if texts else []
        limit = self.spec.max_length
        if not self.settings.truncate:  # protocol rewardbench: the reference never cuts a judge prompt
            return ids
        if self.spec.truncation_side == "left":
            return [x[-limit:] for x in ids]
        return [x[:limit] for x in ids]

    def generate_ids(self, prompt_ids: Sequence[list[int]], seeds: Sequence[int]) -> list[list[int]]:
        raise NotImplementedError

    def decode(self, ids: Sequence[list[int]]) -> list[str]:
        return [self.tokenizer.decode(x, skip_special_tokens=True) for x in ids]

    def generate_marked(self, requests: Sequence[Request]) -> tuple[list[str], list[bool]]:
        """The raw outputs and, per output, whether it came from a cache (in-process judges: never)."""
        return self.generate(requests), [False] * len(requests)

    def generate(self, requests: Sequence[Request]) -> list[str]:
        """The judge's raw output of each request, in order."""
        if not requests:
            return []
        start = time.perf_counter()
        out = self.decode(self.generate_ids(self.prompt_ids(requests), [r.seed for r in requests]))
        logger.info("judged %d requests in %.2fs", len(requests), time.perf_counter() - start)
        return out

    # ------------------------------------------------------------------ records

    def _response_tokens(self, texts: Sequence[str | None]) -> list[int | None]:
        present = [t for t in texts if t is not None]
        counts = (
            iter(len(x) for x in self.tokenizer(present, add_special_tokens=False)["input_ids"])
            if present
            else iter(())
        )
        return [None if t is None else next(counts) for t in texts]

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        """Record columns for preference pairs (see :mod:`orchestrator.scoring.judge_records`)."""
        n = len(prompts)
        s = self.settings
        if s.mode == "four-way":
            raise ModelError(
                f"model {self.spec.name!r}: a four-way judge compares four completions; it needs RewardBench 2 "
                "(best-of-N) data, not preference pairs"
            )
        if s.mode == "rubric":
            requests = plan_rubric(
                s,
                self.template,
                prompts,
                [[("chosen", c), ("rejected", r)] for c, r in zip(chosen, rejected)],
            )
            texts, marks = self.generate_marked(requests)
            outs = self.judged(requests, texts, n, "rubric", marks)
            cols = rubric_pair_columns(requests, texts, n, s, marks, outputs=outs)
        else:
            requests = plan_pairwise(s, self.template, prompts, chosen, rejected)
            texts, marks = self.generate_marked(requests)
            outs = self.judged(requests, texts, n, "pairwise", marks)
            cols = pairwise_columns(requests, texts, n, s, marks, outputs=outs)
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "tokens_chosen": self._response_tokens(chosen),
            "tokens_rejected": self._response_tokens(rejected),
            **cols,
        }

    def list_columns(
        self,
        prompts: Sequence[Any],
        chosen: Sequence[Sequence[str]],
        rejected: Sequence[Sequence[str]],
        subsets: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Record columns for best-of-N rows: rubric judges score every completion alone; four-way judges pick
        one of four completions (rows of subset ``Ties``: every completion rated alone, 1-10)."""
        s = self.settings
        n_c, n_r = [len(c) for c in chosen], [len(r) for r in rejected]
        if s.mode == "pairwise":
            raise ModelError(
                f"model {self.spec.name!r}: a pairwise judge compares two responses; best-of-N data "
                "(several completions per prompt) needs `mode: rubric` or `mode: four-way`"
            )
        if s.mode == "four-way":
            tie_rows = [x == TIES_SUBSET for x in (subsets or [""] * len(prompts))]
            if self.ratings_template is None:
                raise ModelError(f"model {self.spec.name!r}: mode four-way has no ratings template for Ties")
            try:
                requests = plan_four_way(
                    s, self.template, self.ratings_template, prompts, chosen, rejected, tie_rows
                )
            except ValueError as exc:
                raise ModelError(f"model {self.spec.name!r}: {exc}") from None
            texts, marks = self.generate_marked(requests)
            outs = self.judged(requests, texts, len(prompts), "four-way", marks)
            cols = four_way_columns(requests, texts, n_c, n_r, tie_rows, s, marks, outputs=outs)
        else:
            items = [
                [(f"chosen:{j}", t) for j, t in enumerate(c)]
                + [(f"rejected:{j}", t) for j, t in enumerate(r)]
                for c, r in zip(chosen, rejected)
            ]
            requests = plan_rubric(s, self.template, prompts, items)
            texts, marks = self.generate_marked(requests)
            ties = [x == TIES_SUBSET for x in subsets] if subsets is not None else None
            outs = self.judged(requests, texts, len(prompts), "ratings" if s.ratings else "rubric", marks)
            cols = rubric_list_columns(requests, texts, n_c, n_r, s, marks, ties=ties, outputs=outs)
        first_c = [c[0] if c else None for c in chosen]
        first_r = [r[0] if r else None for r in rejected]
        return {
            "chosen": first_c,
            "rejected": first_r,
            "texts_chosen": [list(c) for c in chosen],
            "texts_rejected": [list(r) for r in rejected],
            "tokens_chosen": self._response_tokens(first_c),
            "tokens_rejected": self._response_tokens(first_r),
            **cols,
        }


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (configured, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    return ids


class JudgeScorer(JudgeBase):
    """A causal chat model on transformers as a judge (``kind: judge``, ``backend: transformers``)."""

    backend = "transformers"

    def __init__(self, spec: ModelSpec, device: str = "cpu"):
        from orchestrator.scoring._hf import (
            load_pretrained,
            load_tokenizer,
            loaded_model_info,
            model_fingerprint,
            resolve_dtype,
        )

        start = time.perf_counter()
        self._setup(spec, load_tokenizer(spec))
        self.device = device
        dtype_name = resolve_dtype(spec, device)
        model = self.model = load_pretrained(
            "AutoModelForCausalLM", spec, device, dtype_name, what="causal LM "
        )
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token_id = self.tokenizer.eos_token_id
        if self.tokenizer.pad_token_id is None:
            raise ModelError(f"model {spec.name!r}: tokenizer has neither a pad nor an eos token")
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        # the KV cache argument (and output field) is ``cache`` in newer transformers 5.x, ``past_key_values`` before
        self._cache_arg = (
            "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        )
        self.info = loaded_model_info(
            spec,
            model,
            dtype=dtype_name,
            device=device,
            start=start,
            fingerprint=self._fingerprint(model_fingerprint(spec.path, spec.revision)),
            extra={
                "judge": dict(vars(self.settings)),
                "template": self.template.source,
                "model_fingerprint": model_fingerprint(spec.path, spec.revision),
            },
        )

    @property
    def batch_tokens(self) -> int:
        if self.spec.batch_tokens is not None:
            return self.spec.batch_tokens
        return 65536 if self.device.startswith("cuda") else 8192

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices, longest prompt first, grouped so that (prompt + new tokens) x rows stays in the budget."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batches: list[list[int]] = []
        for i in order:
            if batches:
                rows = len(batches[-1]) + 1
                width = lengths[batches[-1][0]] + self.settings.max_new_tokens
                if rows * width <= self.batch_tokens:
                    batches[-1].append(i)
                    continue
            batches.append([i])
        return batches

    def generate_ids(self, prompt_ids: Sequence[list[int]], seeds: Sequence[int]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in prompt_ids]
        for batch in self._batches([len(x) for x in prompt_ids]):
            for i, ids in zip(
                batch, self._generate_batch([prompt_ids[i] for i in batch], [seeds[i] for i in batch])
            ):
                out[i] = ids
        return out

    def _next_tokens(self, logits, generators):
        torch = require("torch")
        if self.settings.greedy:
            return logits.argmax(dim=-1)
        probs = torch.softmax(logits / self.settings.temperature, dim=-1)
        if self.settings.top_p < 1:
            sorted_probs, sorted_idx = probs.sort(dim=-1, descending=True)
            keep = (
                sorted_probs.cumsum(dim=-1) - sorted_probs < self.settings.top_p
            )  # always keeps the top token
            sorted_probs = sorted_probs * keep
            probs = torch.zeros_like(probs).scatter(-1, sorted_idx, sorted_probs)
        probs = probs.cpu()
        picks = [torch.multinomial(probs[row], 1, generator=g) for row, g in enumerate(generators)]
        return torch.cat(picks).to(logits.device)

    def _generate_batch(self, rows: list[list[int]], seeds: list[int]) -> list[list[int]]:
        torch = require("torch")
        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=self.device)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = None
        if not self.settings.greedy:
            generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
        done = torch.zeros(len(rows), dtype=torch.bool, device=self.device)
        eos = torch.tensor(sorted(self.eos_ids), device=self.device)
        out: list[list[int]] = [[] for _ in rows]
        past = None
        with torch.inference_mode():
            for _ in range(self.settings.max_new_tokens):
                result = self.model(
                    input_ids=input_ids,
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=1,
                    **{self._cache_arg: past},
                )
                past = getattr(result, self._cache_arg)
                nxt = self._next_tokens(result.logits[:, -1, :].float(), generators)
                finished = torch.isin(nxt, eos) if len(eos) else torch.zeros_like(done)
                for row in (~done & ~finished).nonzero().flatten().tolist():
                    out[row].append(int(nxt[row]))
                done |= finished
                if bool(done.all()):
                    break
                nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
                input_ids = nxt[:, None]
                mask = torch.cat([mask, torch.ones_like(mask[:, :1])], dim=-1)
                positions = positions[:, -1:] + 1
        return out
