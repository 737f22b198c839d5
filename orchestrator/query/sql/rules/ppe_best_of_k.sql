-- PPE's correctness metrics (Frick et al., arXiv 2410.14872), for subsets with rule 'ppe-best-of-k'. Each record is
-- one (prompt, answering model) row: scores_chosen = the scores of its verifiably correct responses,
-- scores_rejected = those of its incorrect ones (either may be empty). A record that failed to score (no score
-- lists) counts as a row whose conflict pairs (from its texts) are all wrong and whose pick is wrong at every K,
-- and is left out of the ROC AUC.

-- One row per (record, response): its score and its correctness label (1 correct, 0 incorrect).
CREATE OR REPLACE VIEW ppe_responses AS
SELECT l.model, l.kind, l.benchmark, l.subset, l.run_id, l.row_index,
       unnest(list_concat(l.scores_chosen, l.scores_rejected)) AS score,
       unnest(list_concat(list_transform(l.scores_chosen, lambda x: 1), list_transform(l.scores_rejected, lambda x: 0)))
           AS label
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'ppe-best-of-k' AND l.scores_chosen IS NOT NULL AND l.scores_rejected IS NOT NULL;

-- Accuracy on conflict pairs, per record: every (correct, incorrect) pair of the row, right when the correct
-- response scores strictly above the incorrect one (a tie in scores is wrong). points = wins / pairs (null for a
-- row whose responses are all correct or all incorrect: it has no conflict pair); the subset's accuracy pools the
-- pairs (ppe_correctness_scores).
CREATE OR REPLACE VIEW ppe_best_of_k_points AS
SELECT l.*, s.rule,
       coalesce(len(l.scores_chosen), len(l.texts_chosen)) * coalesce(len(l.scores_rejected), len(l.texts_rejected))
           AS n_pairs,
       CASE WHEN l.scores_chosen IS NULL OR l.scores_rejected IS NULL THEN 0
            ELSE list_sum(list_transform(l.scores_chosen,
                     lambda c: len(list_filter(l.scores_rejected, lambda r: c > r)))) END AS wins,
       CASE WHEN l.scores_chosen IS NULL OR l.scores_rejected IS NULL THEN 0.0
            WHEN len(l.scores_chosen) = 0 OR len(l.scores_rejected) = 0 THEN NULL
            ELSE list_sum(list_transform(l.scores_chosen,
                     lambda c: len(list_filter(l.scores_rejected, lambda r: c > r))))
                 / (len(l.scores_chosen) * len(l.scores_rejected))::DOUBLE END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'ppe-best-of-k';

-- Best of K, exactly in expectation: K of the row's N responses drawn uniformly without replacement, the
-- highest-scored one picked (a tie at the top broken uniformly at random, as taking the first of a random draw
-- order does), the pick's correctness averaged over every draw. With the row's distinct score levels v, n_v
-- responses at v of which c_v correct, and m_v responses below v:
--   E[K] = sum_v (c_v / n_v) * (C(m_v + n_v, K) - C(m_v, K)) / C(N, K)
-- (the bracket over C(N, K) is the chance that the best drawn level is v; given it, the pick is uniform over v's
-- responses). C(n, k) = round(exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1))), 0 when k > n.
CREATE OR REPLACE VIEW ppe_score_levels AS
WITH levels AS (
    SELECT model, kind, benchmark, subset, run_id, row_index, score, count(*) AS n_v, sum(label) AS c_v
    FROM ppe_responses
    GROUP BY model, kind, benchmark, subset, run_id, row_index, score
)
SELECT *,
       coalesce(sum(n_v) OVER (PARTITION BY model, benchmark, subset, run_id, row_index ORDER BY score
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS m_v,
       sum(n_v) OVER (PARTITION BY model, benchmark, subset, run_id, row_index) AS n_total
FROM levels;

CREATE OR REPLACE MACRO ppe_comb(n, k) AS
    CASE WHEN k > n OR k < 0 THEN 0.0
         ELSE round(exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1))) END;

-- Per record and K = 1..N: the expected correctness of the best of K.
CREATE OR REPLACE VIEW ppe_record_best_of_k AS
SELECT v.model, any_value(v.kind) AS kind, v.benchmark, v.subset, v.run_id, v.row_index, k.k,
       sum(v.c_v / v.n_v * (ppe_comb(v.m_v + v.n_v, k.k) - ppe_comb(v.m_v, k.k))) / ppe_comb(any_value(v.n_total), k.k)
           AS accuracy
FROM ppe_score_levels v
CROSS JOIN LATERAL (SELECT unnest(range(1, v.n_total::BIGINT + 1)) AS k) k
GROUP BY v.model, v.benchmark, v.subset, v.run_id, v.row_index, k.k;

-- The best-of-K curve per (model, benchmark, subset): the mean over the subset's rows (a row that failed to score
-- counts 0 at every K up to the largest N of the subset; a row with fewer responses than K is left out at K).
CREATE OR REPLACE VIEW ppe_best_of_k_curve AS
WITH ks AS (
    SELECT model, benchmark, subset, max(k) AS k_max FROM ppe_record_best_of_k GROUP BY model, benchmark, subset
), failed AS (
    SELECT p.model, p.kind, p.benchmark, p.subset, p.run_id, p.row_index, unnest(range(1, ks.k_max + 1)) AS k,
           0.0 AS accuracy
    FROM ppe_best_of_k_points p
    JOIN ks USING (model, benchmark, subset)
    WHERE p.scores_chosen IS NULL OR p.scores_rejected IS NULL
)
SELECT model, any_value(kind) AS kind, benchmark, subset, k, count(*) AS n, avg(accuracy) AS accuracy
FROM (SELECT * FROM ppe_record_best_of_k UNION ALL BY NAME SELECT * FROM failed)
GROUP BY model, benchmark, subset, k;

