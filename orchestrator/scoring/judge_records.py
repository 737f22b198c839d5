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
from orchestrator.scoring.verdicts import (
    RATING_FAILED,
    RATING_MAX,
    RATING_MIN,
    SCORE_MAX,
    SCORE_MIN,
    four_way_labels,
    parse_label,
    parse_rating,
    parse_score,
)

DEFAULT_SAMPLES = 1
DEFAULT_TEMPERATURE = 0.0
DEFAULT_TOP_P = 1.0
DEFAULT_SEED = 0
DEFAULT_MAX_NEW_TOKENS = 512
DEFAULT_ORDER = "random"
REWARDBENCH_MAX_NEW_TOKENS = 2048
PAIR_TIE = 0.5
"""Credit of an unparseable (or inconsistent) pairwise verdict: the reference's tie."""
FOUR_WAY_TIE = 0.25
"""Credit of an unparseable four-way verdict (``run_generative_v2.py``: "effectively a tie")."""


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
    protocol: str = "default"

    @classmethod
    def from_spec(cls, spec) -> JudgeSettings:
        mode = spec.mode or "rubric"
        protocol = spec.protocol or "default"
        default_tokens = REWARDBENCH_MAX_NEW_TOKENS if protocol == "rewardbench" else DEFAULT_MAX_NEW_TOKENS
        return cls(
            mode=mode,
            samples=spec.samples or DEFAULT_SAMPLES,
            temperature=DEFAULT_TEMPERATURE if spec.temperature is None else float(spec.temperature),
            top_p=DEFAULT_TOP_P if spec.top_p is None else float(spec.top_p),
            seed=DEFAULT_SEED if spec.seed is None else int(spec.seed),
            max_new_tokens=spec.max_new_tokens or default_tokens,
            order=(spec.order or DEFAULT_ORDER) if mode == "pairwise" else None,
            template=spec.template,
            protocol=protocol,
        )

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def ratings(self) -> bool:
        """Rubric judges under ``protocol: rewardbench`` rate 1-10 (the reference's ``--score_w_ratings``)."""
        return self.mode == "rubric" and self.protocol == "rewardbench"

    @property
    def first_wins(self) -> bool:
        """The reference's parse order: an output naming several labels counts as the first one checked."""
        return self.protocol == "rewardbench"

    @property
    def truncate(self) -> bool:
        """Cut prompts to ``max_length`` (the reference does not truncate judge prompts)."""
        return self.protocol != "rewardbench"

    @property
    def template_mode(self) -> str:
        """Which shipped template (and render signature) the judge's main requests use."""
        return "ratings" if self.ratings else self.mode


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


def four_way_credit(label: str | None, order: str | None) -> float | None:
    """1.0 when the four-way verdict picks the chosen completion (index 0 of ``order``), 0.0 for another, None
    when unparseable. ``order`` names the completion shown at A..D as indices into (chosen, rejected 0..2)."""
    if label is None or order is None:
        return None
    return 1.0 if order[four_way_labels().index(label)] == "0" else 0.0


def output_mode(mode: str, settings: JudgeSettings | None) -> str:
    """How the outputs of a judge in ``mode`` are parsed: ``rubric`` (0-5 scores), ``ratings`` (1-10, also
    rubric judges under ``protocol: rewardbench``), ``pairwise`` or ``four-way`` (its Ties rows are ratings)."""
    if mode == "rubric" and settings is not None and settings.ratings:
        return "ratings"
    return mode


def verdict_format(req: Request, mode: str) -> tuple[str, tuple[str, ...], int, int]:
    """What a verdict of ``req`` looks like under the parse mode ``mode`` (:func:`output_mode`): its kind
    (``label``, ``score`` or ``rating``), the allowed labels and the score range (what a fallback parser is told)."""
    if req.target == "four-way":
        return "label", four_way_labels(), 0, 0
    if mode == "pairwise":
        return "label", ("A", "B"), 0, 0
    if mode in ("ratings", "four-way"):
        return "rating", (), RATING_MIN, RATING_MAX
    return "score", (), SCORE_MIN, SCORE_MAX


