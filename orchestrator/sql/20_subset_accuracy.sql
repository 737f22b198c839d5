-- Accuracy per (model, benchmark, subset): correct = score_chosen > score_rejected (a tie is wrong).
CREATE OR REPLACE VIEW subset_accuracy AS
SELECT
    r.model,
    any_value(r.kind) AS kind,
    r.benchmark,
    r.subset,
    any_value(r.run_id) AS run_id,
    count(*) AS n,
    count(*) FILTER (WHERE r.correct) AS n_correct,
    avg(CASE WHEN r.correct THEN 1.0 ELSE 0.0 END) AS accuracy,
    any_value(s.section) AS section,
    any_value(s.n_expected) AS n_expected,
    coalesce(count(*) = any_value(s.n_expected), false) AS complete
FROM latest_records r
LEFT JOIN benchmark_subsets s USING (benchmark, subset)
GROUP BY r.model, r.benchmark, r.subset;
