-- The cross-benchmark summary, long form: every model's overall score and rank on every benchmark.
SELECT model, kind, benchmark, score, complete, incomplete_subsets, rank, n_models, run_id
FROM benchmark_summary
ORDER BY benchmark, rank, model;
