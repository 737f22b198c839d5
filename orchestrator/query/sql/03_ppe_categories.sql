-- PPE's human preference categories, as data (orchestrator/benchmarks/data/ppe_categories.csv): a battle is in a
-- category when its metadata[key] equals (match 'equals') or differs from (match 'differs') value; an empty key is
-- every battle. Read by ppe_preference_categories (rules/ppe_preference.sql).
CREATE OR REPLACE TABLE ppe_categories AS
SELECT category, category_order::INTEGER AS category_order, coalesce(key, '') AS key, coalesce(match, '') AS match,
       value, description
FROM read_csv($ppe_categories_csv, header = true, all_varchar = true);
