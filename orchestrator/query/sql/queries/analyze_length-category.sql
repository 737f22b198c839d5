-- rayward analyze length-category
SELECT * EXCLUDE (benchmark) FROM length_bias_by_category WHERE benchmark = $benchmark ORDER BY model, length_category;
