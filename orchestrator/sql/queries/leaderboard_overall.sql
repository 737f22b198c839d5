-- Overall scores of one benchmark, best first (sections: queries/leaderboard_sections.sql).
SELECT model, kind, score, complete, incomplete_subsets, run_id
FROM overall_scores
WHERE benchmark = $benchmark
ORDER BY score DESC, model;
