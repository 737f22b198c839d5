-- rayward analyze length
SELECT * EXCLUDE (benchmark) FROM length_bias WHERE benchmark = $benchmark ORDER BY model, subset = '(all)' DESC, subset;
