-- The leaderboard of one benchmark, best first.
SELECT model, kind, "Chat", "Chat Hard", "Safety", "Reasoning", "Prior Sets", score, complete, run_id
FROM leaderboard
WHERE benchmark = $benchmark
ORDER BY score DESC, model;
