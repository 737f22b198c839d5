-- Reasoning: math (math-prm) vs code (hep-<language>), from subset_accuracy.
-- code = unweighted mean of the hep-* subset accuracies present; spread over languages as
-- max - min and the population standard deviation (stddev_pop).
CREATE OR REPLACE VIEW reasoning_by_language AS
SELECT model, kind, benchmark, subset, substr(subset, 5) AS language, n, n_correct, accuracy
FROM subset_accuracy
WHERE subset LIKE 'hep-%';

CREATE OR REPLACE VIEW reasoning_breakdown AS
WITH code AS (
    SELECT
        model, benchmark,
        avg(accuracy) AS code,
        count(*) AS n_languages,
        max(accuracy) FILTER (WHERE language = 'cpp') AS cpp,
        max(accuracy) FILTER (WHERE language = 'go') AS go,
        max(accuracy) FILTER (WHERE language = 'java') AS java,
        max(accuracy) FILTER (WHERE language = 'js') AS js,
        max(accuracy) FILTER (WHERE language = 'python') AS python,
        max(accuracy) FILTER (WHERE language = 'rust') AS rust,
        max(accuracy) - min(accuracy) AS code_spread,
        stddev_pop(accuracy) AS code_stddev
    FROM reasoning_by_language
    GROUP BY model, benchmark
),
math AS (
    SELECT model, kind, benchmark, accuracy AS math
    FROM subset_accuracy
    WHERE subset = 'math-prm'
),
models AS (
    SELECT model, any_value(kind) AS kind, benchmark FROM subset_accuracy GROUP BY model, benchmark
)
SELECT
    m.model, m.kind, m.benchmark,
    mt.math, c.code, mt.math - c.code AS math_minus_code,
    c.cpp, c.go, c.java, c.js, c.python, c.rust,
    c.n_languages, c.code_spread, c.code_stddev
FROM models m
LEFT JOIN math mt USING (model, benchmark)
LEFT JOIN code c USING (model, benchmark)
WHERE mt.math IS NOT NULL OR c.code IS NOT NULL;
