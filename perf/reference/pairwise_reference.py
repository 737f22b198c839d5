"""The reference's SlicPairPMPipeline (RLHFlow pair-preference) on a replica, per example (reference venv).

    python pairwise_reference.py REFWORK OUT.parquet

run_rm.py runs this family as a "Custom Classifier" and saves no per-example output, so this driver calls the
same pieces run_rm.py calls (``load_eval_dataset(custom_dialogue_formatting=True)``, the pipeline, batches of 8 in
dataset order) and records, through a forward hook on the model, the last position's A and B logits the pipeline
reads for each order (chosen shown as A first, then as B), plus the pipeline's own verdict.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HUB_ID = "RLHFlow/pair-preference-model-LLaMA3-8B"


def main(refwork: Path, out: Path) -> None:
    os.chdir(refwork)
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from rewardbench.models.slicpairpm import SlicPairPMPipeline
    from rewardbench.utils import load_eval_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(HUB_ID)
    model = AutoModelForCausalLM.from_pretrained(HUB_ID, torch_dtype=torch.float32, device_map="cpu")
    pipe = SlicPairPMPipeline("text-classification", model, tokenizer)
    seen: list[list[float]] = []
    model.register_forward_hook(
        lambda _m, _i, o: seen.append(o.logits[0, -1, [pipe.token_id_A, pipe.token_id_B]].tolist())
    )
    dataset, subsets = load_eval_dataset(
        core_set=True,
        custom_dialogue_formatting=True,
        tokenizer=tokenizer,
        keep_columns=["text_chosen", "text_rejected", "id"],
    )
    results = []
    for start in range(0, len(dataset), 8):
        batch = dataset[start : start + 8]
        results += [bool(x) for x in pipe(batch["text_chosen"], batch["text_rejected"]).tolist()]
    assert len(seen) == 2 * len(results)
    rows = pq.read_table(refwork / "slice.parquet", columns=["row_index", "id"]).to_pydict()
    assert rows["id"] == dataset["id"]
    ab, ba = seen[0::2], seen[1::2]
    table = pa.table(
        {
            "row_index": pa.array(rows["row_index"], pa.int64()),
            "subset": pa.array(subsets, pa.string()),
            "id": pa.array(dataset["id"], pa.int64()),
            "logit_a_ab": [x[0] for x in ab],
            "logit_b_ab": [x[1] for x in ab],
            "logit_a_ba": [x[0] for x in ba],
            "logit_b_ba": [x[1] for x in ba],
            "result": pa.array([int(r) for r in results], pa.int8()),
        }
    )
    pq.write_table(table, out)
    print("rows", len(results), "acc", sum(results) / len(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
