"""Expected conversation texts of the reference's named (fastchat) templates, for tests/scoring/test_chat_templates.py.

Run with the reference venv's Python (fschat 0.2.36 and rewardbench 0.1.4, which registers ``openbmb``,
``pku-align`` and ``Ziya``): ``/work/refvenv/bin/python perf/reference/make_template_fixture.py``.
It renders real RewardBench v1 prompts with the reference's own ``rewardbench.utils.prepare_dialogue`` (what
``scripts/run_rm.py`` uses when the tokenizer has no chat template), single-turn rows and multi-turn prompts
built from consecutive v1 rows (prompt, chosen answer, the next row's prompt), and writes
``tests/fixtures/reference/fastchat-templates.json.gz``.
"""

import gzip
import json
import sys
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import rewardbench  # noqa: F401  (registers the openbmb, pku-align and Ziya templates)
from fastchat.conversation import get_conv_template
from rewardbench.utils import prepare_dialogue

NAMES = ["tulu", "raw", "openbmb", "pku-align", "Ziya", "oasst_pythia", "mistral", "llama-2"]
REPO = Path(__file__).resolve().parents[2]
DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared/data/reward-bench/filtered.parquet"
OUT = REPO / "tests/fixtures/reference/fastchat-templates.json.gz"

rows = pq.read_table(DATA).to_pylist()
# the two shortest rows of every subset (keeps the fixture small), in dataset order
by_subset = {}
for i, r in enumerate(rows):
    by_subset.setdefault(r["subset"], []).append(i)
picked = sorted(
    i
    for idx in by_subset.values()
    for i in sorted(
        idx, key=lambda i: len(rows[i]["prompt"]) + len(rows[i]["chosen"]) + len(rows[i]["rejected"])
    )[:2]
)
cases = []
for i in picked:
    r = rows[i]
    cases.append({"rows": [i], "prompt": r["prompt"], "chosen": r["chosen"], "rejected": r["rejected"]})
for i in picked[::3]:  # multi-turn: user, assistant, user (the next picked row's prompt), then the completion
    j = picked[(picked.index(i) + 1) % len(picked)]
    prompt = [
        {"role": "user", "content": rows[i]["prompt"]},
        {"role": "assistant", "content": rows[i]["chosen"]},
        {"role": "user", "content": rows[j]["prompt"]},
    ]
    cases.append(
        {"rows": [i, j], "prompt": prompt, "chosen": rows[j]["chosen"], "rejected": rows[j]["rejected"]}
    )

expected = {}
for name in NAMES:
    conv = get_conv_template(name)  # one object across examples, as load_eval_dataset passes it
    out = []
    for case in cases:
        ex = prepare_dialogue(dict(case), conv)
        out.append({"chosen": ex["text_chosen"], "rejected": ex["text_rejected"]})
    expected[name] = out
doc = {
    "versions": {p: version(p) for p in ("fschat", "rewardbench")},
    "cases": cases,
    "expected": expected,
}
OUT.parent.mkdir(parents=True, exist_ok=True)
with gzip.open(OUT, "wt", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False, sort_keys=True)
print(OUT, len(cases), "cases", OUT.stat().st_size, "bytes")
