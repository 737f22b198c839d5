-- Per-subset accuracy of one benchmark, in the benchmark's section order.
SELECT a.model, a.subset, s.section, a.accuracy, a.n, a.n_correct, a.n_expected, a.complete
FROM subset_accuracy a
JOIN benchmark_subsets s ON s.benchmark = a.benchmark AND s.subset = a.subset
JOIN benchmark_sections w ON w.benchmark = s.benchmark AND w.section = s.section
WHERE a.benchmark = $benchmark
ORDER BY a.model, w.section_order, s.subset;
