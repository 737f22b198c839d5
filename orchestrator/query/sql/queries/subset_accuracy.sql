-- Per-subset accuracy of one benchmark, in the benchmark's section order (custom data: subsets by name;
-- subsets kept but unscored, e.g. anthropic_harmless, last).
SELECT a.model, a.subset, a.section, a.accuracy, a.n, a.n_correct, a.n_expected, a.complete
FROM subset_accuracy a
LEFT JOIN benchmark_sections w ON w.benchmark = a.benchmark AND w.section = a.section
WHERE a.benchmark = $benchmark
ORDER BY a.model, coalesce(w.section_order, 1000), a.subset;
