-- One row per (benchmark, model) with RewardBench v1's section columns (other benchmarks' sections: section_scores,
-- or `rayward leaderboard --benchmark NAME`, which pivots each benchmark's own sections). Judges add their health
-- columns from judge_reliability (parse_failure_rate, position_consistency, sample_alpha, member_alpha,
-- primary_parse_failure_rate: before the fallback parser); NULL for other kinds.
CREATE OR REPLACE VIEW leaderboard AS
SELECT
    o.model,
    o.kind,
    o.benchmark,
    max(x.score) FILTER (WHERE x.section = 'Chat') AS "Chat",
    max(x.score) FILTER (WHERE x.section = 'Chat Hard') AS "Chat Hard",
    max(x.score) FILTER (WHERE x.section = 'Safety') AS "Safety",
    max(x.score) FILTER (WHERE x.section = 'Reasoning') AS "Reasoning",
    max(x.score) FILTER (WHERE x.section = 'Prior Sets') AS "Prior Sets",
    any_value(o.score) AS score,
    any_value(o.complete) AS complete,
    any_value(o.run_id) AS run_id,
    any_value(j.parse_failure_rate) AS parse_failure_rate,
    any_value(j.position_consistency) AS position_consistency,
    any_value(j.sample_alpha) AS sample_alpha,
    any_value(j.member_alpha) AS member_alpha,
    any_value(j.primary_parse_failure_rate) AS primary_parse_failure_rate
FROM overall_scores o
JOIN section_scores x USING (model, benchmark)
LEFT JOIN judge_reliability j USING (model, benchmark)
GROUP BY o.model, o.kind, o.benchmark;
