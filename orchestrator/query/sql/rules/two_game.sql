-- JudgeBench (its utils/metrics.py compute_final_metrics), for subsets with rule 'two-game'. The chosen completion
-- is the label's winner; chosen_position says where the pair showed it (0 = response A, 1 = response B).
--   judges (kind judge, pairwise outputs): each game (order) adds +1 when its verdict picks the label's winner,
--     -1 when it picks the other response, 0 when it did not parse; the pair is right only when the sum is > 0,
--     so an inconsistent pair (one game each way) or an unparseable one is wrong. Run judges with `order: both`
--     (JudgeBench's two games); with one order the sum is that game's verdict.
--   reward models (classifier, dpo): the verdict is A>B exactly when score_A > score_B, else B>A, so a tie
--     goes to B: right when chosen is A and scores strictly above B, or chosen is B and A does not score above B.
--   A record that failed to score (no scores, no verdicts) is wrong.
CREATE OR REPLACE VIEW two_game_points AS
SELECT l.*, s.rule,
    CASE
        WHEN l.kind = 'judge' AND l.judge_outputs[1].target = 'pair' THEN
            (coalesce(list_sum(list_transform(l.judge_outputs,
                lambda o: CASE WHEN o.parsed = 1 THEN 1 WHEN o.parsed = 0 THEN -1 ELSE 0 END)), 0) > 0)::DOUBLE
        WHEN l.score_chosen IS NULL OR l.score_rejected IS NULL OR l.chosen_position IS NULL THEN 0.0
        WHEN l.chosen_position = 0 THEN (l.score_chosen > l.score_rejected)::DOUBLE
        ELSE (NOT (l.score_rejected > l.score_chosen))::DOUBLE
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'two-game';
