#!/usr/bin/env bash
# Reproduce the RewardBench 0.1.4 DPO reference fixture for the tiny DPO models.
#
# Runs PyPI rewardbench==0.1.4 `scripts/run_dpo.py` (DPOInference: implicit reward
# log pi(y|x) - log pi_ref(y|x) summed over completion tokens) offline on CPU over the
# RewardBench v1 `filtered` split with policy tiny-dpo and reference tiny-dpo-ref, and writes
#   tests/fixtures/reference/tiny-dpo.rewardbench-0.1.4.parquet
#   tests/fixtures/reference/tiny-dpo.rewardbench-0.1.4.summary.json
# and the reference-free modes' fixtures (see MODES).
# No rewardbench source is vendored; the reference venv is set up as in run_reference.sh.
#
# Rows: the full split takes ~2 h on the 2-core dev machine (two models, prompt + completion up to
# 2048 tokens of the tiny byte-level tokenizer), so by default a fixed subset runs: the first
# PER_SUBSET (3) rows of every subset plus the LONG (4) rows with the longest prompt + longer completion
# (they exercise the reference's prompt/completion truncation). ALL=1 runs every row.
#
# MODES (default "ref sum avg norm"): `ref` scores against the reference model; `sum`, `avg`, `norm` run
# reference-free (--ref_free_type) and write tiny-dpo.ref-free-<mode>.rewardbench-0.1.4.{parquet,summary.json}.
#
# Environment overrides: REFVENV, REFWORK, DATA, OUTDIR, REPO_PY, BATCH, PER_SUBSET, LONG, ALL, MODES.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/work/refwork-dpo}
DATA=${DATA:-/work/shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference}
REPO_PY=${REPO_PY:-$REPO/.venv/bin/python}
BATCH=${BATCH:-8}
PER_SUBSET=${PER_SUBSET:-3}
LONG=${LONG:-4}
ALL=${ALL:-0}
MODES=${MODES:-"ref sum avg norm"}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# ---------------------------------------------------------------- 1. reference venv (as run_reference.sh)
if [ ! -x "$REFVENV/bin/python" ]; then
    python3 -m venv "$REFVENV"
    "$REFVENV/bin/python" -m pip install torch==2.13.0
    echo "torch==2.13.0" > "$REFVENV/torch-constraint.txt"
    "$REFVENV/bin/python" -m pip install -c "$REFVENV/torch-constraint.txt" rewardbench==0.1.4
    "$REFVENV/bin/python" -m pip uninstall -y torchvision torchaudio 2>/dev/null || true
fi
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_DPO=$SP/scripts/run_dpo.py

# ---------------------------------------------------------------- 2. tiny causal models
mkdir -p "$REFWORK/models"
for m in tiny-dpo tiny-dpo-ref; do
    rm -rf "${REFWORK:?}/models/$m"
    (cd "$REPO" && "$REPO_PY" -c "from orchestrator.tiny import build_tiny_model; build_tiny_model('$REFWORK/models/$m', kind='causal', seed='$m')")
    # transformers 5.x writes tokenizer_class "TokenizersBackend", unknown to 4.51 (see run_reference.sh)
    sed -i 's/"tokenizer_class": "TokenizersBackend"/"tokenizer_class": "PreTrainedTokenizerFast"/' \
        "$REFWORK/models/$m/tokenizer_config.json"
done

# ---------------------------------------------------------------- 3. data (offline)
# The selected rows (in dataset order) go to the path load_dataset("allenai/reward-bench") resolves to
# when run from $REFWORK; rows.json keeps their positions in $DATA.
mkdir -p "$REFWORK/allenai/reward-bench/data"
"$REPO_PY" - "$DATA" "$REFWORK" "$PER_SUBSET" "$LONG" "$ALL" <<'EOF'
import json, sys
import pyarrow.parquet as pq
data, refwork, per_subset, long_, all_ = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
table = pq.read_table(data)
cols = table.to_pydict()
n = table.num_rows
if all_:
    rows = list(range(n))
else:
    seen, rows = {}, []
    for i, s in enumerate(cols["subset"]):
        if seen.get(s, 0) < per_subset:
            rows.append(i)
            seen[s] = seen.get(s, 0) + 1
    size = lambda i: len(cols["prompt"][i]) + max(len(cols["chosen"][i]), len(cols["rejected"][i]))
    rows = sorted(set(rows) | set(sorted(range(n), key=lambda i: (-size(i), i))[:long_]))
