#!/usr/bin/env bash
# Reproduce the RewardBench 0.1.4 reference fixtures for the tiny demo models.
#
# Runs PyPI rewardbench==0.1.4 (scripts/run_rm.py, classifier path) offline on CPU
# over the RewardBench v1 `filtered` split for tiny-rm and tiny-rm-b, and writes
#   tests/fixtures/reference/<model>.rewardbench-0.1.4.parquet
#   tests/fixtures/reference/<model>.rewardbench-0.1.4.summary.json
# No rewardbench source is vendored: the only patches are the sed edits below.
#
# Environment overrides: REFVENV, REFWORK, DATA, OUTDIR, REPO_PY, MODELS.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}                      # throwaway venv, outside the repo
REFWORK=${REFWORK:-/work/refwork}                      # working dir (models, data, results)
DATA=${DATA:-/work/shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference}
REPO_PY=${REPO_PY:-$REPO/.venv/bin/python}             # the repo's venv (builds the tiny models)
MODELS=${MODELS:-"tiny-rm tiny-rm-b"}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# ---------------------------------------------------------------- 1. reference venv
if [ ! -x "$REFVENV/bin/python" ]; then
    python3 -m venv "$REFVENV"
fi
PY=$REFVENV/bin/python
# torch first (CPU build); the constraint keeps pip from resolving any other torch.
"$PY" -m pip install torch==2.13.0
echo "torch==2.13.0" > "$REFVENV/torch-constraint.txt"
"$PY" -m pip install -c "$REFVENV/torch-constraint.txt" rewardbench==0.1.4   # pins transformers==4.51.0
"$PY" -m pip uninstall -y torchvision torchaudio 2>/dev/null || true
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_RM=$SP/scripts/run_rm.py                              # the wheel installs scripts/ into site-packages

# ---------------------------------------------------------------- 2. tiny models
mkdir -p "$REFWORK/models"
for m in $MODELS; do
    rm -rf "${REFWORK:?}/models/$m"
    (cd "$REPO" && "$REPO_PY" -c "from orchestrator.tiny import build_tiny_model; build_tiny_model('$REFWORK/models/$m', kind='classifier', seed='$m')")
    # transformers 5.x writes tokenizer_class "TokenizersBackend", unknown to 4.51
    # ("Tokenizer class TokenizersBackend does not exist"). Point 4.51 at the equivalent
    # fast tokenizer class; tokenizer.json, chat_template.jinja and weights are untouched.
    sed -i 's/"tokenizer_class": "TokenizersBackend"/"tokenizer_class": "PreTrainedTokenizerFast"/' \
        "$REFWORK/models/$m/tokenizer_config.json"
done

# ---------------------------------------------------------------- 3. data (offline)
# load_dataset("allenai/reward-bench", split="filtered") resolves to this local folder
# when run from $REFWORK.
mkdir -p "$REFWORK/allenai/reward-bench/data"
cp "$DATA" "$REFWORK/allenai/reward-bench/data/filtered-00000-of-00001.parquet"

# ---------------------------------------------------------------- 4. CPU patch
# RewardBenchPipeline hard-codes .to("cuda") for the tokenized inputs; use the model's device.
sed -i 's/).to("cuda")/).to(self.model.device)/' "$SP/rewardbench/models/pipeline.py"
grep -q 'to(self.model.device)' "$SP/rewardbench/models/pipeline.py"

