-- Judge health per (model, benchmark) over the latest records of judge models: how often an output did not parse
-- and, for pairwise judges with order both, how often the two orders agreed.
--   n_outputs             every stored judge output (samples x responses, or orders)
--   parse_failure_rate    unparseable outputs / n_outputs
--   position_consistency  share of examples whose two verdicts agree, among those where both parsed
--                         (NULL unless the judge ran with order both)
CREATE OR REPLACE VIEW judge_stats AS
SELECT
    model, benchmark,
    any_value(judge_outputs[1].target = 'pair') AS pairwise,
    count(*) AS n_examples,
    sum(len(judge_outputs)) AS n_outputs,
    sum(parse_failures) AS parse_failures,
    sum(parse_failures) / nullif(sum(len(judge_outputs)), 0) AS parse_failure_rate,
    count(position_consistent) AS n_position_checked,
    avg(position_consistent::INT) AS position_consistency
FROM latest_records
WHERE kind = 'judge' AND judge_outputs IS NOT NULL
GROUP BY model, benchmark;
