-- Latest records of one benchmark that the bootstrap (pairwise correct/incorrect) cannot resample: best-of-N and Ties.
SELECT count(*) AS n
FROM record_points
WHERE benchmark = $benchmark AND (scores_chosen IS NOT NULL OR rule IS NOT DISTINCT FROM 'ties');
