-- JudgeBench (its utils/metrics.py compute_final_metrics with run_judge.py's default two games), for subsets with
-- rule 'two-game'. The chosen completion is the label's winner; chosen_position says where the pair showed it
-- (0 = response A, 1 = response B).
-- Each game (one order of the two responses) adds +1 when its verdict picks the label's winner, -1 when it picks
-- the other response, 0 when it has none (unparseable); a pair is right only when the sum is > 0, so an
-- inconsistent pair (one game each way) or an unparseable one is wrong.
--   judges (kind judge, pairwise outputs): the games are the judge's outputs (run judges with `order: both`,
--     JudgeBench's two games; with one order the sum is that game's verdict).
--   reward models (classifier, dpo): a game's verdict is "the response shown first wins" exactly when its score is
--     strictly higher, else the second. Over the two orders a strictly higher chosen score wins both games (+2),
--     a strictly lower one loses both (-2), and a tie gives each response one game (0): right exactly when
--     score_chosen > score_rejected. (JudgeBench's published reward-model outputs are two-game runs.)
--   A record that failed to score (no scores, no verdicts) is wrong.
CREATE OR REPLACE VIEW two_game_points AS
SELECT l.*, s.rule,
    CASE
        WHEN l.kind = 'judge' AND l.judge_outputs[1].target = 'pair' THEN
            (coalesce(list_sum(list_transform(l.judge_outputs,
                lambda o: CASE WHEN o.parsed = 1 THEN 1 WHEN o.parsed = 0 THEN -1 ELSE 0 END)), 0) > 0)::DOUBLE
        ELSE coalesce(l.score_chosen > l.score_rejected, false)::DOUBLE
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'two-game';

-- JudgeBench's --single_game run for reward models (one game, the pair's own A/B order): the verdict is A>B
-- exactly when score_A > score_B, else B>A, so a tie goes to B. Per (model, benchmark, subset) beside the
-- two-game accuracy; pairs with no chosen_position or no scores count as wrong.
CREATE OR REPLACE VIEW judgebench_single_game AS
SELECT l.model, any_value(l.kind) AS kind, l.benchmark, l.subset, count(*) AS n,
       avg(CASE
               WHEN l.score_chosen IS NULL OR l.score_rejected IS NULL OR l.chosen_position IS NULL THEN 0.0
               WHEN l.chosen_position = 0 THEN (l.score_chosen > l.score_rejected)::DOUBLE
               ELSE (NOT (l.score_rejected > l.score_chosen))::DOUBLE
           END) AS single_game_accuracy,
       avg(coalesce(l.score_chosen > l.score_rejected, false)::DOUBLE) AS two_game_accuracy
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'two-game' AND l.kind IN ('classifier', 'dpo')
GROUP BY l.model, l.benchmark, l.subset;
