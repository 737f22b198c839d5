-- rayward analyze size
SELECT * EXCLUDE (benchmark) FROM size_vs_score WHERE benchmark = $benchmark ORDER BY num_parameters NULLS LAST, model;
