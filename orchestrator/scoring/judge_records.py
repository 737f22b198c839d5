"""What a judge generates for a batch of examples, and the record columns its outputs become.

Backend-independent: :class:`JudgeScorer` (transformers) and the vLLM judge both plan requests here, generate the
texts their own way, and turn the texts into records here, so the two backends differ only in generation.

Seeding: every request carries its own seed, derived from the job's ``seed`` and the request's *content* (prompt,
the response texts shown, order, sample index), never from its position in a batch or shard; the pairwise
``order: random`` swap is derived the same way. A rerun, another shard size or another batching therefore asks for
the same generations.

Records (one per example):

* ``judge_outputs``: every raw output with ``target`` (rubric: ``chosen``/``rejected``, best-of-N lists
  ``chosen:<i>``/``rejected:<i>``; pairwise: ``pair``), ``order`` (pairwise: ``AB`` = chosen shown as A, ``BA`` =
  rejected shown as A; rubric: null), ``sample`` and ``parsed`` (rubric: the 0-5 score; pairwise: 1 = the chosen
  response won, 0 = the rejected one won; null = unparseable);
* ``parse_failures``: how many of the example's outputs did not parse;
* rubric: ``score_chosen``/``score_rejected`` = the mean parsed score of each response's samples (failed samples
  left out; all failed: null); ``correct`` = both scores present and chosen > rejected (a tie is wrong, the
  reference's rule for scalar scores; a null score is wrong);
* pairwise: ``score_chosen`` = the chosen response's win credit, ``score_rejected`` = 1 - credit. One order
  (``random``/``fixed``): 1 or 0 from the verdict, 0.5 when unparseable (the reference's tie). ``both``: 1 when both
  orders pick the chosen response, 0 when both pick the rejected one, 0.5 otherwise (inconsistent or unparseable);
  ``position_consistent`` = the two parsed verdicts agree (null when either failed). ``correct`` = credit is 1;
  the benchmark points of a pairwise judge are the credit itself (``sql/15_record_points.sql``);
* ``tokens_chosen``/``tokens_rejected``: token counts of the response texts alone (for the length analyses).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.scoring.judge_prompts import JudgeTemplate
from orchestrator.scoring.verdicts import parse_pair, parse_score

DEFAULT_SAMPLES = 1
DEFAULT_TEMPERATURE = 0.0
DEFAULT_TOP_P = 1.0
DEFAULT_SEED = 0
DEFAULT_MAX_NEW_TOKENS = 512
DEFAULT_ORDER = "random"


@dataclass(frozen=True)
class JudgeSettings:
    """A judge model's effective settings (job keys with their defaults filled in)."""

    mode: str = "rubric"
    samples: int = DEFAULT_SAMPLES
    temperature: float = DEFAULT_TEMPERATURE
    top_p: float = DEFAULT_TOP_P
    seed: int = DEFAULT_SEED
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    order: str | None = None
    template: str | None = None

    @classmethod
    def from_spec(cls, spec) -> JudgeSettings:
        mode = spec.mode or "rubric"
        return cls(
            mode=mode,
            samples=spec.samples or DEFAULT_SAMPLES,
            temperature=DEFAULT_TEMPERATURE if spec.temperature is None else float(spec.temperature),
            top_p=DEFAULT_TOP_P if spec.top_p is None else float(spec.top_p),
            seed=DEFAULT_SEED if spec.seed is None else int(spec.seed),
            max_new_tokens=spec.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
            order=(spec.order or DEFAULT_ORDER) if mode == "pairwise" else None,
            template=spec.template,
        )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Request:
    """One generation: which example, what it judges, and its instruction (before the chat template)."""

    example: int
    target: str
    order: str | None
    sample: int
    instruction: str
    seed: int


