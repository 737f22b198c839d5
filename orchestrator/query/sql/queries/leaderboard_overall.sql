-- Overall scores of one benchmark, best first (sections: queries/leaderboard_sections.sql); judges' health
-- and reliability columns from judge_reliability (NULL for other kinds).
SELECT o.model, o.kind, o.score, o.complete, o.incomplete_subsets, o.run_id,
       j.parse_failure_rate, j.position_consistency, j.sample_alpha, j.member_alpha,
       j.primary_parse_failure_rate
FROM overall_scores o
LEFT JOIN judge_reliability j USING (model, benchmark)
WHERE o.benchmark = $benchmark
ORDER BY score DESC, model;
