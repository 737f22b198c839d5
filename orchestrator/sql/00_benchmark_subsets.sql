-- Subset -> section mapping and weights (example counts; math-prm upweighted to 984), as data.
CREATE OR REPLACE TABLE benchmark_subsets AS
SELECT benchmark, subset, section, weight::DOUBLE AS weight, n_expected::BIGINT AS n_expected, length_category
FROM read_csv($subsets_csv, header = true, all_varchar = true);
