-- rayward analyze families
SELECT * EXCLUDE (benchmark) FROM family_leaderboard WHERE benchmark = $benchmark ORDER BY mean_score DESC, kind;
