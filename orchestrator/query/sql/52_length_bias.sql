-- Length bias. Length = tokens where both tokens_chosen and tokens_rejected are recorded,
-- else characters (length_unit says which). longer = which completion is longer.
CREATE OR REPLACE VIEW length_pairs AS
SELECT
    r.*,
    CASE WHEN r.tokens_chosen IS NOT NULL AND r.tokens_rejected IS NOT NULL THEN 'tokens' ELSE 'chars' END AS length_unit,
    CASE WHEN r.tokens_chosen IS NOT NULL AND r.tokens_rejected IS NOT NULL THEN r.tokens_chosen ELSE length(r.chosen) END AS len_chosen,
    CASE WHEN r.tokens_chosen IS NOT NULL AND r.tokens_rejected IS NOT NULL THEN r.tokens_rejected ELSE length(r.rejected) END AS len_rejected
FROM latest_records r;

-- Accuracy split by whether the chosen completion is longer, per subset and overall (subset = '(all)',
-- pooled over examples). length_category is the reference's per-subset label (True / Neutral / False)
-- from benchmark_subsets. gap = acc_chosen_longer - acc_chosen_shorter (positive = prefers longer).
CREATE OR REPLACE VIEW length_bias AS
WITH labelled AS (
    SELECT
        model, kind, benchmark, subset, correct,
        CASE WHEN len_chosen > len_rejected THEN 'longer'
             WHEN len_chosen < len_rejected THEN 'shorter'
             WHEN len_chosen = len_rejected THEN 'equal' END AS chosen_is
    FROM length_pairs
),
grouped AS (
    SELECT
        model, any_value(kind) AS kind, benchmark, coalesce(subset, '(all)') AS subset,
        count(*) AS n,
        avg(correct::INT) AS accuracy,
        count(*) FILTER (WHERE chosen_is = 'longer') AS n_chosen_longer,
        avg(correct::INT) FILTER (WHERE chosen_is = 'longer') AS acc_chosen_longer,
        count(*) FILTER (WHERE chosen_is = 'shorter') AS n_chosen_shorter,
        avg(correct::INT) FILTER (WHERE chosen_is = 'shorter') AS acc_chosen_shorter,
        count(*) FILTER (WHERE chosen_is = 'equal') AS n_equal,
        avg(correct::INT) FILTER (WHERE chosen_is = 'equal') AS acc_equal
    FROM labelled
    GROUP BY GROUPING SETS ((model, benchmark, subset), (model, benchmark))
)
SELECT
    g.model, g.kind, g.benchmark, g.subset, s.length_category,
    g.n, g.accuracy,
    g.n_chosen_longer, g.acc_chosen_longer,
    g.n_chosen_shorter, g.acc_chosen_shorter,
    g.n_equal, g.acc_equal,
    g.acc_chosen_longer - g.acc_chosen_shorter AS gap
FROM grouped g
LEFT JOIN benchmark_subsets s ON s.benchmark = g.benchmark AND s.subset = g.subset;

-- Per model: Pearson correlation of score with length, pooling chosen and rejected completions
-- (two points per record). corr_tokens uses recorded token counts, corr_chars character counts.
CREATE OR REPLACE VIEW length_score_correlation AS
WITH points AS (
    SELECT model, kind, benchmark, score_chosen AS score, tokens_chosen AS tokens, length(chosen) AS chars FROM latest_records
    UNION ALL
    SELECT model, kind, benchmark, score_rejected, tokens_rejected, length(rejected) FROM latest_records
)
SELECT
    model, any_value(kind) AS kind, benchmark,
    count(*) FILTER (WHERE score IS NOT NULL) AS n_points,
    corr(score, tokens) AS corr_tokens,
    corr(score, chars) AS corr_chars
FROM points
GROUP BY model, benchmark;

-- Accuracy per reference length category (benchmark_subsets.length_category: True = the reference's chosen
-- responses are longer, False = shorter, Neutral = similar), pooled over the examples of those subsets.
CREATE OR REPLACE VIEW length_bias_by_category AS
SELECT
    r.model, any_value(r.kind) AS kind, r.benchmark, s.length_category,
    count(DISTINCT r.subset) AS n_subsets,
    count(*) AS n,
    avg(coalesce(r.correct, false)::INT) AS accuracy
FROM latest_records r
JOIN benchmark_subsets s USING (benchmark, subset)
GROUP BY r.model, r.benchmark, s.length_category;
