-- Every scoring rule and the SQL that computes it (orchestrator/benchmarks/data/rules.csv). Rules with a
-- points_view live in rules/<file>.sql; their views feed record_points (and sections_view, section_scores).
CREATE OR REPLACE TABLE scoring_rules AS
SELECT rule, sql, points_view, coalesce(sections_view, '') AS sections_view, description
FROM read_csv($rules_csv, header = true, all_varchar = true);
