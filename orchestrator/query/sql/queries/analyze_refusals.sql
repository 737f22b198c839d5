-- rayward analyze refusals
SELECT * EXCLUDE (benchmark) FROM refusal_balance WHERE benchmark = $benchmark ORDER BY model;
