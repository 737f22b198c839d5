-- Per-example outcomes of each model's latest successful run (for bootstrap CIs); a NULL correct counts as wrong, as in subset_accuracy.
SELECT model, subset, example_id, prompt, coalesce(correct, false) AS correct
FROM latest_records
WHERE benchmark = $benchmark
ORDER BY model, subset, example_id, row_index;
