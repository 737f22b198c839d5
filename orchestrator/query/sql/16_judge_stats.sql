-- Judge health per (model, benchmark) over the latest records of judge models: how often an output did not parse
-- and, for pairwise judges with order both, how often the two orders agreed.
--   n_outputs             every stored judge output (samples x responses, or orders)
--   parse_failure_rate    unparseable outputs / n_outputs (after the fallback parser, when one is configured)
--   primary_parse_failures, primary_parse_failure_rate
--                         outputs whose own text did not parse (before the fallback parser: parsed null, or
--                         sent to the fallback, whose answer is in judge_outputs[].fallback) and their share
--   rescued               outputs the fallback parser rescued (fallback answer set, verdict parsed)
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
    sum(len(list_filter(judge_outputs, lambda o: o.parsed IS NULL OR o.fallback IS NOT NULL)))
        AS primary_parse_failures,
    sum(len(list_filter(judge_outputs, lambda o: o.parsed IS NULL OR o.fallback IS NOT NULL)))
        / nullif(sum(len(judge_outputs)), 0) AS primary_parse_failure_rate,
    sum(len(list_filter(judge_outputs, lambda o: o.parsed IS NOT NULL AND o.fallback IS NOT NULL))) AS rescued,
    count(position_consistent) AS n_position_checked,
    avg(position_consistent::INT) AS position_consistency
FROM latest_records
WHERE kind = 'judge' AND judge_outputs IS NOT NULL
GROUP BY model, benchmark;
