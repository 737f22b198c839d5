-- Records of each model's latest successful run per benchmark (what the leaderboard uses).
CREATE OR REPLACE VIEW latest_records AS
SELECT r.*
FROM records r
JOIN latest_runs l USING (benchmark, model, run_id);
