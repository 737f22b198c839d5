-- Judge reliability as numbers, over the latest records of judge models (constructed from judge_outputs).
--
-- judge_votes: one row per (judge model, benchmark, unit, rater) with the rater's categorical verdict `value`:
--   unit      an example's judged item: subset + example_id + target (rubric: the response, `chosen`, `rejected:1`;
--             pairwise: `pair`; four-way: `four-way`)
--   rater     `member:<name>` (each member of an ensemble) or `sample:<i>` (each repeated sample of one judge,
--             rubric judges with samples > 1)
--   value     rubric: the parsed score as text; pairwise: the pick of the rater's outputs (1 chosen, 0 rejected;
--             with order both only when both orders parsed and agree); four-way: the index of the completion
--             picked (0 = the chosen one). Unparseable outputs cast no vote.
CREATE OR REPLACE VIEW judge_votes AS
WITH o AS (
    SELECT r.model, r.benchmark, r.subset, r.example_id, unnest(r.judge_outputs) AS o
    FROM latest_records r
    WHERE r.kind = 'judge' AND r.judge_outputs IS NOT NULL
),
members AS (
    SELECT model, benchmark, subset, example_id, o.target AS target, 'member:' || o.member AS rater,
        CASE
            WHEN o.target = 'four-way' THEN
                CASE WHEN o.label IS NOT NULL THEN substr(o."order", strpos('ABCD', o.label), 1) END
            WHEN o.target = 'pair' THEN o.parsed::VARCHAR
            ELSE o.parsed::VARCHAR
        END AS value,
        o.parsed AS parsed
    FROM o
    WHERE o.member IS NOT NULL
),
member_votes AS (
    SELECT model, benchmark, subset, example_id, target, rater,
        CASE
            WHEN target = 'pair' THEN
                CASE WHEN count(parsed) = count(*) AND min(parsed) = max(parsed) THEN any_value(value) END
            WHEN target = 'four-way' THEN any_value(value)
            ELSE avg(parsed)::VARCHAR
        END AS value
    FROM members
    GROUP BY model, benchmark, subset, example_id, target, rater
),
sample_votes AS (
    SELECT model, benchmark, subset, example_id, o.target AS target, 'sample:' || o.sample AS rater,
        o.parsed::VARCHAR AS value
    FROM o
    WHERE o.member IS NULL AND o."order" IS NULL AND o.target NOT IN ('pair', 'four-way')
)
SELECT model, benchmark, subset, example_id, target, 'member' AS rater_kind, rater, value
FROM member_votes WHERE value IS NOT NULL
UNION ALL
SELECT v.model, v.benchmark, v.subset, v.example_id, v.target, 'sample', v.rater, v.value
FROM sample_votes v
WHERE v.value IS NOT NULL AND (v.model, v.benchmark) IN (
    SELECT model, benchmark FROM sample_votes GROUP BY model, benchmark HAVING count(DISTINCT rater) > 1
);

-- Per (model, benchmark, rater_kind): agreement of the raters on the units at least two of them judged.
--   n_units          units with >= 2 votes
--   agreement        share of those units where every vote is the same
--   alpha            Krippendorff's alpha, nominal: 1 - D_o / D_e, with D_o = sum over units of
--                    (m_u^2 - sum_c n_uc^2) / (m_u - 1), divided by n = sum m_u, and D_e = (n^2 - sum_c n_c^2) /
--                    (n (n - 1)), n_c counting value c over those units (NULL when every vote is the same value)
CREATE OR REPLACE VIEW judge_rater_agreement AS
WITH cnt AS (
    SELECT model, benchmark, rater_kind, subset, example_id, target, value, count(*) AS n_uc
    FROM judge_votes
    GROUP BY ALL
),
units AS (
    SELECT model, benchmark, rater_kind, subset, example_id, target,
        sum(n_uc) AS m_u, sum(n_uc * n_uc) AS sq, count(*) AS n_values
    FROM cnt
    GROUP BY ALL
    HAVING sum(n_uc) >= 2
),
vals AS (
    SELECT c.model, c.benchmark, c.rater_kind, c.value, sum(c.n_uc) AS n_c
    FROM cnt c
    JOIN units u USING (model, benchmark, rater_kind, subset, example_id, target)
    GROUP BY ALL
),
obs AS (
    SELECT model, benchmark, rater_kind, count(*) AS n_units, avg((n_values = 1)::INT) AS agreement,
        sum(m_u)::DOUBLE AS n, sum((m_u * m_u - sq) / (m_u - 1.0)) AS d
    FROM units
    GROUP BY ALL
),
expd AS (
    SELECT model, benchmark, rater_kind, sum(n_c * n_c)::DOUBLE AS sq FROM vals GROUP BY ALL
)
SELECT o.model, o.benchmark, o.rater_kind, o.n_units, o.agreement,
    CASE WHEN o.n * o.n - e.sq > 0
         THEN 1 - (o.d / o.n) / ((o.n * o.n - e.sq) / (o.n * (o.n - 1))) END AS alpha
