-- PPE's human preference accuracy (Frick et al., arXiv 2410.14872), for subsets with rule 'ppe-preference'. The
-- chosen completion is the battle winner's response; a tie in `winner` (tie, tie (bothbad)) has chosen_position
-- null and no points, so it counts in the subset's rows (n, completeness) but not in its accuracy, which is the
-- mean over the decided battles: PPE leaves ties out. A reward model is right when the winner's response scores
-- strictly above the loser's (a tie in scores, or a record that failed to score, is wrong); a judge earns its
-- credit (judge_credit).
CREATE OR REPLACE VIEW ppe_preference_points AS
SELECT l.*, s.rule,
    CASE
        WHEN l.chosen_position IS NULL THEN NULL
        WHEN l.kind = 'judge' AND l.judge_credit IS NOT NULL THEN l.judge_credit
        ELSE coalesce(l.score_chosen > l.score_rejected, false)::DOUBLE
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'ppe-preference';

-- PPE's human preference accuracy per category (the categories of the data table ppe_categories, from
-- orchestrator/benchmarks/data/ppe_categories.csv by 03_ppe_categories.sql: a battle is in
-- a category when its metadata[key] equals (match 'equals') or differs from (match 'differs') the value; an empty
-- key is every battle) and per language (every value of metadata['language'], category 'language=<value>').
-- The battle's metadata is the examples table's (orchestrator/benchmarks/ppe_human.py keeps every published column
-- but the texts). Accuracy as in ppe_preference_points: ties in `winner` left out (n counts them, n_decided not).
CREATE OR REPLACE VIEW ppe_preference_categories AS
WITH tagged AS (
    SELECT p.model, p.kind, p.benchmark, p.points, c.category, 'category' AS grouping, c.category_order
    FROM ppe_preference_points p
    JOIN ppe_categories c
      ON c.key = ''
      OR (c.match = 'equals' AND p.metadata[c.key] = c.value)
      OR (c.match = 'differs' AND p.metadata[c.key] <> c.value)
    UNION ALL
    SELECT p.model, p.kind, p.benchmark, p.points, 'language=' || p.metadata['language'], 'language', NULL
    FROM ppe_preference_points p
    WHERE p.metadata['language'] IS NOT NULL
)
SELECT model, any_value(kind) AS kind, benchmark, category, grouping, any_value(category_order) AS category_order,
       count(*) AS n, count(points) AS n_decided, avg(points) AS accuracy
FROM tagged
GROUP BY model, benchmark, category, grouping;
