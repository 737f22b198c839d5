-- RM-Bench's style matrix (its scripts/utils.py compute_accuracy), for subsets with rule 'style-matrix'.
-- Each record holds 3 chosen and 3 rejected scores in the order concise (1), detailed-plain (2),
-- detailed-markdown (3). Cell (i, j) of a record is 1 when chosen_i scores strictly above rejected_j (a tie, or a
-- record that failed to score, is 0). Per domain (the subset's section; safety-refuse and safety-response pool
-- into Safety, as RM-Bench's `domain.startswith('safety')` does) M[i][j] = the mean of cell (i, j) over the
-- domain's records, and
--   hard   = mean of the upper triangle (i < j: a less styled chosen against a more styled rejected)
--   normal = mean of the diagonal
--   easy   = mean of the lower triangle (i > j)
--   domain = mean(hard, normal, easy) (= the mean of all nine cells, which is each record's points)
-- The sections (style_matrix_sections) are the domains and Easy / Normal / Hard (weight 0 in the overall) = the
-- mean over the domains present of the domain's easy / normal / hard; the overall is the mean of the domains.

-- One row per (record, chosen style, rejected style).
CREATE OR REPLACE VIEW style_matrix_cells AS
SELECT l.model, l.kind, l.benchmark, l.subset, s.section AS domain, l.run_id, l.row_index,
       c.i AS chosen_style, c.j AS rejected_style,
       coalesce(l.scores_chosen[c.i] > l.scores_rejected[c.j], false)::INTEGER AS win
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
CROSS JOIN (SELECT i, j FROM range(1, 4) a(i), range(1, 4) b(j)) c
WHERE s.rule = 'style-matrix';

-- The 3x3 matrix per (model, benchmark, domain): accuracy = M[chosen_style][rejected_style]; difficulty names the
-- cell's triangle (hard above the diagonal, normal on it, easy below).
CREATE OR REPLACE VIEW style_matrix AS
SELECT model, any_value(kind) AS kind, benchmark, domain, chosen_style, rejected_style,
       CASE WHEN chosen_style < rejected_style THEN 'hard' WHEN chosen_style = rejected_style THEN 'normal'
            ELSE 'easy' END AS difficulty,
       count(*) AS n, avg(win) AS accuracy
FROM style_matrix_cells
GROUP BY model, benchmark, domain, chosen_style, rejected_style;

-- hard / normal / easy and their mean per (model, benchmark, domain).
CREATE OR REPLACE VIEW style_matrix_domains AS
SELECT model, any_value(kind) AS kind, benchmark, domain, max(n) AS n,
       avg(accuracy) FILTER (WHERE difficulty = 'hard') AS hard,
       avg(accuracy) FILTER (WHERE difficulty = 'normal') AS normal,
       avg(accuracy) FILTER (WHERE difficulty = 'easy') AS easy,
       (avg(accuracy) FILTER (WHERE difficulty = 'hard') + avg(accuracy) FILTER (WHERE difficulty = 'normal')
        + avg(accuracy) FILTER (WHERE difficulty = 'easy')) / 3 AS score
FROM style_matrix
GROUP BY model, benchmark, domain;

-- Each record's points towards its subset's accuracy: the mean of its nine cells.
CREATE OR REPLACE VIEW style_matrix_points AS
WITH p AS (
    SELECT model, benchmark, run_id, row_index, avg(win) AS points
    FROM style_matrix_cells
    GROUP BY model, benchmark, run_id, row_index
)
SELECT l.*, s.rule, p.points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
JOIN p USING (model, benchmark, run_id, row_index)
WHERE s.rule = 'style-matrix';

-- RM-Bench's sections, all from the matrix (pooled over the domain's records, as RM-Bench pools them): each domain
-- (Chat, Math, Code, Safety; weight 1 in the overall, which is therefore the mean of the domains) and Easy / Normal
-- / Hard (weight 0: the mean over the domains present of the domain's easy / normal / hard). complete = every
-- subset of the domain (Easy / Normal / Hard: of the benchmark) has all its expected rows.
CREATE OR REPLACE VIEW style_matrix_sections AS
WITH counts AS (
    SELECT model, benchmark, subset, count(*) AS n FROM latest_records GROUP BY model, benchmark, subset
), coverage AS (
    SELECT m.model, m.benchmark, s.section AS domain, count(c.n) AS n_subsets,
           bool_and(coalesce(c.n = s.n_expected, false)) AS complete
    FROM (SELECT DISTINCT model, benchmark FROM style_matrix_domains) m
    JOIN benchmark_subsets s ON s.benchmark = m.benchmark AND s.rule = 'style-matrix'
    LEFT JOIN counts c ON c.model = m.model AND c.benchmark = m.benchmark AND c.subset = s.subset
    GROUP BY m.model, m.benchmark, s.section
), runs AS (
    SELECT model, benchmark, max(run_id) AS run_id FROM style_matrix_cells GROUP BY model, benchmark
), all_coverage AS (
    SELECT model, benchmark, bool_and(complete) AS complete FROM coverage GROUP BY model, benchmark
)
SELECT d.model, d.kind, d.benchmark, d.domain AS section, d.score, v.n_subsets, r.run_id, v.complete
FROM style_matrix_domains d
JOIN coverage v USING (model, benchmark, domain)
JOIN runs r USING (model, benchmark)
UNION ALL
SELECT d.model, any_value(d.kind) AS kind, d.benchmark, x.section, avg(CASE x.section
           WHEN 'Easy' THEN d.easy WHEN 'Normal' THEN d.normal ELSE d.hard END) AS score,
       count(*) AS n_subsets, any_value(r.run_id) AS run_id, any_value(v.complete) AS complete
FROM style_matrix_domains d
CROSS JOIN (VALUES ('Easy'), ('Normal'), ('Hard')) x(section)
JOIN all_coverage v USING (model, benchmark)
JOIN runs r USING (model, benchmark)
GROUP BY d.model, d.benchmark, x.section;

-- The matrix per (model, benchmark) over domains: each cell the mean of the domains' cells (the report's
-- difficulty matrix; its triangles' means are the Easy / Normal / Hard sections).
CREATE OR REPLACE VIEW style_matrix_overall AS
SELECT model, any_value(kind) AS kind, benchmark, chosen_style, rejected_style, any_value(difficulty) AS difficulty,
       count(*) AS n_domains, avg(accuracy) AS accuracy
FROM style_matrix
GROUP BY model, benchmark, chosen_style, rejected_style;
