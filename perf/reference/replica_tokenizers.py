"""Tokenizers for the adapter replicas (run with the repo's venv): ``std`` = the tiny demo tokenizer (adds a BOS,
template starts with one, no pad token); ``pad0`` = the same corpus and template with a ``<pad>`` token at id 0
(Starling's reference code hard-codes pad id 0). ``tokenizer_class`` is rewritten for transformers 4.51."""

from __future__ import annotations

import sys
from pathlib import Path

from orchestrator.tiny import _SPECIAL_TOKENS, CHAT_TEMPLATE, _training_corpus, build_tokenizer


def build_pad0(out: Path):
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=["<pad>", *_SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_training_corpus(), trainer=trainer)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]
    )
    transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        chat_template=CHAT_TEMPLATE,
        model_input_names=["input_ids", "attention_mask"],
    ).save_pretrained(str(out))


if __name__ == "__main__":
    root = Path(sys.argv[1])
    build_tokenizer(root / "std")
    build_pad0(root / "pad0")
    for variant in ("std", "pad0"):
        cfg = root / variant / "tokenizer_config.json"
        cfg.write_text(cfg.read_text().replace('"TokenizersBackend"', '"PreTrainedTokenizerFast"'))
        print(variant, sorted(p.name for p in (root / variant).iterdir()))
