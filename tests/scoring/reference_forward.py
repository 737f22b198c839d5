"""Scores as the reference pipeline computes them, one text at a time (no Rayward code involved)."""

import numpy as np


def direct_text_scores(path, texts, max_length):
    """RewardBenchPipeline per text: tokenizer call (left truncation), doubled BOS masked, model forward."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    tok.truncation_side = "left"
    model = AutoModelForSequenceClassification.from_pretrained(str(path)).eval()
    tok.pad_token_id = tok.eos_token_id
    model.config.pad_token_id = tok.eos_token_id
    out = []
    for text in texts:
        inputs = tok([text], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        if ids.shape[1] > 1 and ids[0, 0] == tok.bos_token_id and ids[0, 1] == tok.bos_token_id:
            mask[0, 0] = 0
        with torch.no_grad():
            out.append(model(input_ids=ids, attention_mask=mask).logits[0, 0].item())
    return np.array(out)
