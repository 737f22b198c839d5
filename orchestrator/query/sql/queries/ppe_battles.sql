-- PPE human preference battles per model (for the ranking metrics, orchestrator/query/ppe_ranking.py): the latest
-- records with their battle metadata (model_a, model_b, winner; from the examples table).
SELECT model, kind, row_index, score_chosen, score_rejected, chosen_position, judge_credit,
       metadata['model_a'] AS model_a, metadata['model_b'] AS model_b, metadata['winner'] AS winner
FROM ppe_preference_points
WHERE benchmark = $benchmark
ORDER BY model, row_index;
