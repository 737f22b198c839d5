-- The newest run per (benchmark, model) that finished that model successfully.
CREATE OR REPLACE VIEW latest_runs AS
SELECT benchmark, model, max(run_id) AS run_id
FROM run_models
WHERE status = 'ok'
GROUP BY benchmark, model;
