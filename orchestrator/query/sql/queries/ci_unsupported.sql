-- Latest records of one benchmark that the bootstrap (pairwise correct/incorrect) cannot resample: best-of-N, Ties,
-- pairwise judges (whose points include 0.5 for an unparseable or inconsistent verdict), and subsets whose rule
-- computes its own sections (scoring_rules.sections_view: M-RewardBench's mean of sections per language, which the
-- bootstrap's one weighted mean per section is not).
SELECT count(*) AS n
FROM record_points
WHERE benchmark = $benchmark AND (scores_chosen IS NOT NULL OR rule IS NOT DISTINCT FROM 'ties'
                                  OR (kind = 'judge' AND judge_outputs[1].target = 'pair')
                                  OR rule IN (SELECT rule FROM scoring_rules WHERE sections_view <> ''));
