-- PPE's best-of-K curve per model (the mean over the correctness sets present at each K), for the report.
SELECT model, k, n_subsets, accuracy
FROM ppe_best_of_k_overall
WHERE benchmark = $benchmark
ORDER BY model, k;
