-- The newest successful run per (benchmark, model, subset) that wrote records of that subset: a later run over other
-- subsets (the Prior Sets, an import covering part of a benchmark) adds to a model's row instead of replacing it.
CREATE OR REPLACE VIEW latest_subset_runs AS
SELECT r.benchmark, r.model, r.subset, max(r.run_id) AS run_id
FROM (SELECT DISTINCT benchmark, model, subset, run_id FROM records) r
JOIN run_models m ON m.run_id = r.run_id AND m.benchmark = r.benchmark AND m.model = r.model
WHERE m.status = 'ok'
GROUP BY r.benchmark, r.model, r.subset;

-- Records of each model's latest successful run per (benchmark, subset) (what the leaderboard uses).
CREATE OR REPLACE VIEW latest_records AS
SELECT r.*
FROM records r
JOIN latest_subset_runs l USING (benchmark, model, subset, run_id);
