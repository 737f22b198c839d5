-- SPIN / self-rewarding chains: one row per (benchmark, chain, iteration) for models whose records carry an
-- `iteration` (kind dpo; a job's `iterations: [m0, ..., mn]` expands into models `<chain>@<t>` scored against
-- m(t-1)). accuracy = reward accuracy pooled over the latest records (chosen scored strictly above rejected),
-- score = the leaderboard's overall score, mean_margin = mean implicit-reward margin (chosen - rejected);
-- the delta_* columns compare with the previous iteration of the same chain (NULL for the first).
CREATE OR REPLACE VIEW iteration_progress AS
WITH it AS (
    SELECT r.benchmark, r.model, regexp_replace(r.model, '@[0-9]+$', '') AS chain,
           max(r.iteration) AS iteration, any_value(r.reference) AS reference, any_value(r.beta) AS beta,
           count(*) AS n, avg(r.correct::INTEGER) AS accuracy,
           avg(r.score_chosen - r.score_rejected) AS mean_margin
    FROM latest_records r
    WHERE r.iteration IS NOT NULL
    GROUP BY r.benchmark, r.model
)
SELECT it.chain, it.iteration, it.model, it.benchmark, it.reference, it.beta, it.n, it.accuracy, o.score,
       it.mean_margin,
       it.accuracy - lag(it.accuracy) OVER w AS delta_accuracy,
       o.score - lag(o.score) OVER w AS delta_score,
       lag(it.model) OVER w AS previous_model
FROM it
LEFT JOIN overall_scores o USING (benchmark, model)
WINDOW w AS (PARTITION BY it.benchmark, it.chain ORDER BY it.iteration);
