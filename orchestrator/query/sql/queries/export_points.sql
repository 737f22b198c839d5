-- Each latest record's points (best-of-N: 1/k at the top; Ties: NULL) for the reference's `results` column.
SELECT row_index, points
FROM record_points
WHERE benchmark = $benchmark AND model = $model;