pq.write_table(table.take(rows), f"{refwork}/allenai/reward-bench/data/filtered-00000-of-00001.parquet")
json.dump(rows, open(f"{refwork}/rows.json", "w"))
print("rows", len(rows))
EOF

# ---------------------------------------------------------------- 4. run (no patch needed: DPOInference
# uses the accelerator's device, and --not_quantized + CPU loads float32 weights)
# MODES: `ref` = policy vs reference (--ref_model); `sum`, `avg`, `norm` = reference-free (--ref_free_type).
cd "$REFWORK"
for mode in $MODES; do
    rm -rf results "out/$mode"
    mkdir -p "out/$mode"
    cmd=("$PY" "$RUN_DPO" --model "$REFWORK/models/tiny-dpo" --not_quantized --torch_dtype float32
         --batch_size "$BATCH" --do_not_save --disable_beaker_save)
    if [ "$mode" = ref ]; then
        cmd+=(--ref_model "$REFWORK/models/tiny-dpo-ref")
    else
        cmd+=(--ref_free_type "$mode")
    fi
    printf '%q ' "${cmd[@]}" > "out/$mode/cmd.txt"
    start=$(date +%s.%N)
    "${cmd[@]}" > "out/$mode/run.log" 2>&1
    end=$(date +%s.%N)
    python3 -c "print(round($end - $start, 2))" > "out/$mode/wall.txt"
    cp -r results "out/$mode/results"
    echo "tiny-dpo $mode: wall $(cat "out/$mode/wall.txt") s"
done

# ---------------------------------------------------------------- 5. fixtures
# ref  -> tiny-dpo.rewardbench-0.1.4.{parquet,summary.json}
# mode -> tiny-dpo.ref-free-<mode>.rewardbench-0.1.4.{parquet,summary.json}
mkdir -p "$OUTDIR"
"$PY" - "$REFWORK" "$DATA" "$OUTDIR" $MODES <<'EOF'
import ast, hashlib, json, sys
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

refwork, data, outdir, modes = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
src = pq.read_table(data, columns=["subset", "id"]).to_pydict()
rows = json.loads((refwork / "rows.json").read_text())
src = {k: [v[i] for i in rows] for k, v in src.items()}
for mode in modes:
    out = refwork / "out" / mode
    rel = str(refwork / "models" / "tiny-dpo").lstrip("/") + ("" if mode == "ref" else "_ref_free")
    scores = json.loads((out / "results/eval-set-scores" / f"{rel}.json").read_text())
    grouped = json.loads((out / "results/eval-set" / f"{rel}.json").read_text())
    n = len(scores["subset"])
    assert n == len(src["subset"]) == len(rows), n
    # run_dpo.py drops the id column but keeps dataset order: check the subsets row by row
    assert scores["subset"] == src["subset"], "row order differs"
    sc = [float(v) for v in scores["scores_chosen"]]
    sr = [float(v) for v in scores["scores_rejected"]]
    res = [1 if c > r else 0 for c, r in zip(sc, sr)]
    assert res == scores["results"]
    table = pa.Table.from_arrays(
        [
            pa.array(rows, pa.int64()),
            pa.array(scores["subset"], pa.string()),
            pa.array(src["id"], pa.int64()),
            pa.array(sc, pa.float64()),
            pa.array(sr, pa.float64()),
            pa.array(res, pa.int8()),
        ],
        names=["row_index", "subset", "id", "score_chosen", "score_rejected", "result"],
    )
    stem = "tiny-dpo" if mode == "ref" else f"tiny-dpo.ref-free-{mode}"
    pq.write_table(table, outdir / f"{stem}.rewardbench-0.1.4.parquet", compression="zstd")
    log = (out / "run.log").read_text()
    subset_acc = {k: v for k, v in grouped.items() if k not in ("model", "ref_model", "model_type", "chat_template")}
    sections = ast.literal_eval([l for l in log.splitlines() if l.startswith("{'Chat'")][-1])
    models = ("tiny-dpo", "tiny-dpo-ref") if mode == "ref" else ("tiny-dpo",)
    summary = {
        "mode": mode,
        "subset_accuracy": subset_acc,
        "sections": sections,
        "wall_seconds": float((out / "wall.txt").read_text()),
        "rows": len(rows),
        "command": (out / "cmd.txt").read_text().strip(),
        "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch", "trl")},
        "weights_sha256": {
            m: hashlib.sha256((refwork / "models" / m / "model.safetensors").read_bytes()).hexdigest() for m in models
        },
    }
    (outdir / f"{stem}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(stem, "rows", n, "acc", sum(res) / n, "sections", sections)
EOF
