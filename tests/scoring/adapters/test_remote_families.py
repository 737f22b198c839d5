"""The remote-code families (Eurus-RM, Ziya, ArmoRM) against the reference implementation, per example.

Fixtures from ``perf/reference/run_reference_remote.sh``: a tiny random-weight replica of each family built with the
checkpoint's published modeling file (the remote code the reference loads with ``trust_remote_code``), scored by
the reference's ``run_rm.py --trust_remote_code --not_quantized --torch_dtype float32`` with the flags of the
reference's eval config (``--chat_template mistral`` / ``Ziya``; ArmoRM: the tokenizer's template) over the first 2
rows of every v1 subset. Rayward reads the same directory natively (no remote code: the fixtures hold none) with
``adapter: auto`` and must agree on every ``correct``, with scores within 1e-4 in float32.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES

ADAPTERS = FIXTURES / "reference" / "adapters"

# fixture stem -> (adapter auto must pick, dtype for Rayward, score tolerance)
CASES = {
    "eurus-rm": ("eurus-rm", "float32", 1e-4),
    "ziya": ("ziya", "float32", 1e-4),
    # Ziya as the reference runs it: ZiyaPipeline's .half() (float16 on this CPU), the family's fixed dtype
    "ziya.float16": ("ziya", "auto", 2e-2),
    # ArmoRM: the reference fixes bfloat16; the float32 run overrides that entry in-process (the recipe)
    "armorm.float32": ("armorm", "float32", 1e-4),
    "armorm": ("armorm", "auto", 2e-2),
}


def _rows(filtered_path, fixture):
    data = pq.read_table(filtered_path).to_pylist()
    return [data[i] for i in fixture["row_index"]]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """The replica directories as the reference read them (a gzipped model.safetensors unpacked, checked by
    its sha256 against the reference run's summary)."""
    root = tmp_path_factory.mktemp("remote-replicas")
    out = {}
    for stem in CASES:
        summary = json.loads((ADAPTERS / f"{stem}.rewardbench-0.1.4.summary.json").read_text())
        hub_id = summary["hub_id"]
        target = root / hub_id
        if not target.exists():
            shutil.copytree(ADAPTERS / "replicas" / hub_id, target)
            packed = target / "model.safetensors.gz"
            if packed.exists():
                (target / "model.safetensors").write_bytes(gzip.decompress(packed.read_bytes()))
                packed.unlink()
        weights = hashlib.sha256((target / "model.safetensors").read_bytes()).hexdigest()
        assert weights == summary["weights_sha256"], f"{stem}: not the weights the reference scored"
        assert not list(target.glob("*.py")), "the fixtures hold no remote code"
        out[stem] = (target, summary)
    return out


@pytest.mark.parametrize("stem", sorted(CASES))
def test_family_matches_reference_per_example(stem, filtered_path, replicas):
    from orchestrator.config import model_spec
    from orchestrator.scoring import make_scorer

    adapter, dtype, tol = CASES[stem]
    path, summary = replicas[stem]
    ref = pq.read_table(ADAPTERS / f"{stem}.rewardbench-0.1.4.parquet").to_pydict()
    assert len(ref["row_index"]) == 46 and len(set(ref["subset"])) == 23  # 2 rows x every v1 subset
    assert "--trust_remote_code" in summary["command"]
    rows = _rows(filtered_path, ref)
    # ArmoRM's reference runs use --max_length 4096 (the recipe: the replica tokenizer's long rows keep the header)
    max_length = 4096 if adapter == "armorm" else 2048
    assert f"--max_length {max_length}" in summary["command"]
    spec = model_spec(
        name=stem.replace(".", "-"), path=str(path), dtype=dtype, batch_tokens=1024, max_length=max_length
    )
    scorer = make_scorer(spec)
    assert scorer.adapter.name == adapter and scorer.info.extra["adapter"] == adapter
    cols = scorer.pair_columns(
        [r["prompt"] for r in rows], [r["chosen"] for r in rows], [r["rejected"] for r in rows]
    )
    np.testing.assert_array_equal(cols["correct"], np.asarray(ref["result"]) == 1)
    np.testing.assert_allclose(cols["score_chosen"], ref["score_chosen"], atol=tol, rtol=0)
    np.testing.assert_allclose(cols["score_rejected"], ref["score_rejected"], atol=tol, rtol=0)


def test_named_template_is_the_family_default(replicas):
    """Eurus-RM and Ziya replicas have no chat template: the family's template (the reference eval config's
    --chat_template) is used, and a job's chat_template still wins."""
    from orchestrator.config import model_spec
    from orchestrator.scoring._hf import load_tokenizer
    from orchestrator.scoring.adapters import get_adapter
    from orchestrator.scoring.formatting import format_conversations
    from orchestrator.scoring.named_templates import named_template

    expected = {"mistral": "[INST] Hi? [/INST] Hello.</s>", "Ziya": "\n\nHuman: Hi?\n\nAssistant: Hello.\n\n"}
    for stem, name in (("eurus-rm", "mistral"), ("ziya", "Ziya")):
        path, _ = replicas[stem]
        assert get_adapter(stem).conversation_template == name
        spec = model_spec(name="t", path=str(path))
        tok = load_tokenizer(spec, default_template=name)
        assert tok.chat_template == named_template(name)
        assert format_conversations(tok, ["Hi?"], ["Hello."])[0] == expected[name]
        # no family template: the reference's default; a job's chat_template wins over the family's
        assert load_tokenizer(spec).chat_template == named_template("tulu")
        job = model_spec(name="t", path=str(path), chat_template="raw")
        assert load_tokenizer(job, default_template=name).chat_template == named_template("raw")


def test_armorm_gate_reads_the_last_assistant_header(replicas):
    """The gating network reads at the first token of the last Llama-3 assistant header (a multi-turn prompt has
    several); an input without one is an error naming it, as the reference's find_token_for_gating raises."""
    from orchestrator.config import model_spec
    from orchestrator.errors import ModelError
    from orchestrator.scoring import make_scorer
    from orchestrator.scoring.adapters.armorm import GATE_PATTERN
    from orchestrator.scoring.formatting import Encoded, format_conversations

    path, _ = replicas["armorm.float32"]
    scorer = make_scorer(model_spec(name="armo", path=str(path), dtype="float32"))
    prompt = [
        {"role": "user", "content": "One?"},
        {"role": "assistant", "content": "Two."},
        {"role": "user", "content": "Three?"},
    ]
    text = format_conversations(scorer.tokenizer, [prompt], ["Four."])[0]
    ids = scorer.tokenizer(text)["input_ids"]
    starts = [j for j in range(len(ids)) if tuple(ids[j : j + len(GATE_PATTERN)]) == GATE_PATTERN]
    assert len(starts) == 2  # the first assistant turn and the scored one
    assert scorer.gate_positions(Encoded([ids], [False])) == [starts[-1]]
    with pytest.raises(ModelError, match=r"input 0 lacks the token pattern"):
        scorer.gate_positions(Encoded([ids[: starts[0]]], [False]))
