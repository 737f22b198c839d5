-- Section score = weighted mean of its subsets' accuracies (weights joined as data; summed in subset order, so the
-- same inputs give the same bits however the rows arrive); subsets without a section
-- (kept but unscored, e.g. anthropic_harmless) are left out. A custom benchmark's subset is its own section, weight 1.
-- A rule with a sections_view gives its subsets' sections itself (rule_sections: RM-Bench's domains and Easy /
-- Normal / Hard, from its style matrix).
CREATE OR REPLACE VIEW section_scores AS
SELECT
    a.model,
    any_value(a.kind) AS kind,
    a.benchmark,
    coalesce(s.section, a.subset) AS section,
    sum(a.accuracy * coalesce(s.weight, 1.0) ORDER BY a.subset) / sum(coalesce(s.weight, 1.0) ORDER BY a.subset) AS score,
    count(*) AS n_subsets,
    any_value(a.run_id) AS run_id,
    bool_and(a.complete) AS complete
FROM subset_accuracy a
LEFT JOIN benchmark_subsets s USING (benchmark, subset)
WHERE (s.subset IS NULL OR s.section IS NOT NULL)
  AND coalesce(s.rule, '') NOT IN (SELECT rule FROM scoring_rules WHERE sections_view <> '')
GROUP BY a.model, a.benchmark, coalesce(s.section, a.subset)
UNION ALL BY NAME
SELECT model, kind, benchmark, section, score, n_subsets, run_id, complete FROM rule_sections;
