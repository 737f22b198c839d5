-- PPE's human preference accuracy (Frick et al., arXiv 2410.14872), for subsets with rule 'ppe-preference'. The
-- chosen completion is the battle winner's response; a tie in `winner` (tie, tie (bothbad)) has chosen_position
-- null and no points, so it counts in the subset's rows (n, completeness) but not in its accuracy, which is the
-- mean over the decided battles: PPE leaves ties out. A reward model is right when the winner's response scores
-- strictly above the loser's (a tie in scores, or a record that failed to score, is wrong); a judge earns its
-- credit (judge_credit).
CREATE OR REPLACE VIEW ppe_preference_points AS
SELECT l.*, s.rule,
    CASE
        WHEN l.chosen_position IS NULL THEN NULL
        WHEN l.kind = 'judge' AND l.judge_credit IS NOT NULL THEN l.judge_credit
        ELSE coalesce(l.score_chosen > l.score_rejected, false)::DOUBLE
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'ppe-preference';