def parse_output(
    req: Request, text: str, mode: str, first_wins: bool = False
) -> tuple[float | None, str | None]:
    """The parsed value and label of one output of ``req`` under the parse mode ``mode`` (:func:`output_mode`):
    rubric scores, 1-10 ratings, pairwise (1 = the chosen response won) or four-way credits; None when it does
    not parse."""
    if req.target == "four-way":
        label = parse_label(text, four_way_labels(), first_wins=first_wins)
        return four_way_credit(label, req.order), label
    if mode == "pairwise":
        if req.order is None:
            raise ValueError(f"pairwise judge request for example {req.example} ({req.target}) has no order")
        label = parse_label(text, ("A", "B"), first_wins=first_wins)
        return chosen_wins(label, req.order), label
    if mode in ("ratings", "four-way"):
        return parse_rating(text), None
    return parse_score(text), None


def _outputs(
    requests: Sequence[Request],
    texts: Sequence[str],
    n: int,
    mode: str,
    settings: JudgeSettings | None = None,
    cached: Sequence[bool] | None = None,
) -> list[list[dict[str, Any]]]:
    first_wins = bool(settings and settings.first_wins)
    how = output_mode(mode, settings)
    per_example: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    marks = cached if cached is not None else [False] * len(requests)
    for req, text, mark in zip(requests, texts, marks, strict=True):
        parsed, label = parse_output(req, text, how, first_wins)
        per_example[req.example].append(
            {
                "target": req.target,
                "order": req.order,
                "sample": req.sample,
                "text": text,
                "parsed": parsed,
                "member": None,
                "cached": bool(mark),
                "label": label,
                "fallback": None,
            }
        )
    return per_example


def _mean(values: list[float | None]) -> float | None:
    ok = [v for v in values if v is not None]
    return sum(ok) / len(ok) if ok else None


_JUDGE_COLUMNS = (
    "score_chosen",
    "score_rejected",
    "correct",
    "judge_outputs",
    "parse_failures",
    "position_consistent",
    "judge_credit",
)


def _empty(*extra: str) -> dict[str, list[Any]]:
    return {k: [] for k in (*_JUDGE_COLUMNS, *extra)}


def ratings_pair_credit(sc: float | None, sr: float | None) -> float:
    """The reference's credit of two 1-10 ratings (``run_judge_ratings``): 1 when the chosen one is higher, 0 when
    lower, 0.5 when they are equal or either failed."""
    if sc is None or sr is None or sc == RATING_FAILED or sr == RATING_FAILED or sc == sr:
        return PAIR_TIE
    return 1.0 if sc > sr else 0.0


def ratings_list_credit(scores: Sequence[float]) -> float:
    """The reference's credit of a best-of-N row rated 1-10 (``run_judge_ratings_multi``): the first completion
    (the chosen one) shares the top valid rating with k completions: 1/k; it is not on top: 0; no rating valid:
    0.25."""
    valid = [x for x in scores if x != RATING_FAILED]
    if not valid:
        return FOUR_WAY_TIE
    top = max(valid)
    winners = [i for i, x in enumerate(scores) if x == top]
    return (0 in winners) / len(winners)


def rubric_pair_columns(
    requests: Sequence[Request],
    texts: Sequence[str],
    n: int,
    settings: JudgeSettings | None = None,
    cached: Sequence[bool] | None = None,
    outputs: list[list[dict[str, Any]]] | None = None,
) -> dict[str, list[Any]]:
    """Judge fields and scores of rubric-judged pairs (ratings under ``protocol: rewardbench``: a response whose
    ratings all failed scores -1 and the credit is the reference's 1/0/0.5)."""
    ratings = bool(settings and settings.ratings)
    cols = _empty()
    for outs in outputs if outputs is not None else _outputs(requests, texts, n, "rubric", settings, cached):
        sc = _mean([o["parsed"] for o in outs if o["target"] == "chosen"])
        sr = _mean([o["parsed"] for o in outs if o["target"] == "rejected"])
        if ratings:
            sc = RATING_FAILED if sc is None else sc
            sr = RATING_FAILED if sr is None else sr
            credit: float | None = ratings_pair_credit(sc, sr)
            correct = credit == 1.0
        else:
            credit = None
            correct = sc is not None and sr is not None and sc > sr
        cols["score_chosen"].append(sc)
        cols["score_rejected"].append(sr)
        cols["correct"].append(correct)
        cols["judge_outputs"].append(outs)
        cols["parse_failures"].append(sum(o["parsed"] is None for o in outs))
        cols["position_consistent"].append(None)
        cols["judge_credit"].append(credit)
    return cols


