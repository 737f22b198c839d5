-- RM-Bench's difficulty matrix per model (mean over domains), for the report.
SELECT model, chosen_style, rejected_style, difficulty, n_domains, accuracy
FROM style_matrix_overall
WHERE benchmark = $benchmark
ORDER BY model, chosen_style, rejected_style;
