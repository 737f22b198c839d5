-- The cross-benchmark summary (`rayward leaderboard --all`): one row per (model, benchmark) with the benchmark's
-- overall score (overall_scores: each benchmark's own formula), whether that row is complete, and the model's
-- rank on the benchmark (1 = best; models with equal scores share the smaller rank; n_models ranked).
CREATE OR REPLACE VIEW benchmark_summary AS
SELECT o.model, o.kind, o.benchmark, o.score, o.complete, o.incomplete_subsets,
       rank() OVER (PARTITION BY o.benchmark ORDER BY o.score DESC) AS rank,
       count(*) OVER (PARTITION BY o.benchmark) AS n_models,
       o.run_id
FROM overall_scores o
WHERE o.score IS NOT NULL;

-- Kendall's tau-b between the model rankings of every two benchmarks, over the models scored on both:
--   tau_b = sum over model pairs of sign(x_i - x_j) * sign(y_i - y_j)
--           / sqrt(#pairs with x_i != x_j * #pairs with y_i != y_j)
-- (x, y = the two benchmarks' overall scores; a pair tied on one benchmark counts in neither numerator nor that
-- side's denominator, as tau-b treats ties). NULL when fewer than two models are shared or a side is all ties.
-- n_incomplete = shared models whose row on either benchmark is incomplete.
CREATE OR REPLACE VIEW benchmark_rank_agreement AS
WITH shared AS (
    SELECT a.benchmark AS benchmark_a, b.benchmark AS benchmark_b, a.model,
           a.score AS x, b.score AS y, NOT (a.complete AND b.complete) AS incomplete
    FROM benchmark_summary a
    JOIN benchmark_summary b ON a.model = b.model AND a.benchmark < b.benchmark
), pairs AS (
    SELECT p.benchmark_a, p.benchmark_b, sign(p.x - q.x) AS sx, sign(p.y - q.y) AS sy
    FROM shared p
    JOIN shared q ON q.benchmark_a = p.benchmark_a AND q.benchmark_b = p.benchmark_b AND p.model < q.model
), tau AS (
    SELECT benchmark_a, benchmark_b,
           sum(sx * sy) / sqrt(count(*) FILTER (WHERE sx <> 0) * count(*) FILTER (WHERE sy <> 0)) AS kendall_tau
    FROM pairs
    GROUP BY benchmark_a, benchmark_b
    HAVING count(*) FILTER (WHERE sx <> 0) > 0 AND count(*) FILTER (WHERE sy <> 0) > 0
)
SELECT s.benchmark_a, s.benchmark_b, count(*) AS n_models, count(*) FILTER (WHERE s.incomplete) AS n_incomplete,
       t.kendall_tau
FROM shared s
LEFT JOIN tau t USING (benchmark_a, benchmark_b)
GROUP BY s.benchmark_a, s.benchmark_b, t.kendall_tau;
