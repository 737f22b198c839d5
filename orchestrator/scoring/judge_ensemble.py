"""Ensembles of judges (``kind: judge`` with ``members: [...]``, PoLL-style): every member judges every example,
the record keeps every member's outputs (``judge_outputs[].member``) and the verdict is theirs combined.

* **pairwise** and **four-way**: a majority vote over the completion each member picked (pairwise with
  ``order: both``: the member's consistent pick; an unparseable or inconsistent verdict votes "none"). The
  reference (``run_generative.py``, ``run_generative_v2.py``) takes ``max(set(votes), key=votes.count)``, which
  breaks a tie by the iteration order of a Python ``set`` of strings (it changes with ``PYTHONHASHSEED``, i.e.
  from process to process); we give a tie the mean credit of the tied picks, the reference's expected credit
  over its arbitrary choice, so reruns agree. Credits as for one judge: the chosen completion 1, another 0,
  "none" 0.5 (pairwise) or 0.25 (four-way).
* **rubric** (and the Ties ratings of four-way ensembles): each completion's score is the mean over all members'
  parsed samples (the members' mean when they draw equally many), then the single-judge rules apply.

Members are models of the same job (each also evaluated on its own, so the leaderboard shows the ensemble beside
its members); an API member's identical requests are answered by the judge output cache once one of the two
sent them.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from orchestrator.config import JudgeSpec
from orchestrator.errors import ModelError
from orchestrator.scoring.judge import TIES_SUBSET
from orchestrator.scoring.judge_records import (
    FOUR_WAY_TIE,
    PAIR_TIE,
    JudgeSettings,
    four_way_columns,
    pair_credit,
    rubric_list_columns,
    rubric_pair_columns,
)
from orchestrator.scoring.verdicts import four_way_labels


def majority_credit(picks: Sequence[str | None], chosen: str, tie_value: float) -> float:
    """The credit of the members' majority pick: ``chosen`` earns 1, another pick 0, ``None`` (no verdict)
    ``tie_value``; a tie between picks earns the mean credit of the tied ones."""
    counts = Counter(picks)
    top = max(counts.values())
    tied = [p for p, n in counts.items() if n == top]
    credits = [tie_value if p is None else (1.0 if p == chosen else 0.0) for p in tied]
    return sum(credits) / len(credits)


def _pair_pick(outs: Sequence[dict[str, Any]]) -> str | None:
    credit, _ = pair_credit(outs)
    return "chosen" if credit == 1.0 else "rejected" if credit == 0.0 else None


def _four_way_pick(outs: Sequence[dict[str, Any]]) -> str | None:
    out = outs[0] if outs else None
    if out is None or out.get("label") is None or out.get("order") is None:
        return None
    return out["order"][four_way_labels().index(out["label"])]


class EnsembleJudge:
    """Several judges as one model; each member is the scorer its own spec makes."""

    backend = "ensemble"
    wants_subsets = True

    def __init__(self, spec: JudgeSpec, device: str = "cpu"):
        from orchestrator.config import model_spec
        from orchestrator.scoring import make_scorer
        from orchestrator.scoring._hf import pick_device
        from orchestrator.scoring._protocol import ModelInfo

        start = time.perf_counter()
        if not spec.member_specs:
            raise ModelError(f"model {spec.name!r}: an ensemble needs its members' settings (set by the job)")
        members: list[Any] = [model_spec(m) for m in spec.member_specs]
        if (
            device == "api"
        ):  # in-process members need a real device even when the first member is an API judge
            device = pick_device(False)
        self.spec = spec
        self.device = device
        self.settings = JudgeSettings.from_spec(spec)
        self.member_specs = list(members)
        self.members = []
        for member in members:
            if (member.mode or "rubric") != self.settings.mode:
                raise ModelError(f"model {spec.name!r}: member {member.name!r} judges in another mode")
            self.members.append(make_scorer(member, device="api" if member.backend == "openai" else device))
        prints = [m.info.fingerprint for m in self.members]
        digest = hashlib.sha256("\n".join([self.settings.mode, *prints]).encode()).hexdigest()[:16]
        self.info = ModelInfo(
            path=spec.path,
            revision=None,
            fingerprint=f"ensemble:{digest}",
            dtype="+".join(sorted({str(m.info.dtype) for m in self.members})),
            device=device,
            load_seconds=time.perf_counter() - start,
            num_parameters=sum(int(m.info.num_parameters or 0) for m in self.members),
            extra={
                "members": {s.name: f for s, f in zip(self.member_specs, prints)},
                "judge": dict(vars(self.settings)),
            },
        )

    def take_usage(self) -> dict[str, Any] | None:
        """The API members' traffic since the last call, summed (None when no member is an API judge)."""
        from orchestrator.results.manifest import ApiUsage

        total = None
        for m in self.members:
            usage = m.take_usage() if hasattr(m, "take_usage") else None
            if usage is not None:
                total = (total or ApiUsage()).plus(usage)
        return None if total is None else total.model_dump()

    def _combined(self, per_member: list[dict[str, Any]], n: int) -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        for spec, cols in zip(self.member_specs, per_member):
            for i, outs in enumerate(cols["judge_outputs"]):
                out[i].extend({**o, "member": spec.name} for o in outs)
        return out

    def _member_outputs(self, per_member: list[dict[str, Any]], i: int) -> list[list[dict[str, Any]]]:
        return [cols["judge_outputs"][i] for cols in per_member]

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        per_member = [m.pair_columns(prompts, chosen, rejected) for m in self.members]
        n = len(prompts)
        combined = self._combined(per_member, n)
        base = {k: per_member[0][k] for k in ("chosen", "rejected", "tokens_chosen", "tokens_rejected")}
        if self.settings.mode == "rubric":
            return {**base, **rubric_pair_columns([], [], n, self.settings, outputs=combined)}
        cols: dict[str, list[Any]] = {
            k: []
            for k in (
                "score_chosen",
                "score_rejected",
                "correct",
                "judge_outputs",
                "parse_failures",
                "position_consistent",
                "judge_credit",
            )
        }
        for i in range(n):
            picks = [_pair_pick(outs) for outs in self._member_outputs(per_member, i)]
            credit = majority_credit(picks, "chosen", PAIR_TIE)
            cols["score_chosen"].append(credit)
            cols["score_rejected"].append(1.0 - credit)
            cols["correct"].append(credit == 1.0)
            cols["judge_outputs"].append(combined[i])
            cols["parse_failures"].append(sum(o["parsed"] is None for o in combined[i]))
            cols["position_consistent"].append(None)
            cols["judge_credit"].append(credit)
        return {**base, **cols}

    def list_columns(
        self,
        prompts: Sequence[Any],
        chosen: Sequence[Sequence[str]],
        rejected: Sequence[Sequence[str]],
        subsets: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        per_member = [m.list_columns(prompts, chosen, rejected, subsets) for m in self.members]
        n = len(prompts)
        combined = self._combined(per_member, n)
        n_c, n_r = [len(c) for c in chosen], [len(r) for r in rejected]
        base = {
            k: per_member[0][k]
            for k in (
                "chosen",
                "rejected",
                "texts_chosen",
                "texts_rejected",
                "tokens_chosen",
                "tokens_rejected",
            )
        }
        ties = [x == TIES_SUBSET for x in subsets] if subsets is not None else [False] * n
        if self.settings.mode != "four-way":
            cols = rubric_list_columns([], [], n_c, n_r, self.settings, ties=ties, outputs=combined)
            return {**base, **cols}
        cols = four_way_columns([], [], n_c, n_r, ties, self.settings, outputs=combined)
        for i in range(n):
            if ties[i]:
                continue
            picks = [_four_way_pick(outs) for outs in self._member_outputs(per_member, i)]
            credit = majority_credit(picks, "0", FOUR_WAY_TIE)
            cols["score_chosen"][i] = credit
            cols["correct"][i] = credit == 1.0
            cols["judge_credit"][i] = credit
        return {**base, **cols}
