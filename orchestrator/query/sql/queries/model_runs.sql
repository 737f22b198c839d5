-- Successful runs of one model on one benchmark, oldest first.
SELECT run_id, started_at, finished_at, n_records
FROM run_models
WHERE benchmark = $benchmark AND model = $model AND status = 'ok'
ORDER BY run_id;
