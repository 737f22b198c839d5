-- Kendall's tau-b between every two benchmarks' model rankings (benchmark_rank_agreement).
SELECT benchmark_a, benchmark_b, n_models, n_incomplete, kendall_tau
FROM benchmark_rank_agreement
ORDER BY benchmark_a, benchmark_b;
