"""The prefetching batch iterator: same batches as building them inline, in order, errors surface."""

import threading
import time

import numpy as np
import pytest
import torch

from orchestrator.scoring.batching import token_budget_batches
from orchestrator.scoring.prefetch import padded_batches, prefetch


def test_prefetch_yields_everything_in_order():
    assert list(prefetch(iter(range(100)), depth=3)) == list(range(100))
    assert list(prefetch(iter(range(5)), depth=0)) == list(range(5))
    assert list(prefetch(iter([]), depth=2)) == []


def test_prefetch_runs_ahead_in_another_thread():
    seen = []

    def produce():
        for i in range(4):
            seen.append(threading.current_thread().name)
            yield i

    it = prefetch(produce(), depth=2)
    assert next(it) == 0
    deadline = time.time() + 5
    while len(seen) < 3 and time.time() < deadline:  # the producer fills the queue meanwhile
        time.sleep(0.01)
    assert len(seen) >= 3 and set(seen) == {"rayward-prefetch"}
    assert list(it) == [1, 2, 3]


def test_prefetch_reraises_and_stops_early():
    def broken():
        yield 1
        raise RuntimeError("boom")

    it = prefetch(broken())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="boom"):
        next(it)

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    it = prefetch(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()  # stops and joins the producer
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count


def _inline(seqs, pad, budget, causal, offsets, first_masked):
    """The scorer's batches as it built them before the prefetching loader (torch, row by row)."""
    lengths = [len(x) for x in seqs]
    for batch in token_budget_batches(lengths, budget):
        width = max(lengths[i] for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, : lengths[i]] = torch.tensor(seqs[i], dtype=torch.long)
        if causal:
            start = torch.tensor([offsets[i] for i in batch], dtype=torch.long).unsqueeze(1)
            yield batch, {"input_ids": ids, "position_ids": start + torch.arange(width).unsqueeze(0)}
        else:
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                mask[row, : lengths[i]] = 1
                if first_masked[i]:
                    mask[row, 0] = 0
            yield batch, {"input_ids": ids, "attention_mask": mask}


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("depth", [0, 2])
def test_padded_batches_equal_inline_construction(causal, depth):
    rng = np.random.default_rng(7)
    seqs = [rng.integers(3, 1000, size=int(n)).tolist() for n in rng.integers(1, 300, size=57)]
    first_masked = [bool(x) for x in rng.integers(0, 2, size=len(seqs))]
    offsets = [int(m) for m in first_masked]
    want = list(_inline(seqs, 1, 2000, causal, offsets, first_masked))
    got = list(
        prefetch(
            padded_batches(seqs, 1, 2000, causal=causal, offsets=offsets, first_masked=first_masked),
            depth=depth,
        )
    )
    assert [b.indices for b in got] == [b for b, _ in want]
    for g, (_, inputs) in zip(got, want):
        assert g.inputs.keys() == inputs.keys()
        for key in inputs:
            assert g.inputs[key].dtype == torch.long
            assert torch.equal(g.inputs[key], inputs[key])
        assert g.tokens == sum(len(seqs[i]) for i in g.indices)
