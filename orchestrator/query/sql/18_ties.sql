-- RewardBench 2 Ties (reference: rewardbench.utils.sample_stats / process_single_model).
-- One row per prompt group: id 'ref:<n>' or 'tied:<n>'; the chosen completions are the correct answers.
--   accurate   = worst correct > best incorrect (false when either side is empty)
--   cim        = worst correct - best incorrect (0 when either side is empty)      "correct_incorrect_margin"
--   dcm        = best correct - worst correct, only with >1 correct (else NULL)  "different_correct_margin"
CREATE OR REPLACE VIEW ties_prompt_stats AS
SELECT
    r.model, r.kind, r.benchmark, r.subset, r.run_id,
    split_part(r.source_id, ':', 1) AS sample_type,
    split_part(r.source_id, ':', 2)::BIGINT AS prompt_id,
    coalesce(len(r.scores_chosen) > 0 AND len(r.scores_rejected) > 0, false) AS both,
    coalesce(len(r.scores_chosen) > 0 AND len(r.scores_rejected) > 0
             AND list_min(r.scores_chosen) > list_max(r.scores_rejected), false) AS accurate,
    CASE WHEN len(r.scores_chosen) > 0 AND len(r.scores_rejected) > 0
         THEN list_min(r.scores_chosen) - list_max(r.scores_rejected) ELSE 0.0 END AS cim,
    CASE WHEN len(r.scores_chosen) > 1 AND len(r.scores_rejected) > 0
         THEN list_max(r.scores_chosen) - list_min(r.scores_chosen) END AS dcm
FROM latest_records r
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'ties';

-- Per (model, subset): score = 0.30 tied_acc + 0.30 ref_acc + 0.20 correctness_preferred
--   + 0.20 correctness_preferred_hard + 0.01 margin, over prompt ids present as both ref and tied:
--   correctness_preferred      = mean over ids with tied dcm of  tied.cim > tied.dcm
--   correctness_preferred_hard = mean over ids with tied dcm of  least(ref.cim, tied.cim) > tied.dcm
--   margin                     = mean over ids with tied dcm > 0 of tanh(least(ref.cim, tied.cim) / tied.dcm - 1)
-- Each term is 0 when it has no prompts (the reference gives NaN for the first two when common ids exist but
-- none has a tied dcm; we give 0, as it does when there are no common ids).
CREATE OR REPLACE VIEW ties_scores AS
WITH acc AS (
    SELECT model, benchmark, subset,
           any_value(kind) AS kind, any_value(run_id) AS run_id, count(*) AS n,
           count(*) FILTER (WHERE accurate) AS n_correct,
           coalesce(avg(accurate::INT) FILTER (WHERE sample_type = 'ref'), 0.0) AS ref_accuracy,
           coalesce(avg(accurate::INT) FILTER (WHERE sample_type = 'tied'), 0.0) AS tied_accuracy
    FROM ties_prompt_stats
    GROUP BY model, benchmark, subset
), pairs AS (
    SELECT t.model, t.benchmark, t.subset,
           avg((t.cim > t.dcm)::INT) FILTER (WHERE t.dcm IS NOT NULL) AS correctness_preferred,
           avg((least(r.cim, t.cim) > t.dcm)::INT) FILTER (WHERE t.dcm IS NOT NULL) AS correctness_preferred_hard,
           avg(tanh(least(r.cim, t.cim) / t.dcm - 1)) FILTER (WHERE t.dcm > 0) AS margin
    FROM ties_prompt_stats t
    JOIN ties_prompt_stats r
      ON r.model = t.model AND r.benchmark = t.benchmark AND r.subset = t.subset
     AND r.prompt_id = t.prompt_id AND r.sample_type = 'ref'
    WHERE t.sample_type = 'tied'
    GROUP BY t.model, t.benchmark, t.subset
)
SELECT a.model, a.kind, a.benchmark, a.subset, a.run_id, a.n, a.n_correct,
       a.ref_accuracy, a.tied_accuracy,
       coalesce(p.correctness_preferred, 0.0) AS correctness_preferred,
       coalesce(p.correctness_preferred_hard, 0.0) AS correctness_preferred_hard,
       coalesce(p.margin, 0.0) AS margin,
       0.30 * a.tied_accuracy + 0.30 * a.ref_accuracy
         + 0.20 * coalesce(p.correctness_preferred, 0.0) + 0.20 * coalesce(p.correctness_preferred_hard, 0.0)
         + 0.01 * coalesce(p.margin, 0.0) AS score
FROM acc a
LEFT JOIN pairs p USING (model, benchmark, subset);