def rubric_list_columns(
    requests: Sequence[Request],
    texts: Sequence[str],
    n_chosen: Sequence[int],
    n_rejected: Sequence[int],
    settings: JudgeSettings | None = None,
    cached: Sequence[bool] | None = None,
    *,
    ratings: bool | None = None,
    ties: Sequence[bool] | None = None,
    outputs: list[list[dict[str, Any]]] | None = None,
) -> dict[str, list[Any]]:
    """Judge fields and scores of rubric-judged best-of-N rows (targets ``chosen:<i>``/``rejected:<i>``);
    a completion whose samples all failed has a null score, which never counts as the top score. With 1-10
    ratings (``ratings``; default: the settings' protocol) a failed completion scores -1, as in the reference,
    and ``judge_credit`` is the reference's credit (:func:`ratings_list_credit`), except on ``ties`` rows, which
    the Ties rule scores from the ratings themselves."""
    rated = bool(settings and settings.ratings) if ratings is None else ratings
    cols = _empty("scores_chosen", "scores_rejected")
    per_example = (
        outputs
        if outputs is not None
        else _outputs(requests, texts, len(n_chosen), "ratings" if rated else "rubric", settings, cached)
    )
    for i, (outs, k_c, k_r) in enumerate(zip(per_example, n_chosen, n_rejected)):
        sc = [_mean([o["parsed"] for o in outs if o["target"] == f"chosen:{j}"]) for j in range(k_c)]
        sr = [_mean([o["parsed"] for o in outs if o["target"] == f"rejected:{j}"]) for j in range(k_r)]
        credit = None
        if rated:
            rated_c = [RATING_FAILED if x is None else x for x in sc]
            rated_r = [RATING_FAILED if x is None else x for x in sr]
            sc, sr = list(rated_c), list(rated_r)
            if not (ties and ties[i]):
                credit = ratings_list_credit(rated_c + rated_r)
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
        cols["judge_credit"].append(credit)
    return cols


def pair_credit(outs: Sequence[dict[str, Any]]) -> tuple[float, bool | None]:
    """A pairwise example's win credit and position consistency from its outputs (one order or both)."""
    wins = [o["parsed"] for o in outs]
    if len(wins) == 1:
        return (PAIR_TIE if wins[0] is None else wins[0]), None
    both_parsed = all(w is not None for w in wins)
    consistent = (wins[0] == wins[1]) if both_parsed else None
    return (wins[0] if consistent else PAIR_TIE), consistent


def pairwise_columns(
    requests: Sequence[Request],
    texts: Sequence[str],
    n: int,
    settings: JudgeSettings | None = None,
    cached: Sequence[bool] | None = None,
    outputs: list[list[dict[str, Any]]] | None = None,
) -> dict[str, list[Any]]:
    """Judge fields and win credits of pairwise-judged pairs."""
    cols = _empty()
    for outs in (
        outputs if outputs is not None else _outputs(requests, texts, n, "pairwise", settings, cached)
    ):
        credit, consistent = pair_credit(outs)
        cols["score_chosen"].append(credit)
        cols["score_rejected"].append(1.0 - credit)
        cols["correct"].append(credit == 1.0)
        cols["judge_outputs"].append(outs)
        cols["parse_failures"].append(sum(o["parsed"] is None for o in outs))
        cols["position_consistent"].append(consistent)
        cols["judge_credit"].append(credit)
    return cols


