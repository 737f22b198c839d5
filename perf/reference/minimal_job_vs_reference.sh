#!/usr/bin/env bash
# Full RewardBench v1 with tiny-rm: the minimal job (benchmarks + models only, resources `auto`) against the
# reference's scripts/run_rm.py, back to back. Needs the reference venv and work dir of run_reference.sh.
# Environment overrides: REFVENV, REFWORK, DATA, OUT.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/work/refwork}
DATA=${DATA:-$REPO/../shared/data/reward-bench/filtered.parquet}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
cat > "$OUT/minimal.yaml" <<JOB
name: minimal
benchmarks:
  - name: reward-bench
    source: $DATA
models:
  - name: tiny-rm
    path: $REFWORK/models/tiny-rm
JOB
start=$(date +%s.%N)
(cd "$REPO" && python -m orchestrator.cli run "$OUT/minimal.yaml" --results "$OUT/results" > "$OUT/rayward.log" 2>&1)
end=$(date +%s.%N)
echo "rayward minimal job: $(python3 -c "print(round($end - $start, 1))") s (load $(cut -d' ' -f1-3 /proc/loadavg))"
SP=$("$REFVENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
start=$(date +%s.%N)
(cd "$REFWORK" && "$REFVENV/bin/python" "$SP/scripts/run_rm.py" --model "$REFWORK/models/tiny-rm" --not_quantized \
    --torch_dtype float32 --batch_size 64 --max_length 2048 --do_not_save --disable_beaker_save > "$OUT/ref.log" 2>&1)
end=$(date +%s.%N)
echo "reference run_rm.py: $(python3 -c "print(round($end - $start, 1))") s (load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "records and logs in $OUT"