-- The curve over the sets: per (model, benchmark, K) the mean of the subsets' curves (PPE's average best-of-K).
CREATE OR REPLACE VIEW ppe_best_of_k_overall AS
SELECT model, any_value(kind) AS kind, benchmark, k, count(*) AS n_subsets, avg(accuracy) AS accuracy
FROM ppe_best_of_k_curve
GROUP BY model, benchmark, k;

-- ROC AUC of the scores against the correctness labels, pooled over the subset's responses (sklearn's
-- roc_auc_score): the Mann-Whitney statistic with average ranks, so a correct and an incorrect response with equal
-- scores count one half. Null when the subset has no correct or no incorrect response.
CREATE OR REPLACE VIEW ppe_roc_auc AS
WITH ranked AS (
    SELECT model, kind, benchmark, subset, label,
           (rank() OVER w + count(*) OVER (PARTITION BY model, benchmark, subset, score) - 1 + rank() OVER w) / 2.0
               AS avg_rank
    FROM ppe_responses
    WINDOW w AS (PARTITION BY model, benchmark, subset ORDER BY score)
)
SELECT model, any_value(kind) AS kind, benchmark, subset,
       count(*) FILTER (WHERE label = 1) AS n_correct, count(*) FILTER (WHERE label = 0) AS n_incorrect,
       CASE WHEN count(*) FILTER (WHERE label = 1) = 0 OR count(*) FILTER (WHERE label = 0) = 0 THEN NULL
            ELSE (sum(avg_rank) FILTER (WHERE label = 1)
                  - count(*) FILTER (WHERE label = 1) * (count(*) FILTER (WHERE label = 1) + 1) / 2.0)
                 / (count(*) FILTER (WHERE label = 1) * count(*) FILTER (WHERE label = 0))::DOUBLE END AS roc_auc
FROM ranked
GROUP BY model, benchmark, subset;

-- Every PPE correctness metric per (model, benchmark, subset): rows, conflict pairs, accuracy on them (pooled),
-- best-of-K max (the curve's highest value over K) and end (its value at the largest K, 32 on the published
-- sets), ROC AUC; complete = the subset has all its expected rows.
CREATE OR REPLACE VIEW ppe_correctness_scores AS
WITH acc AS (
    SELECT model, any_value(kind) AS kind, benchmark, subset, any_value(run_id) AS run_id, count(*) AS n,
           sum(n_pairs)::BIGINT AS n_pairs, sum(coalesce(wins, 0))::BIGINT AS wins
    FROM ppe_best_of_k_points
    GROUP BY model, benchmark, subset
), curve AS (
    SELECT model, benchmark, subset, max(accuracy) AS best_of_k_max, arg_max(accuracy, k) AS best_of_k_end
    FROM ppe_best_of_k_curve
    GROUP BY model, benchmark, subset
)
SELECT a.model, a.kind, a.benchmark, a.subset, s.section, a.run_id, a.n, a.n_pairs,
       CASE WHEN a.n_pairs > 0 THEN a.wins / a.n_pairs::DOUBLE END AS accuracy,
       c.best_of_k_max, c.best_of_k_end, r.roc_auc, coalesce(a.n = s.n_expected, false) AS complete
FROM acc a
JOIN benchmark_subsets s USING (benchmark, subset)
LEFT JOIN curve c USING (model, benchmark, subset)
LEFT JOIN ppe_roc_auc r USING (model, benchmark, subset);

-- The leaderboard's sections: each set's accuracy on conflict pairs (weight 1: the overall is their mean), and
-- Best-of-K Max / Best-of-K End / ROC AUC (weight 0: the mean over the sets present). complete = the set (for the
-- weight-0 sections: every set of the benchmark) has all its expected rows.
CREATE OR REPLACE VIEW ppe_best_of_k_sections AS
WITH all_sets AS (
    SELECT m.model, m.benchmark, bool_and(coalesce(x.complete, false)) AS complete
    FROM (SELECT DISTINCT model, benchmark FROM ppe_correctness_scores) m
    JOIN benchmark_subsets s ON s.benchmark = m.benchmark AND s.rule = 'ppe-best-of-k'
    LEFT JOIN ppe_correctness_scores x ON x.model = m.model AND x.benchmark = m.benchmark AND x.subset = s.subset
    GROUP BY m.model, m.benchmark
)
SELECT model, any_value(kind) AS kind, benchmark, section, avg(accuracy) AS score, count(*) AS n_subsets,
       max(run_id) AS run_id, bool_and(complete) AS complete
FROM ppe_correctness_scores
GROUP BY model, benchmark, section
UNION ALL
SELECT x.model, any_value(x.kind), x.benchmark, m.section,
       avg(CASE m.section WHEN 'Best-of-K Max' THEN x.best_of_k_max WHEN 'Best-of-K End' THEN x.best_of_k_end
                          ELSE x.roc_auc END),
       count(*), max(x.run_id), any_value(a.complete)
FROM ppe_correctness_scores x
CROSS JOIN (VALUES ('Best-of-K Max'), ('Best-of-K End'), ('ROC AUC')) m(section)
JOIN all_sets a USING (model, benchmark)
GROUP BY x.model, x.benchmark, m.section;
