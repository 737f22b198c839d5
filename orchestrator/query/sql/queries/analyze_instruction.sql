-- rayward analyze instruction
SELECT * EXCLUDE (benchmark) FROM instruction_following WHERE benchmark = $benchmark ORDER BY model;
