-- Section scores of one benchmark in its own section order (custom data: subsets by name).
SELECT x.model, x.section, x.score
FROM section_scores x
LEFT JOIN benchmark_sections w USING (benchmark, section)
WHERE x.benchmark = $benchmark
ORDER BY coalesce(w.section_order, 1000), x.section, x.model;