FROM obs o
JOIN expd e USING (model, benchmark, rater_kind);

-- Cohen's kappa between every two members of an ensemble, on the units both judged:
--   kappa = (p_o - p_e) / (1 - p_e), p_o = share of shared units with the same verdict, p_e = sum over verdicts
--   of the product of the two members' shares of that verdict (NULL when p_e = 1).
CREATE OR REPLACE VIEW judge_member_agreement AS
WITH m AS (
    SELECT model, benchmark, subset, example_id, target, substr(rater, 8) AS member, value
    FROM judge_votes
    WHERE rater_kind = 'member'
),
pairs AS (
    SELECT a.model, a.benchmark, a.member AS member_a, b.member AS member_b, a.value AS va, b.value AS vb
    FROM m a
    JOIN m b ON a.model = b.model AND a.benchmark = b.benchmark AND a.subset = b.subset
        AND a.example_id = b.example_id AND a.target = b.target AND a.member < b.member
),
n AS (
    SELECT model, benchmark, member_a, member_b, count(*) AS n_units, avg((va = vb)::INT) AS p_o
    FROM pairs
    GROUP BY ALL
),
pa AS (
    SELECT model, benchmark, member_a, member_b, va AS value, count(*) AS k FROM pairs GROUP BY ALL
),
pb AS (
    SELECT model, benchmark, member_a, member_b, vb AS value, count(*) AS k FROM pairs GROUP BY ALL
),
pe AS (
    SELECT n.model, n.benchmark, n.member_a, n.member_b,
        coalesce(sum(pa.k * pb.k / (n.n_units::DOUBLE * n.n_units)), 0) AS p_e
    FROM n
    LEFT JOIN pa USING (model, benchmark, member_a, member_b)
    LEFT JOIN pb ON pb.model = pa.model AND pb.benchmark = pa.benchmark AND pb.member_a = pa.member_a
        AND pb.member_b = pa.member_b AND pb.value = pa.value
    GROUP BY ALL
)
SELECT n.model, n.benchmark, n.member_a, n.member_b, n.n_units, n.p_o AS agreement, pe.p_e AS chance_agreement,
    CASE WHEN pe.p_e < 1 THEN (n.p_o - pe.p_e) / (1 - pe.p_e) END AS cohen_kappa
FROM n
JOIN pe USING (model, benchmark, member_a, member_b);

-- One row per judge (model, benchmark): everything above side by side, with the output cache's share.
--   parse_failure_rate, position_consistency   as in judge_stats (parse failures after the fallback parser)
--   primary_parse_failure_rate, rescued        before the fallback parser, and the outputs it rescued
--   cached_share                               outputs answered by the judge output cache / all outputs
--   sample_agreement, sample_alpha             agreement and Krippendorff's alpha between repeated samples
--   member_agreement, member_alpha             the same between the members of an ensemble
--   member_kappa                               the mean Cohen's kappa over member pairs
CREATE OR REPLACE VIEW judge_reliability AS
WITH c AS (
    SELECT model, benchmark, avg(coalesce(o.cached, false)::INT) AS cached_share
    FROM (SELECT model, benchmark, unnest(judge_outputs) AS o FROM latest_records
          WHERE kind = 'judge' AND judge_outputs IS NOT NULL)
    GROUP BY ALL
)
SELECT s.model, s.benchmark, s.n_examples, s.n_outputs, s.parse_failure_rate, s.position_consistency,
    c.cached_share, s.primary_parse_failure_rate, s.rescued,
    smp.agreement AS sample_agreement, smp.alpha AS sample_alpha,
    mem.agreement AS member_agreement, mem.alpha AS member_alpha,
    (SELECT avg(k.cohen_kappa) FROM judge_member_agreement k
     WHERE k.model = s.model AND k.benchmark = s.benchmark) AS member_kappa
FROM judge_stats s
LEFT JOIN c USING (model, benchmark)
LEFT JOIN judge_rater_agreement smp ON smp.model = s.model AND smp.benchmark = s.benchmark
    AND smp.rater_kind = 'sample'
LEFT JOIN judge_rater_agreement mem ON mem.model = s.model AND mem.benchmark = s.benchmark
    AND mem.rater_kind = 'member';