def derive_seed(seed: int, *parts: Any) -> int:
    """A 31-bit seed from the job seed and a request's content (stable across runs, machines and batchings)."""
    blob = json.dumps([seed, *parts], ensure_ascii=False, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little") & 0x7FFFFFFF


def swapped(seed: int, prompt: Any, chosen: str, rejected: str) -> bool:
    """``order: random``: whether this example shows the rejected response first (a seeded coin flip)."""
    return bool(derive_seed(seed, "order", prompt, chosen, rejected) & 1)


def pair_orders(settings: JudgeSettings, prompt: Any, chosen: str, rejected: str) -> list[str]:
    if settings.order == "both":
        return ["AB", "BA"]
    if settings.order == "random" and swapped(settings.seed, prompt, chosen, rejected):
        return ["BA"]
    return ["AB"]


def plan_rubric(
    settings: JudgeSettings,
    template: JudgeTemplate,
    prompts: Sequence[Any],
    responses: Sequence[Sequence[tuple[str, str]]],
) -> list[Request]:
    """Rubric requests: ``responses[i]`` = the (target, text) pairs of example i, each judged ``samples`` times."""
    out = []
    for i, (prompt, items) in enumerate(zip(prompts, responses)):
        for target, text in items:
            instruction = template.render(prompt, text)
            for s in range(settings.samples):
                out.append(
                    Request(
                        i, target, None, s, instruction, derive_seed(settings.seed, "rubric", prompt, text, s)
                    )
                )
    return out


def plan_pairwise(
    settings: JudgeSettings,
    template: JudgeTemplate,
    prompts: Sequence[Any],
    chosen: Sequence[str],
    rejected: Sequence[str],
) -> list[Request]:
    """Pairwise requests: one per example and order shown."""
    out = []
    for i, (prompt, c, r) in enumerate(zip(prompts, chosen, rejected)):
        for order in pair_orders(settings, prompt, c, r):
            a, b = (c, r) if order == "AB" else (r, c)
            out.append(
                Request(
                    i,
                    "pair",
                    order,
                    0,
                    template.render(prompt, a, b),
                    derive_seed(settings.seed, "pairwise", prompt, a, b),
                )
            )
    return out


def chosen_wins(verdict: str | None, order: str) -> float | None:
    """1.0 when the verdict picks the chosen response, 0.0 when it picks the rejected one, None when unparseable."""
    if verdict is None:
        return None
    return 1.0 if (verdict == "A") == (order == "AB") else 0.0


def _outputs(
    requests: Sequence[Request], texts: Sequence[str], n: int, mode: str
) -> list[list[dict[str, Any]]]:
    per_example: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    for req, text in zip(requests, texts, strict=True):
        if mode == "rubric":
            parsed = parse_score(text)
        elif req.order is None:
            raise ValueError(f"pairwise judge request for example {req.example} ({req.target}) has no order")
        else:
            parsed = chosen_wins(parse_pair(text), req.order)
        per_example[req.example].append(
            {"target": req.target, "order": req.order, "sample": req.sample, "text": text, "parsed": parsed}
        )
    return per_example


def _mean(values: list[float | None]) -> float | None:
    ok = [v for v in values if v is not None]
    return sum(ok) / len(ok) if ok else None


def rubric_pair_columns(requests: Sequence[Request], texts: Sequence[str], n: int) -> dict[str, list[Any]]:
    """Judge fields and scores of rubric-judged pairs."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "score_chosen",
            "score_rejected",
            "correct",
            "judge_outputs",
            "parse_failures",
            "position_consistent",
        )
    }
    for outs in _outputs(requests, texts, n, "rubric"):
        sc = _mean([o["parsed"] for o in outs if o["target"] == "chosen"])
        sr = _mean([o["parsed"] for o in outs if o["target"] == "rejected"])
        cols["score_chosen"].append(sc)
        cols["score_rejected"].append(sr)
        cols["correct"].append(sc is not None and sr is not None and sc > sr)
        cols["judge_outputs"].append(outs)
        cols["parse_failures"].append(sum(o["parsed"] is None for o in outs))
        cols["position_consistent"].append(None)
    return cols


def rubric_list_columns(
    requests: Sequence[Request], texts: Sequence[str], n_chosen: Sequence[int], n_rejected: Sequence[int]
) -> dict[str, list[Any]]:
    """Judge fields and scores of rubric-judged best-of-N rows (targets ``chosen:<i>``/``rejected:<i>``);
    a completion whose samples all failed has a null score, which never counts as the top score."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "score_chosen",
            "score_rejected",
            "correct",
            "scores_chosen",
            "scores_rejected",
            "judge_outputs",
            "parse_failures",
            "position_consistent",
        )
    }
    for outs, k_c, k_r in zip(_outputs(requests, texts, len(n_chosen), "rubric"), n_chosen, n_rejected):
        sc = [_mean([o["parsed"] for o in outs if o["target"] == f"chosen:{j}"]) for j in range(k_c)]
        sr = [_mean([o["parsed"] for o in outs if o["target"] == f"rejected:{j}"]) for j in range(k_r)]
        ok_c = [x for x in sc if x is not None]
        ok_r = [x for x in sr if x is not None]
        cols["scores_chosen"].append(sc)
        cols["scores_rejected"].append(sr)
        cols["score_chosen"].append(sc[0] if sc else None)
        cols["score_rejected"].append(max(ok_r) if ok_r else None)
        every_parsed = bool(sc) and len(ok_c) == len(sc) and len(ok_r) == len(sr)
        cols["correct"].append(every_parsed and (not ok_r or min(ok_c) > max(ok_r)))
        cols["judge_outputs"].append(outs)
        cols["parse_failures"].append(sum(o["parsed"] is None for o in outs))
        cols["position_consistent"].append(None)
    return cols


def pairwise_columns(requests: Sequence[Request], texts: Sequence[str], n: int) -> dict[str, list[Any]]:
    """Judge fields and win credits of pairwise-judged pairs."""
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "score_chosen",
            "score_rejected",
            "correct",
            "judge_outputs",
            "parse_failures",
            "position_consistent",
        )
    }
    for outs in _outputs(requests, texts, n, "pairwise"):
        wins = [o["parsed"] for o in outs]
        if len(wins) == 1:
            credit = 0.5 if wins[0] is None else wins[0]
            consistent = None
        else:
            both_parsed = all(w is not None for w in wins)
            consistent = (wins[0] == wins[1]) if both_parsed else None
            credit = wins[0] if consistent else 0.5
        cols["score_chosen"].append(credit)
        cols["score_rejected"].append(1.0 - credit)
        cols["correct"].append(credit == 1.0)
        cols["judge_outputs"].append(outs)
        cols["parse_failures"].append(sum(w is None for w in wins))
        cols["position_consistent"].append(consistent)
    return cols
