-- The newest successful run per (benchmark, model, subset) that wrote records of that subset: a later run over other
-- subsets (the Prior Sets, an import covering part of a benchmark) adds to a model's row instead of replacing it.
-- _run_subsets (benchmark, model, subset, run_id) comes from the run manifests (a run's `subsets` per model), or from
-- that run's records where its manifest does not list them; no other run's records are read.
CREATE OR REPLACE VIEW latest_subset_runs AS
SELECT r.benchmark, r.model, r.subset, max(r.run_id) AS run_id
FROM _run_subsets r
JOIN run_models m ON m.run_id = r.run_id AND m.benchmark = r.benchmark AND m.model = r.model
WHERE m.status = 'ok'
GROUP BY r.benchmark, r.model, r.subset;

-- Records of each model's latest successful run per (benchmark, subset) (what the leaderboard uses); _latest_raw
-- holds exactly those records (read once per connection from the latest runs' files), texts joined as in records.
CREATE OR REPLACE VIEW latest_records AS
SELECT r.* REPLACE (
    CASE WHEN r.texts IS NULL THEN r.prompt ELSE e.prompt END AS prompt,
    CASE WHEN r.texts IS NULL THEN r.chosen ELSE e.chosen END AS chosen,
    CASE WHEN r.texts IS NULL THEN r.rejected ELSE e.rejected END AS rejected,
    CASE WHEN r.texts IS NULL THEN r.texts_chosen ELSE e.texts_chosen END AS texts_chosen,
    CASE WHEN r.texts IS NULL THEN r.texts_rejected ELSE e.texts_rejected END AS texts_rejected
), e.metadata
FROM _latest_raw r
LEFT JOIN examples e ON e.texts = r.texts AND e.row_index = r.row_index;
