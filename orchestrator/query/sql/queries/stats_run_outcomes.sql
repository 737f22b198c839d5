-- Per-example outcomes of one model in one run (any status), from the records view.
SELECT model, subset, example_id, prompt, coalesce(correct, false) AS correct
FROM records
WHERE benchmark = $benchmark AND model = $model AND run_id = $run_id
ORDER BY subset, example_id, row_index;
