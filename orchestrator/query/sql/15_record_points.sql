-- What each latest record earns towards its subset's accuracy:
--   pairs (no score lists):  1 if correct (score_chosen > score_rejected; a tie is wrong) else 0;
--   best-of-N (score lists): the reference's rule: all = chosen scores ++ rejected scores, top = max(all);
--                            1/k if the FIRST chosen completion scores top, k = how many completions score top; else 0.
--   judges with a credit (judge_credit set: pairwise, four-way, 1-10 ratings under protocol rewardbench) and
--   kind pairwise models that set one (SteamSHP: the mean of its two orders' verdicts): the credit,
--                            pairwise 1 won, 0 lost, 0.5 for an unparseable (or, with order both, inconsistent)
--                            verdict, as the reference counts an unparseable verdict as a tie; four-way 1, 0 or
--                            0.25 (unparseable); ratings the reference's 1/k, 0, 0.25 (best-of-N) or 1/0/0.5 (pairs);
--   pairwise judges of records before schema 4 (outputs with target 'pair', no judge_credit): score_chosen.
-- Ties subsets (rule 'ties') are scored per subset by ties_scores instead; their points here are NULL.
-- Subsets whose rule has its own SQL file (scoring_rules.points_view: RM-Bench, JudgeBench, RMB) take their points
-- from that file's view (rule_points, the union of them).
CREATE OR REPLACE VIEW record_points AS
WITH r AS (
    SELECT l.*, s.rule,
           list_concat(l.scores_chosen, coalesce(l.scores_rejected, []::DOUBLE[])) AS all_scores
    FROM latest_records l
    LEFT JOIN benchmark_subsets s USING (benchmark, subset)
)
SELECT r.* EXCLUDE (all_scores),
    CASE
        WHEN r.rule = 'ties' THEN NULL
        WHEN r.kind IN ('judge', 'pairwise') AND r.judge_credit IS NOT NULL THEN r.judge_credit
        WHEN r.kind = 'judge' AND r.judge_outputs[1].target = 'pair' THEN r.score_chosen
        WHEN r.scores_chosen IS NULL OR len(r.scores_chosen) = 0 THEN CASE WHEN r.correct THEN 1.0 ELSE 0.0 END
        WHEN r.scores_chosen[1] = list_max(r.all_scores)
            THEN 1.0 / len(list_filter(r.all_scores, lambda x: x = list_max(r.all_scores)))
        ELSE 0.0
    END AS points
FROM r
WHERE r.rule IS NULL OR r.rule NOT IN (SELECT rule FROM scoring_rules WHERE coalesce(points_view, '') <> '')
UNION ALL BY NAME
SELECT * FROM rule_points;
