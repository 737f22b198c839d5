-- rayward analyze length-correlation
SELECT * EXCLUDE (benchmark) FROM length_score_correlation WHERE benchmark = $benchmark ORDER BY model;