# ---------------------------------------------------------------- 5. run, timed
# --do_not_save: no hub upload; results still go to ./results/eval-set{,-scores}/<model path>.json
# --disable_beaker_save: otherwise save_to_hub also writes /output/metrics.json (AI2 Beaker only)
cd "$REFWORK"
for m in $MODELS; do
    rm -rf "results/eval-set/${REFWORK#/}/models/$m.json" "results/eval-set-scores/${REFWORK#/}/models/$m.json"
    cmd=("$PY" "$RUN_RM" --model "$REFWORK/models/$m" --not_quantized --torch_dtype float32
         --batch_size 64 --max_length 2048 --do_not_save --disable_beaker_save)
    printf '%q ' "${cmd[@]}" > "cmd.$m.txt"
    start=$(date +%s.%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -v -o "time.$m.txt" "${cmd[@]}" > "run.$m.log" 2>&1
    else
        "${cmd[@]}" > "run.$m.log" 2>&1
    fi
    end=$(date +%s.%N)
    python3 -c "print(round($end - $start, 2))" > "wall.$m.txt"
    echo "$m: wall $(cat "wall.$m.txt") s"
done

# ---------------------------------------------------------------- 6. fixtures
mkdir -p "$OUTDIR"
"$PY" - "$REFWORK" "$DATA" "$OUTDIR" $MODELS <<'EOF'
import ast, hashlib, json, re, sys
from importlib.metadata import version
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

refwork, data, outdir, models = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4:]
src = pq.read_table(data, columns=["subset", "id"]).to_pydict()


def wall_seconds(m):
    t = refwork / f"time.{m}.txt"
    if t.exists():  # /usr/bin/time -v: "Elapsed (wall clock) time (h:mm:ss or m:ss): 7:04.16"
        s = re.search(r"Elapsed \(wall clock\) time.*: ([\d:.]+)", t.read_text()).group(1)
        secs = 0.0
        for part in s.split(":"):
            secs = secs * 60 + float(part)
        return round(secs, 2)
    return float((refwork / f"wall.{m}.txt").read_text())


for m in models:
    rel = str(refwork / "models" / m).lstrip("/")
    scores = json.loads((refwork / "results/eval-set-scores" / f"{rel}.json").read_text())
    grouped = json.loads((refwork / "results/eval-set" / f"{rel}.json").read_text())
    n = len(scores["id"])
    assert n == len(src["id"]) == 2985, n
    # the reference keeps dataset order: check subset and id row by row
    assert scores["subset"] == src["subset"] and scores["id"] == src["id"], "row order differs"
    flat = lambda col: [float(v[0]) if isinstance(v, list) else float(v) for v in col]
    sc, sr = flat(scores["scores_chosen"]), flat(scores["scores_rejected"])
    assert all(len(v) == 1 for v in scores["scores_chosen"] + scores["scores_rejected"])
    res = [1 if c > r else 0 for c, r in zip(sc, sr)]
    assert res == scores["results"]
    table = pa.Table.from_arrays(
        [
            pa.array(range(n), pa.int64()),
            pa.array(scores["subset"], pa.string()),
            pa.array(scores["id"], pa.int64()),
            pa.array(sc, pa.float64()),
            pa.array(sr, pa.float64()),
            pa.array(res, pa.int8()),
        ],
        names=["row_index", "subset", "id", "score_chosen", "score_rejected", "result"],
    )
    pq.write_table(table, outdir / f"{m}.rewardbench-0.1.4.parquet")

    log = (refwork / f"run.{m}.log").read_text()
    subset_acc = {k: v for k, v in grouped.items() if k not in ("model", "model_type", "chat_template")}
    printed = dict(re.findall(r"^([\w-]+): \d+/\d+ \(([\d.e-]+)\)$", log, re.M))
    assert {k: float(v) for k, v in printed.items()} == subset_acc
    sections = ast.literal_eval([l for l in log.splitlines() if l.startswith("{'Chat'")][-1])
    summary = {
        "subset_accuracy": subset_acc,
        "sections": sections,
        "wall_seconds": wall_seconds(m),
        "command": (refwork / f"cmd.{m}.txt").read_text().strip(),
        "versions": {p: version(p) for p in ("rewardbench", "transformers", "torch")},
        "weights_sha256": hashlib.sha256((refwork / "models" / m / "model.safetensors").read_bytes()).hexdigest(),
    }
    (outdir / f"{m}.rewardbench-0.1.4.summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(m, "rows", n, "acc", sum(res) / n, "sections", sections)
EOF
