-- Best-of-N records of one model in one run: the paired tests of `diff` (and the regression check) cover pairs only.
SELECT count(*) AS n
FROM records
WHERE benchmark = $benchmark AND model = $model AND run_id = $run_id AND scores_chosen IS NOT NULL;
