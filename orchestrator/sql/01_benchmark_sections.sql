-- Section weights for the overall score (RewardBench v1: 2,2,2,2 and Prior Sets 1).
CREATE OR REPLACE TABLE benchmark_sections AS
SELECT benchmark, section, section_weight::DOUBLE AS section_weight, section_order::INTEGER AS section_order
FROM read_csv($sections_csv, header = true, all_varchar = true);
