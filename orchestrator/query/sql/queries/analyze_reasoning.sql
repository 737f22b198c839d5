-- rayward analyze reasoning
SELECT * EXCLUDE (benchmark) FROM reasoning_breakdown WHERE benchmark = $benchmark ORDER BY model;
