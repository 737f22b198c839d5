-- Section score = example-count-weighted mean of its subsets' accuracies (weights joined as data).
CREATE OR REPLACE VIEW section_scores AS
SELECT
    a.model,
    any_value(a.kind) AS kind,
    a.benchmark,
    s.section,
    sum(a.accuracy * s.weight) / sum(s.weight) AS score,
    count(*) AS n_subsets,
    any_value(a.run_id) AS run_id,
    bool_and(a.complete) AS complete
FROM subset_accuracy a
JOIN benchmark_subsets s USING (benchmark, subset)
GROUP BY a.model, a.benchmark, s.section;
