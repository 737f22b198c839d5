"""Judge reliability views on constructed outputs, against numbers worked out by hand: agreement and Krippendorff's
alpha between ensemble members and between repeated samples, Cohen's kappa per member pair, the cached share,
and the leaderboard's reliability columns."""

from __future__ import annotations

import pytest

from orchestrator.query.db import connect, leaderboard, run_query
from orchestrator.results.records import SCHEMA_VERSION, make_table, write_manifest, write_shard


def _out(target, parsed, *, member=None, sample=0, order=None, label=None, cached=False):
    return {
        "target": target,
        "order": order,
        "sample": sample,
        "text": "t",
        "parsed": parsed,
        "member": member,
        "cached": cached,
        "label": label,
    }


def _write(root, model, outputs, run_id="r1"):
    n = len(outputs)
    table = make_table(
        {
            "schema_version": [SCHEMA_VERSION] * n,
            "run_id": [run_id] * n,
            "benchmark": ["reward-bench"] * n,
            "model": [model] * n,
            "kind": ["judge"] * n,
            "subset": ["alpacaeval-easy"] * n,
            "example_id": list(range(n)),
            "row_index": list(range(n)),
            "shard": [0] * n,
            "correct": [False] * n,
            "score_chosen": [0.5] * n,
            "judge_credit": [0.5] * n,
            "judge_outputs": outputs,
            "parse_failures": [sum(o["parsed"] is None for o in outs) for outs in outputs],
        }
    )
    write_shard(root, table, benchmark="reward-bench", model=model, run_id=run_id, shard=0)
    return {"model": model, "benchmark": "reward-bench", "kind": "judge", "status": "ok", "n_records": n}


# ensemble "ens" (pairwise, one order): member verdicts per example (1 = chosen wins, None = unparseable)
ENS = [(1, 1, 1), (1, 0, 1), (0, 0, None), (1, 0, 0)]
# rubric judge "rj", 3 samples: (chosen samples, rejected samples) per example
RJ = [([4, 4, 4], [2, 3, None]), ([5, 1, 5], [0, 0, 0])]


@pytest.fixture
def store(tmp_path):
    entries = [
        _write(
            tmp_path,
            "ens",
            [
                [
                    _out("pair", v, member=m, order="AB", cached=(i == 0))
                    for m, v in zip(("m1", "m2", "m3"), row)
                ]
                for i, row in enumerate(ENS)
            ],
        ),
        _write(
            tmp_path,
            "rj",
            [
                [_out("chosen", v, sample=s) for s, v in enumerate(c)]
                + [_out("rejected", v, sample=s) for s, v in enumerate(r)]
                for c, r in RJ
            ],
        ),
        _write(
            tmp_path,
            "fw",
            [
                [
                    _out("four-way", 1.0, member="a", order="1023", label="B"),  # B shows completion 0
                    _out("four-way", 0.0, member="b", order="1023", label="A"),  # A shows completion 1
                ]
            ],
        ),
    ]
    write_manifest(tmp_path, {"run_id": "r1", "job": "synthetic", "models": entries})
    return tmp_path


def test_member_and_sample_agreement(store):
    con = connect(store)
    rel = {r["model"]: r for r in run_query(con, "SELECT * FROM judge_reliability").to_pylist()}
    # members: units ex0 {1,1,1}, ex1 {1,0,1}, ex2 {0,0}, ex3 {1,0,0}; all agree on ex0 and ex2 -> 1/2.
    # n = 11; D_o = (0 + (9-5)/2 + 0 + (9-5)/2) / 11 = 4/11; n_1 = 6, n_0 = 5: D_e = (121-61)/110 = 6/11
    # alpha = 1 - (4/11)/(6/11) = 1/3
    assert rel["ens"]["member_agreement"] == 0.5
    assert rel["ens"]["member_alpha"] == pytest.approx(1 / 3)
    # kappa m1-m2: p_o 2/4, p_e 3/4*1/4 + 1/4*3/4 = 3/8 -> 0.2; m1-m3 (ex2 has no m3 vote): p_o 2/3, p_e 2/3 -> 0;
    # m2-m3: p_o 2/3, p_e 1/3*2/3 + 2/3*1/3 = 4/9 -> 0.4; mean 0.2
    kappas = {
        (r["member_a"], r["member_b"]): r
        for r in run_query(con, "SELECT * FROM judge_member_agreement WHERE model = 'ens'").to_pylist()
    }
    assert kappas[("m1", "m2")]["cohen_kappa"] == pytest.approx(0.2) and kappas[("m1", "m2")]["n_units"] == 4
    assert kappas[("m1", "m3")]["cohen_kappa"] == pytest.approx(0.0) and kappas[("m1", "m3")]["n_units"] == 3
    assert kappas[("m2", "m3")]["cohen_kappa"] == pytest.approx(0.4)
    assert rel["ens"]["member_kappa"] == pytest.approx(0.2)
    assert rel["ens"]["sample_alpha"] is None and rel["ens"]["cached_share"] == pytest.approx(3 / 12)
    # samples: units {4,4,4}, {2,3}, {5,1,5}, {0,0,0}; all agree on 2 of 4 -> 1/2.
    # n = 11; D_o = (0 + (4-2)/1 + (9-5)/2 + 0) / 11 = 4/11; sum n_c^2 = 9+1+1+4+1+9 = 25: D_e = 96/110
    # alpha = 1 - (40/110)/(96/110) = 7/12
    assert rel["rj"]["sample_agreement"] == 0.5
    assert rel["rj"]["sample_alpha"] == pytest.approx(7 / 12)
    assert rel["rj"]["member_alpha"] is None and rel["rj"]["cached_share"] == 0.0
    # four-way members vote for the completion they picked: a -> 0 (the chosen one), b -> 1
    votes = run_query(
        con, "SELECT rater, value FROM judge_votes WHERE model = 'fw' ORDER BY rater"
    ).to_pylist()
    assert votes == [{"rater": "member:a", "value": "0"}, {"rater": "member:b", "value": "1"}]
    assert rel["fw"]["member_agreement"] == 0.0


def test_leaderboard_shows_the_alphas(store):
    rows = {r["model"]: r for r in leaderboard(store)}
    assert rows["ens"]["member_alpha"] == pytest.approx(1 / 3) and rows["ens"]["sample_alpha"] is None
    assert rows["rj"]["sample_alpha"] == pytest.approx(7 / 12)


def test_compacted_subset_totals_give_the_same_reliability(store):
    from tests._synth import assert_totals_exact

    counts = assert_totals_exact(store)
    assert counts["judge_reliability"] == 3
