# A reward class for the InternLM2 replica (appended to the published modeling_internlm2.py by head_replicas.py, so
# InternLM2PreTrainedModel, InternLM2Model, nn, torch and SequenceClassifierOutputWithPast are that module's).
# Written from the hub model's published description: the InternLM2 decoder under `model`, a bias-free
# `v_head` (hidden -> 1) applied to every position, the score read at the last attended position
# (attention_mask.cumsum(dim=1).argmax(dim=1)), the config's reward_token_id kept on the model.


class InternLM2ForRewardModel(InternLM2PreTrainedModel):  # noqa: F821
    def __init__(self, config):
        super().__init__(config)
        self.model = InternLM2Model(config)  # noqa: F821
        self.v_head = nn.Linear(config.hidden_size, 1, bias=False)  # noqa: F821
        self.reward_token_id = config.reward_token_id
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, **kwargs):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids)[0]
        per_token = self.v_head(hidden).squeeze(-1)
        last = attention_mask.long().cumsum(dim=1).argmax(dim=1).view(-1, 1)
        scores = torch.gather(per_token, 1, last)  # noqa: F821
        return SequenceClassifierOutputWithPast(logits=scores)  # noqa: F821
