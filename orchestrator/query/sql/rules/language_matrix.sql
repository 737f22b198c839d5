-- M-RewardBench (its analysis/plot_utils.py get_scores, analysis/_plot_leaderboard.py get_leaderboard), for subsets
-- with rule 'language-matrix'. A subset is '<language config>/<v1 subset>' (arb_Arab/alpacaeval-easy): its section
-- in subsets.csv is the language, its weight M-RewardBench's EXAMPLE_COUNTS (math-prm 983 for its 447 rows, so that
-- math and code weigh equally), and the v1 subset's RewardBench section (Chat, Chat Hard, Safety, Reasoning: the
-- reward-bench rows of subsets.csv, the same mapping as M-RewardBench's SUBSET_MAPPING) its section here.
--   a record's points: 1 when chosen beats rejected (`correct`: a tie is wrong, as run_rewardbench.py's
--     `1 if chosen > rejected else 0`), 0 otherwise or when it failed to score; a judge's credit where it has one;
--   cell (language, section) = the weighted mean of the accuracies of the language's subsets of that section;
--   a language = the mean of its sections (get_scores' `sum(category_scores.values()) / len(category_scores)`);
--   the overall = the mean of the languages (sections.csv: weight 1 each; get_leaderboard's Avg).
CREATE OR REPLACE VIEW language_matrix_points AS
SELECT l.*, s.rule,
    CASE
        WHEN l.kind = 'judge' AND l.judge_credit IS NOT NULL THEN l.judge_credit
        WHEN l.kind = 'judge' AND l.judge_outputs[1].target = 'pair' THEN l.score_chosen
        ELSE coalesce(l.correct, false)::DOUBLE
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'language-matrix';

-- The language x section matrix per (model, benchmark): score = the weighted mean of the subset accuracies of one
-- language's section; n = its records; n_subsets = its subsets present; complete = every subset of the cell that
-- the benchmark defines is present with all its expected rows.
CREATE OR REPLACE VIEW language_matrix AS
WITH acc AS (
    SELECT model, any_value(kind) AS kind, benchmark, subset, max(run_id) AS run_id, count(*) AS n,
           avg(points) AS accuracy
    FROM language_matrix_points
    GROUP BY model, benchmark, subset
), cells AS (  -- every (language, section) cell a benchmark defines and its subsets
    SELECT s.benchmark, s.subset, s.section AS language, v.section, s.weight, s.n_expected
    FROM benchmark_subsets s
    JOIN benchmark_subsets v ON v.benchmark = 'reward-bench' AND v.subset = split_part(s.subset, '/', 2)
    WHERE s.rule = 'language-matrix'
), present AS (
    SELECT DISTINCT a.model, a.benchmark, c.language, c.section
    FROM acc a JOIN cells c USING (benchmark, subset)
)
SELECT p.model, any_value(a.kind) AS kind, p.benchmark, p.language, p.section,
       sum(a.accuracy * c.weight) FILTER (WHERE a.subset IS NOT NULL)
           / sum(c.weight) FILTER (WHERE a.subset IS NOT NULL) AS score,
       coalesce(sum(a.n), 0) AS n, count(a.subset) AS n_subsets, max(a.run_id) AS run_id,
       bool_and(coalesce(a.n = c.n_expected, false)) AS complete
FROM present p
JOIN cells c USING (benchmark, language, section)
LEFT JOIN acc a ON a.model = p.model AND a.benchmark = p.benchmark AND a.subset = c.subset
GROUP BY p.model, p.benchmark, p.language, p.section;

-- The sections of the leaderboard: one per language, the mean of its matrix cells present; complete = all four
-- cells present and complete.
CREATE OR REPLACE VIEW language_matrix_sections AS
SELECT model, any_value(kind) AS kind, benchmark, language AS section, avg(score) AS score,
       sum(n_subsets) AS n_subsets, max(run_id) AS run_id, bool_and(complete) AND count(*) = 4 AS complete
FROM language_matrix
GROUP BY model, benchmark, language;

-- Cross-language agreement per (model, benchmark, language pair): the records of one example (its v1 subset and
-- id) in two languages, paired. Each record's label is its points (reward models: 1 right, 0 wrong);
--   agreement = the share of examples with the same label in both languages;
--   kappa = Cohen's kappa of the two label sequences, (p_o - p_e) / (1 - p_e), p_o = agreement,
--           p_e = sum over labels k of p_a(k) * p_b(k) (sklearn's cohen_kappa_score, which M-RewardBench's
--           analysis/compute_iaa.py uses); NULL when p_e = 1 (every label the same one in both languages), where
--           sklearn gives NaN.
CREATE OR REPLACE VIEW language_agreement AS
WITH labels AS (
    SELECT p.model, p.kind, p.benchmark, s.section AS language, split_part(p.subset, '/', 2) AS item_subset,
           p.example_id, p.points AS label
    FROM language_matrix_points p
    JOIN benchmark_subsets s USING (benchmark, subset)
), pairs AS (
    SELECT a.model, a.kind, a.benchmark, a.language AS language_a, b.language AS language_b,
           a.label AS label_a, b.label AS label_b
    FROM labels a
    JOIN labels b ON a.model = b.model AND a.benchmark = b.benchmark AND a.item_subset = b.item_subset
                 AND a.example_id = b.example_id AND a.language < b.language
), observed AS (
    SELECT model, any_value(kind) AS kind, benchmark, language_a, language_b, count(*) AS n,
           avg((label_a = label_b)::DOUBLE) AS agreement
    FROM pairs
    GROUP BY model, benchmark, language_a, language_b
), margin_a AS (
    SELECT model, benchmark, language_a, language_b, label_a AS label, count(*) AS c
    FROM pairs GROUP BY model, benchmark, language_a, language_b, label_a
), margin_b AS (
    SELECT model, benchmark, language_a, language_b, label_b AS label, count(*) AS c
    FROM pairs GROUP BY model, benchmark, language_a, language_b, label_b
), chance AS (
    SELECT o.model, o.benchmark, o.language_a, o.language_b,
           coalesce(sum(ma.c * mb.c), 0) / (o.n * o.n) AS p_e
    FROM observed o
    LEFT JOIN margin_a ma USING (model, benchmark, language_a, language_b)
    LEFT JOIN margin_b mb ON mb.model = o.model AND mb.benchmark = o.benchmark AND mb.language_a = o.language_a
                         AND mb.language_b = o.language_b AND mb.label = ma.label
    GROUP BY o.model, o.benchmark, o.language_a, o.language_b, o.n
)
SELECT o.model, o.kind, o.benchmark, o.language_a, o.language_b, o.n, o.agreement, c.p_e AS chance_agreement,
       CASE WHEN c.p_e >= 1 THEN NULL ELSE (o.agreement - c.p_e) / (1 - c.p_e) END AS kappa
FROM observed o
JOIN chance c USING (model, benchmark, language_a, language_b);

-- One row per (model, benchmark): how consistent a model's verdicts are across languages, over its language pairs:
-- the mean agreement, and the mean and sample standard deviation of kappa over the pairs where it is defined
-- (M-RewardBench's "average inner-model agreement across languages", which its paper measures against English;
-- the hub data has no English config, so every pair of the languages present counts).
CREATE OR REPLACE VIEW language_agreement_models AS
SELECT model, any_value(kind) AS kind, benchmark, count(*) AS n_pairs, count(kappa) AS n_kappa,
       avg(agreement) AS mean_agreement, avg(kappa) AS mean_kappa, stddev_samp(kappa) AS std_kappa
FROM language_agreement
GROUP BY model, benchmark;
