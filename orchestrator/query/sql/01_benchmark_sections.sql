-- Section weights for the overall score (RewardBench v1: 2,2,2,2 and Prior Sets 1; v2: 1 each), display order,
-- and whether a section is optional (its absence does not make a row incomplete).
CREATE OR REPLACE TABLE benchmark_sections AS
SELECT benchmark, section, section_weight::DOUBLE AS section_weight, section_order::INTEGER AS section_order,
       optional::BOOLEAN AS optional
FROM read_csv($sections_csv, header = true, all_varchar = true);
