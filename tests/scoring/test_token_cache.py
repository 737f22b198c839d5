"""The content-addressed token-id cache: hits, misses, invalidation, and scores unchanged."""

import numpy as np
import pytest

from orchestrator.config import model_spec
from orchestrator.scoring.formatting import encode
from orchestrator.scoring.token_cache import DEFAULT_DIR, TokenCache, resolve_cache_dir, tokenizer_fingerprint

TEXTS = ["<s>hello world", "a longer text " * 40, "", "<s><s>doubled bos here"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from orchestrator.tiny import build_tokenizer

    tok = build_tokenizer(tmp_path_factory.mktemp("tok"))
    tok.truncation_side = "left"
    return tok


def test_miss_then_hit_memory_and_disk(tokenizer, tmp_path):
    cache = TokenCache(tmp_path)
    first = cache.encode(tokenizer, TEXTS, 32)
    assert (cache.hits, cache.misses) == (0, 1)
    assert first == encode(tokenizer, TEXTS, 32)
    assert cache.encode(tokenizer, TEXTS, 32) == first
    assert (cache.hits, cache.misses) == (1, 1)
    assert len(list(tmp_path.rglob("*.npz"))) == 1
    fresh = TokenCache(tmp_path)  # a new process: served from disk
    again = fresh.encode(tokenizer, TEXTS, 32)
    assert (fresh.hits, fresh.misses) == (1, 0)
    assert again == first
    assert any(again.first_masked)  # the doubled-BOS flag survives the round trip


def test_invalidation_on_every_key_part(tokenizer, tmp_path):
    from orchestrator.tiny import build_tokenizer

    cache = TokenCache(tmp_path)
    base = cache.key(tokenizer, TEXTS, 32)
    assert cache.key(tokenizer, TEXTS, 64) != base  # max_length
    assert cache.key(tokenizer, TEXTS[:-1], 32) != base  # texts
    assert cache.key(tokenizer, [TEXTS[0] + "x", *TEXTS[1:]], 32) != base
    other = build_tokenizer(tmp_path / "other", vocab_size=300)  # a different vocabulary (fewer merges)
    other.truncation_side = "left"
    assert tokenizer_fingerprint(other) != tokenizer_fingerprint(tokenizer)
    assert cache.key(other, TEXTS, 32) != base
    template, side = tokenizer.chat_template, tokenizer.truncation_side
    try:
        tokenizer.chat_template = template + "{# changed #}"
        assert cache.key(tokenizer, TEXTS, 32) != base
        tokenizer.chat_template = template
        tokenizer.truncation_side = "right"
        assert TokenCache(tmp_path).key(tokenizer, TEXTS, 32) != base
    finally:
        tokenizer.chat_template, tokenizer.truncation_side = template, side
    assert TokenCache(tmp_path).key(tokenizer, TEXTS, 32) == base  # and back again
    grown = build_tokenizer(tmp_path / "grown")
    grown.truncation_side = "left"
    same = TokenCache(tmp_path)
    assert same.key(grown, TEXTS, 32) == base  # same content, another object: same key
    grown.add_tokens(["<|new|>"])  # changed in place: a new key, also for a cache that saw it before
    assert same.key(grown, TEXTS, 32) != base
    # different settings on disk really are different entries with different contents
    cache.encode(tokenizer, TEXTS, 32)
    long = TokenCache(tmp_path).encode(tokenizer, TEXTS, 64)
    assert long == encode(tokenizer, TEXTS, 64) != encode(tokenizer, TEXTS, 32)
    assert len(list(tmp_path.rglob("*.npz"))) == 2


def test_damaged_entry_is_a_miss_and_rewritten(tokenizer, tmp_path):
    cache = TokenCache(tmp_path, memory_entries=0)
    want = cache.encode(tokenizer, TEXTS, 32)
    (entry,) = tmp_path.rglob("*.npz")
    entry.write_bytes(b"not an npz")
    assert cache.encode(tokenizer, TEXTS, 32) == want
    assert cache.misses == 2
    assert TokenCache(tmp_path).encode(tokenizer, TEXTS, 32) == want


def test_off_means_memory_only(tokenizer, tmp_path, monkeypatch):
    monkeypatch.delenv("RAYWARD_TOKEN_CACHE", raising=False)
    assert resolve_cache_dir(None) is None
    assert resolve_cache_dir("off") is None
    assert resolve_cache_dir("default") == __import__("pathlib").Path(DEFAULT_DIR).expanduser()
    assert resolve_cache_dir(str(tmp_path)) == tmp_path
    monkeypatch.setenv("RAYWARD_TOKEN_CACHE", str(tmp_path / "env"))
    assert resolve_cache_dir(None) == tmp_path / "env"
    assert resolve_cache_dir("off") is None
    cache = TokenCache(None)
    cache.encode(tokenizer, TEXTS, 32)
    cache.encode(tokenizer, TEXTS, 32)
    assert (cache.hits, cache.misses) == (1, 1)


def test_cached_scores_identical_to_uncached(tiny_models, filtered_path, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from orchestrator.scoring.classifier import ClassifierScorer

    monkeypatch.delenv("RAYWARD_TOKEN_CACHE", raising=False)
    rows = pq.read_table(filtered_path).slice(0, 2985).to_pylist()[::300]
    args = ([r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows])
    path = str(tiny_models["tiny-rm"])
    plain = ClassifierScorer(model_spec(name="m", path=path, max_length=512)).score_pairs(*args)
    cached = ClassifierScorer(model_spec(name="m", path=path, max_length=512, token_cache=str(tmp_path)))
    cold = cached.score_pairs(*args)
    warm = cached.score_pairs(*args)
    disk = ClassifierScorer(model_spec(name="m", path=path, max_length=512, token_cache=str(tmp_path)))
    from_disk = disk.score_pairs(*args)
    assert (cached.token_cache.misses, cached.token_cache.hits, disk.token_cache.hits) == (1, 1, 1)
    for got in (cold, warm, from_disk):
        for field in ("score_chosen", "score_rejected", "tokens_chosen", "tokens_rejected"):
            np.testing.assert_array_equal(getattr(got, field), getattr(plain, field))
