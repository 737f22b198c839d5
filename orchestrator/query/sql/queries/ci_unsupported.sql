-- Latest records of one benchmark that the bootstrap (pairwise correct/incorrect) cannot resample: best-of-N, Ties,
-- and pairwise judges (whose points include 0.5 for an unparseable or inconsistent verdict).
SELECT count(*) AS n
FROM record_points
WHERE benchmark = $benchmark AND (scores_chosen IS NOT NULL OR rule IS NOT DISTINCT FROM 'ties'
                                  OR (kind = 'judge' AND judge_outputs[1].target = 'pair'));