# --------------------------------------------------------------------------- RewardBench 2: four-way and Ties


def four_way_order(settings: JudgeSettings, prompt: Any, chosen: str, rejected: Sequence[str]) -> str:
    """The completions shown at A..D, as indices into (chosen, rejected 0, rejected 1, rejected 2): the
    reference's shuffle (``run_generative_v2.py``) swaps the chosen completion with the one at a position drawn
    uniformly from 0..3, so the chosen one lands on each label with probability 1/4 and the rejected ones keep
    their order otherwise. Our draw is seeded by the content (the reference draws from numpy's global state)."""
    k = derive_seed(settings.seed, "four-way", prompt, chosen, list(rejected[:3])) % 4
    shown = ["0", "1", "2", "3"]
    shown[0], shown[k] = shown[k], shown[0]
    return "".join(shown)


def plan_four_way(
    settings: JudgeSettings,
    template: JudgeTemplate,
    ratings_template: JudgeTemplate,
    prompts: Sequence[Any],
    chosen: Sequence[Sequence[str]],
    rejected: Sequence[Sequence[str]],
    ties: Sequence[bool],
) -> list[Request]:
    """One four-way request per non-Ties row (its first chosen and first three rejected completions); on Ties
    rows one 1-10 rating request per completion (targets ``chosen:<i>``/``rejected:<i>``)."""
    out = []
    for i, (prompt, c, r, tie) in enumerate(zip(prompts, chosen, rejected, ties)):
        if tie:
            items = [(f"chosen:{j}", t) for j, t in enumerate(c)] + [
                (f"rejected:{j}", t) for j, t in enumerate(r)
            ]
            for target, text in items:
                out.append(
                    Request(
                        i,
                        target,
                        None,
                        0,
                        ratings_template.render(prompt, text),
                        derive_seed(settings.seed, "ratings", prompt, text, 0),
                    )
                )
            continue
        if len(c) < 1 or len(r) < 3:
            raise ValueError(
                f"a four-way judge needs one chosen and three rejected completions per row, got {len(c)} and "
                f"{len(r)}"
            )
        order = four_way_order(settings, prompt, c[0], r)
        pool = [c[0], *r[:3]]
        shown = [pool[int(x)] for x in order]
        out.append(
            Request(
                i,
                "four-way",
                order,
                0,
                template.render(prompt, *shown),
                derive_seed(settings.seed, "four-way", prompt, *shown),
            )
        )
    return out


def four_way_columns(
    requests: Sequence[Request],
    texts: Sequence[str],
    n_chosen: Sequence[int],
    n_rejected: Sequence[int],
    ties: Sequence[bool],
    settings: JudgeSettings,
    cached: Sequence[bool] | None = None,
    outputs: list[list[dict[str, Any]]] | None = None,
) -> dict[str, list[Any]]:
    """Record columns of a four-way judge over RewardBench 2 rows. Non-Ties rows: ``judge_credit`` = 1 when the
    verdict picks the chosen completion, 0 for a rejected one, 0.25 when unparseable (the reference's credit;
    ``score_chosen`` = the credit); Ties rows: the 1-10 ratings as ``scores_chosen``/``scores_rejected`` (-1 for
    a failed rating, as the reference feeds its Ties scoring), scored by the Ties rule."""
    per_example = (
        outputs
        if outputs is not None
        else _outputs(requests, texts, len(n_chosen), "four-way", settings, cached)
    )
    rated = rubric_list_columns(
        [], [], n_chosen, n_rejected, settings, ratings=True, ties=[True] * len(ties), outputs=per_example
    )
    for i, (outs, tie) in enumerate(zip(per_example, ties)):
        if tie:
            continue
        parsed = outs[0]["parsed"] if outs else None
        credit = FOUR_WAY_TIE if parsed is None else parsed
        rated["scores_chosen"][i] = None
        rated["scores_rejected"][i] = None
        rated["score_chosen"][i] = credit
        rated["score_rejected"][i] = None
        rated["correct"][i] = credit == 1.0
        rated["judge_credit"][i] = credit
    return rated
