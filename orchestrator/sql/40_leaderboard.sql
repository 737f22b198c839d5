-- One row per (benchmark, model): section scores and the section-weighted overall score.
CREATE OR REPLACE VIEW leaderboard AS
SELECT
    x.model,
    any_value(x.kind) AS kind,
    x.benchmark,
    max(x.score) FILTER (WHERE x.section = 'Chat') AS "Chat",
    max(x.score) FILTER (WHERE x.section = 'Chat Hard') AS "Chat Hard",
    max(x.score) FILTER (WHERE x.section = 'Safety') AS "Safety",
    max(x.score) FILTER (WHERE x.section = 'Reasoning') AS "Reasoning",
    max(x.score) FILTER (WHERE x.section = 'Prior Sets') AS "Prior Sets",
    sum(x.score * w.section_weight) / sum(w.section_weight) AS score,
    bool_and(x.complete) AS complete,
    any_value(x.run_id) AS run_id
FROM section_scores x
JOIN benchmark_sections w USING (benchmark, section)
GROUP BY x.model, x.benchmark;
