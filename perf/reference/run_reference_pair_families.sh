#!/usr/bin/env bash
# Reference fixtures for the pair-input families PairRM (llm-blender/PairRM-hf), Better-PairRM (mightbe/Better-PairRM)
# and SteamSHP (stanfordnlp/SteamSHP-flan-t5-large; -xl is the same code), kind: pairwise.
#
# Tiny replicas built with rewardbench 0.1.4's own classes under the hub ids its REWARD_MODEL_CONFIG keys, then the
# reference's run_rm.py --not_quantized --torch_dtype float32 (+ the family's eval_configs.yaml flags) over the first
# PER_SUBSET rows of every v1 subset, outputs recorded in-process (pair_families_reference.py; no installed file is
# edited). SteamSHP runs three times: seeded (random.seed(0)), and with the order fixed to AB and to BA. Writes
#   tests/fixtures/reference/adapters/{pairrm,better-pairrm}.rewardbench-0.1.4.{parquet,summary.json}
#   tests/fixtures/reference/adapters/steamshp.{seed0,AB,BA}.rewardbench-0.1.4.{parquet,summary.json}
#   tests/fixtures/reference/adapters/pair-families-truncation.rewardbench-0.1.4.json (over-long inputs' token ids)
#   tests/fixtures/reference/adapters/replicas/<hub id>/
# Environment overrides: REFVENV (default /work/refvenv), REFWORK, DATA, OUTDIR, PER_SUBSET (2).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/tmp/refwork-pair-families}
DATA=${DATA:-$REPO/../shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference/adapters}
PER_SUBSET=${PER_SUBSET:-2}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
PY=$REFVENV/bin/python
DRIVER=$REPO/perf/reference/pair_families_reference.py

rm -rf "$REFWORK" && mkdir -p "$REFWORK/allenai/reward-bench/data"
# the data slice: the first PER_SUBSET rows of every subset in source order (the other families' 46 rows)
"$PY" - "$DATA" "$REFWORK" "$PER_SUBSET" <<'PYEOF'
import sys
import pyarrow as pa, pyarrow.parquet as pq
data, refwork, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(data)
count, keep = {}, []
for i, subset in enumerate(table.column("subset").to_pylist()):
    if count.get(subset, 0) < k:
        count[subset] = count.get(subset, 0) + 1
        keep.append(i)
part = table.take(pa.array(keep))
pq.write_table(part, f"{refwork}/allenai/reward-bench/data/filtered-00000-of-00001.parquet")
pq.write_table(part.append_column("row_index", pa.array(keep, pa.int64())), f"{refwork}/slice.parquet")
print("slice", part.num_rows, "rows,", len(count), "subsets")
PYEOF
"$PY" "$DRIVER" build "$REFWORK"
cd "$REFWORK"
for run in pairrm:- better-pairrm:- steamshp:seed0 steamshp:AB steamshp:BA; do
    fam=${run%%:*} order=${run#*:}
    stem=$fam; [ "$order" = "-" ] || stem=$fam.$order
    start=$(date +%s)
    "$PY" "$DRIVER" run "$REFWORK" "$fam" "$order" "$REFWORK/out/$stem.rewardbench-0.1.4.parquet" > "run.$stem.log" 2>&1 \
        || { tail -30 "run.$stem.log"; exit 1; }
    echo "$stem: $(( $(date +%s) - start )) s; $(tail -1 "run.$stem.log")"
done
# the pipelines' own input construction on over-long texts (every cut binds)
"$PY" "$DRIVER" truncation "$REFWORK" "$REFWORK/out/pair-families-truncation.rewardbench-0.1.4.json" > run.truncation.log 2>&1
mkdir -p "$OUTDIR"
cp "$REFWORK"/out/* "$OUTDIR/"
for hub in llm-blender/PairRM-hf mightbe/Better-PairRM stanfordnlp/SteamSHP-flan-t5-large; do
    rm -rf "$OUTDIR/replicas/$hub" && mkdir -p "$OUTDIR/replicas/$(dirname "$hub")"
    cp -r "$REFWORK/$hub" "$OUTDIR/replicas/$hub"
done
du -sh "$OUTDIR"
