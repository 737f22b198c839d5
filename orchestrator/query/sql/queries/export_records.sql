-- One model's latest records of one benchmark, in the benchmark's row order (for `rayward export`).
SELECT subset, example_id, row_index, source_id, chosen, rejected, score_chosen, score_rejected, correct,
       scores_chosen, scores_rejected, texts_chosen, texts_rejected
FROM latest_records
WHERE benchmark = $benchmark AND model = $model
ORDER BY row_index;
