-- Which scored subsets of each (model, benchmark) row are missing or partial. A subset of an optional section
-- (v1 Prior Sets) only counts when the model has some records of that section.
CREATE OR REPLACE VIEW subset_coverage AS
WITH mb AS (  -- the (model, benchmark) pairs with latest records (each has some subset's accuracy)
    SELECT DISTINCT model, benchmark FROM subset_accuracy
), present AS (
    SELECT DISTINCT a.model, a.benchmark, s.section
    FROM subset_accuracy a JOIN benchmark_subsets s USING (benchmark, subset)
)
SELECT mb.model, mb.benchmark, s.subset, s.section, coalesce(a.n, 0) AS n, s.n_expected,
       coalesce(a.complete, false) AS complete,
       NOT coalesce(a.complete, false) AND (NOT w.optional OR p.section IS NOT NULL) AS flagged
FROM mb
JOIN benchmark_subsets s ON s.benchmark = mb.benchmark AND s.section IS NOT NULL
JOIN benchmark_sections w ON w.benchmark = s.benchmark AND w.section = s.section
LEFT JOIN subset_accuracy a ON a.model = mb.model AND a.benchmark = mb.benchmark AND a.subset = s.subset
LEFT JOIN present p ON p.model = mb.model AND p.benchmark = mb.benchmark AND p.section = s.section;

-- Overall score per (benchmark, model): the section-weighted mean of the sections present (custom data: the
-- unweighted mean of its subsets; summed in section order). complete = no flagged subset; incomplete_subsets
-- lists them ('subset n/expected').
CREATE OR REPLACE VIEW overall_scores AS
WITH o AS (
    SELECT x.model, any_value(x.kind) AS kind, x.benchmark,
           sum(x.score * coalesce(w.section_weight, 1.0) ORDER BY x.section)
               / sum(coalesce(w.section_weight, 1.0) ORDER BY x.section) AS score,
           count(*) AS n_sections, max(x.run_id) AS run_id
    FROM section_scores x
    LEFT JOIN benchmark_sections w USING (benchmark, section)
    GROUP BY x.model, x.benchmark
), f AS (
    SELECT model, benchmark,
           string_agg(subset || ' ' || n::VARCHAR || '/' || n_expected::VARCHAR, ', ' ORDER BY subset) AS incomplete_subsets
    FROM subset_coverage
    WHERE flagged
    GROUP BY model, benchmark
)
SELECT o.model, o.kind, o.benchmark, o.score, o.n_sections, f.incomplete_subsets IS NULL AS complete,
       f.incomplete_subsets, o.run_id
FROM o
LEFT JOIN f USING (model, benchmark);
