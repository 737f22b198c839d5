-- The leaderboard grouped by model kind (classifier, dpo, judge): mean scores and the best model.
CREATE OR REPLACE VIEW family_leaderboard AS
SELECT
    kind, benchmark,
    count(*) AS n_models,
    avg(score) AS mean_score,
    max(score) AS best_score,
    arg_max(model, score) AS best_model,
    avg("Chat") AS "Chat",
    avg("Chat Hard") AS "Chat Hard",
    avg("Safety") AS "Safety",
    avg("Reasoning") AS "Reasoning"
FROM leaderboard
GROUP BY kind, benchmark;
