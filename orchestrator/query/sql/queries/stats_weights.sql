-- Subset -> section weights and section weights of one benchmark (the same tables the score views join).
SELECT s.subset, s.section, s.weight, w.section_weight, w.section_order
FROM benchmark_subsets s
JOIN benchmark_sections w ON w.benchmark = s.benchmark AND w.section = s.section
WHERE s.benchmark = $benchmark
ORDER BY w.section_order, s.subset;
