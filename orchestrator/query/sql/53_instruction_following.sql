-- Instruction following: LLMBar natural vs adversarial (llmbar-adver-*).
-- adversarial is pooled over the adversarial examples (equal to the example-count weights of the SQL).
CREATE OR REPLACE VIEW instruction_following AS
SELECT
    model, any_value(kind) AS kind, benchmark,
    max(accuracy) FILTER (WHERE subset = 'llmbar-natural') AS natural,
    sum(n_correct) FILTER (WHERE subset LIKE 'llmbar-adver-%') / sum(n) FILTER (WHERE subset LIKE 'llmbar-adver-%') AS adversarial,
    max(accuracy) FILTER (WHERE subset = 'llmbar-natural')
        - sum(n_correct) FILTER (WHERE subset LIKE 'llmbar-adver-%') / sum(n) FILTER (WHERE subset LIKE 'llmbar-adver-%') AS natural_minus_adversarial,
    max(accuracy) FILTER (WHERE subset = 'llmbar-adver-neighbor') AS adver_neighbor,
    max(accuracy) FILTER (WHERE subset = 'llmbar-adver-GPTInst') AS adver_gptinst,
    max(accuracy) FILTER (WHERE subset = 'llmbar-adver-GPTOut') AS adver_gptout,
    max(accuracy) FILTER (WHERE subset = 'llmbar-adver-manual') AS adver_manual
FROM subset_accuracy
WHERE subset LIKE 'llmbar-%'
GROUP BY model, benchmark;
