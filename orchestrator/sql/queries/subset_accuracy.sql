-- Per-subset accuracy of one benchmark, in the benchmark's subset order.
SELECT a.model, a.subset, s.section, a.accuracy, a.n, a.n_correct, a.complete
FROM subset_accuracy a
JOIN benchmark_subsets s USING (benchmark, subset)
JOIN benchmark_sections w USING (benchmark, section)
WHERE a.benchmark = $benchmark
ORDER BY a.model, w.section_order, s.subset;
