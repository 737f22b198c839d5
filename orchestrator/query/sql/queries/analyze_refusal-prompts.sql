-- rayward analyze refusal-prompts
SELECT * EXCLUDE (benchmark) FROM refusal_hard_prompts WHERE benchmark = $benchmark ORDER BY wrong_share DESC, subset, example_id;
