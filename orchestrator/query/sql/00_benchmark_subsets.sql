-- Subset -> section mapping, weights (example counts; math-prm upweighted to 984; Prior Sets 1 each), expected rows
-- and the subset's scoring rule (pairwise | best-of-n | ties), as data. A subset with no section is kept but unscored.
CREATE OR REPLACE TABLE benchmark_subsets AS
SELECT benchmark, subset, section, weight::DOUBLE AS weight, n_expected::BIGINT AS n_expected, length_category, rule
FROM read_csv($subsets_csv, header = true, all_varchar = true);
