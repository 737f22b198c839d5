-- Score against parameter count (run_models.num_parameters of the leaderboard's run).
-- corr_log_params: Pearson correlation of score with ln(num_parameters) over the benchmark's models.
CREATE OR REPLACE VIEW size_vs_score AS
SELECT
    l.model, l.kind, l.benchmark, m.num_parameters,
    log10(m.num_parameters) AS log10_parameters,
    l.score,
    corr(l.score, ln(m.num_parameters)) OVER (PARTITION BY l.benchmark) AS corr_log_params
FROM leaderboard l
LEFT JOIN run_models m ON m.run_id = l.run_id AND m.model = l.model AND m.benchmark = l.benchmark;
