-- Accuracy per (model, benchmark, subset): the mean of record_points (pairs: correct; best-of-N: 1/k at the top),
-- or the Ties formula (ties_scores) for a 'ties' subset. complete = as many rows as the benchmark expects
-- (always true for custom data, which expects nothing).
-- _subset_scored holds the (model, benchmark, subset) rows computed from the latest records; connect() adds to it
-- the rows of _subset_totals_latest (per-run totals that compaction computed with this same SQL from the same
-- records, used only while the scoring SQL and data tables are unchanged: docs/store.md, "Subset totals").
CREATE OR REPLACE VIEW _subset_scored AS
SELECT r.model, any_value(r.kind) AS kind, r.benchmark, r.subset, any_value(r.run_id) AS run_id,
       count(*) AS n,
       count(*) FILTER (WHERE CASE WHEN r.rule IN (SELECT rule FROM scoring_rules WHERE coalesce(points_view, '') <> '')
                                   THEN r.points = 1 ELSE r.correct END) AS n_correct,
       avg(r.points) AS accuracy
FROM record_points r
WHERE r.rule IS DISTINCT FROM 'ties'
GROUP BY r.model, r.benchmark, r.subset
UNION ALL
SELECT model, kind, benchmark, subset, run_id, n, n_correct, score
FROM ties_scores;

CREATE OR REPLACE VIEW subset_accuracy AS
WITH scored AS (
    SELECT model, kind, benchmark, subset, run_id, n, n_correct, accuracy FROM _subset_scored
    UNION ALL
    SELECT model, kind, benchmark, subset, run_id, n, n_correct, accuracy FROM _subset_totals_latest
)
SELECT
    x.model, x.kind, x.benchmark, x.subset, x.run_id, x.n, x.n_correct, x.accuracy,
    s.section,
    s.n_expected,
    (s.n_expected IS NULL AND s.subset IS NULL) OR coalesce(x.n = s.n_expected, false) AS complete
FROM scored x
LEFT JOIN benchmark_subsets s USING (benchmark, subset);
