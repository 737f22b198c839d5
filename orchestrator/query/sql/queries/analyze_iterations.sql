-- rayward analyze iterations
SELECT * EXCLUDE (benchmark) FROM iteration_progress WHERE benchmark = $benchmark ORDER BY chain, iteration;
