#!/usr/bin/env bash
# Reference fixtures for default-path exactness beyond Llama: tiny random Gemma-2 and Qwen2 sequence
# classifiers (orchestrator.tiny_replicas.build_tiny_replica), scored by PyPI rewardbench==0.1.4
# scripts/run_rm.py (transformers 4.51, float32, CPU) over a 184-row slice of RewardBench v1 `filtered`
# (the first 8 rows of every subset, in dataset order). Writes
#   tests/fixtures/reference/replica-<arch>.rewardbench-0.1.4.parquet   (row_index, subset, id, scores, result)
#   tests/fixtures/reference/replica-<arch>.rewardbench-0.1.4.summary.json (weights sha256, versions, command)
# The reference venv is the one run_reference.sh step 1 builds (REFVENV, default /work/refvenv).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/work/refwork-replicas}
DATA=${DATA:-/work/shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference}
REPO_PY=${REPO_PY:-$REPO/.venv/bin/python}
ARCHS=${ARCHS:-"gemma2 qwen2"}
PER_SUBSET=${PER_SUBSET:-8}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_RM=$SP/scripts/run_rm.py
grep -q 'to(self.model.device)' "$SP/rewardbench/models/pipeline.py"   # run_reference.sh's CPU patch

# ---- 1. the slice, laid out so that load_dataset("allenai/reward-bench", split="filtered") finds it
mkdir -p "$REFWORK/allenai/reward-bench/data" "$REFWORK/models"
(cd "$REPO" && "$REPO_PY" - "$DATA" "$REFWORK/allenai/reward-bench/data/filtered-00000-of-00001.parquet" "$PER_SUBSET" "$REFWORK/rows.txt" <<'PYEOF'
import sys
import pyarrow.parquet as pq
src, dest, per = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(src)
seen, keep = {}, []
for i, subset in enumerate(table.column("subset").to_pylist()):
    if seen.get(subset, 0) < per:
        seen[subset] = seen.get(subset, 0) + 1
        keep.append(i)
pq.write_table(table.take(keep), dest)
open(sys.argv[4], "w").write(" ".join(map(str, keep)))
PYEOF
)

# ---- 2. the replicas (built by the repo; 4.51 needs the tokenizer class it knows, see run_reference.sh)
for a in $ARCHS; do
    m=replica-$a
    rm -rf "${REFWORK:?}/models/$m"
    (cd "$REPO" && "$REPO_PY" -c "from orchestrator.tiny_replicas import build_tiny_replica; build_tiny_replica('$REFWORK/models/$m', '$a')")
    sed -i 's/"tokenizer_class": "TokenizersBackend"/"tokenizer_class": "PreTrainedTokenizerFast"/' \
        "$REFWORK/models/$m/tokenizer_config.json"
done

# ---- 3. the reference run
cd "$REFWORK"
for a in $ARCHS; do
    m=replica-$a
    rm -rf "results/eval-set/${REFWORK#/}/models/$m.json" "results/eval-set-scores/${REFWORK#/}/models/$m.json"
    cmd=("$PY" "$RUN_RM" --model "$REFWORK/models/$m" --not_quantized --torch_dtype float32
         --batch_size 64 --max_length 2048 --do_not_save --disable_beaker_save)
    printf '%q ' "${cmd[@]}" > "cmd.$m.txt"
    "${cmd[@]}" > "run.$m.log" 2>&1
done

# ---- 4. fixtures
mkdir -p "$OUTDIR"
"$PY" - "$REFWORK" "$OUTDIR" $ARCHS <<'PYEOF'
import hashlib, json, sys
from importlib.metadata import version
from pathlib import Path
import pyarrow as pa
import pyarrow.parquet as pq

refwork, outdir, archs = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
data = refwork / "allenai/reward-bench/data/filtered-00000-of-00001.parquet"
rows = [int(x) for x in (refwork / "rows.txt").read_text().split()]
src = pq.read_table(data, columns=["subset", "id"]).to_pydict()
for a in archs:
    m = f"replica-{a}"
    rel = str(refwork / "models" / m).lstrip("/")
    scores = json.loads((refwork / "results/eval-set-scores" / f"{rel}.json").read_text())
    assert scores["subset"] == src["subset"] and scores["id"] == src["id"], "row order differs"
    assert all(len(v) == 1 for v in scores["scores_chosen"] + scores["scores_rejected"])
    sc = [float(v[0]) for v in scores["scores_chosen"]]
    sr = [float(v[0]) for v in scores["scores_rejected"]]
    res = [1 if c > r else 0 for c, r in zip(sc, sr)]
    assert res == scores["results"]
    table = pa.table(
        {
            "row_index": pa.array(rows, pa.int64()),
            "subset": pa.array(scores["subset"], pa.string()),
            "id": pa.array(scores["id"], pa.int64()),
            "score_chosen": pa.array(sc, pa.float64()),
            "score_rejected": pa.array(sr, pa.float64()),
            "result": pa.array(res, pa.int8()),
        }
    )
    pq.write_table(table, outdir / f"{m}.rewardbench-0.1.4.parquet")
    summary = {
        "architecture": a,
        "rows": len(rows),
        "accuracy": sum(res) / len(res),
        "command": (refwork / f"cmd.{m}.txt").read_text().strip(),
        "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
        "weights_sha256": hashlib.sha256((refwork / "models" / m / "model.safetensors").read_bytes()).hexdigest(),
    }
    (outdir / f"{m}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(m, "rows", len(rows), "acc", summary["accuracy"])
PYEOF
