-- RMB, for subsets with rule 'beats-all': a record is right when every chosen completion scores strictly above
-- every rejected one: a pair when chosen > reject (RMB's eval/scripts/my_run_rm.py: `1 if chosen > rejected`),
-- a best-of-N list when bon_best beats every loser in loser_list. A tie, or a record that failed to score, is wrong.
CREATE OR REPLACE VIEW beats_all_points AS
SELECT l.*, s.rule,
    CASE
        WHEN len(l.scores_chosen) > 0 AND len(l.scores_rejected) > 0
            THEN coalesce(list_min(l.scores_chosen) > list_max(l.scores_rejected), false)::DOUBLE
        ELSE 0.0
    END AS points
FROM latest_records l
JOIN benchmark_subsets s USING (benchmark, subset)
WHERE s.rule = 'beats-all';
