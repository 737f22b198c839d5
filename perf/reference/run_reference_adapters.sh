#!/usr/bin/env bash
# Reference fixtures for the model adapters (orchestrator/scoring/adapters/).
#
# For each family: a tiny random-weight replica built with rewardbench 0.1.4's own model class, saved under the
# hub id the reference keys its custom code by, scored by the reference's run_rm.py
# (--not_quantized --torch_dtype float32) over the first PER_SUBSET rows of every v1 subset; writes
#   tests/fixtures/reference/adapters/<family>.rewardbench-0.1.4.{parquet,summary.json}
#   tests/fixtures/reference/adapters/replicas/<hub id>/   (the replica itself, for the Rayward side)
# Environment overrides: REFVENV (default /work/refvenv, see run_reference.sh for how it is built), REFWORK, DATA,
# OUTDIR, REPO_PY, PER_SUBSET (2), FAMILIES (all).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/tmp/refwork-adapters}
DATA=${DATA:-$REPO/../shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference/adapters}
REPO_PY=${REPO_PY:-python}
PER_SUBSET=${PER_SUBSET:-2}
FAMILIES=${FAMILIES:-"grm-sftreg starling ultrarm beaver-reward beaver-cost inf-orm oasst-pythia"}
# families whose REWARD_MODEL_CONFIG entry fixes bfloat16 (the reference ignores --torch_dtype for them) are also
# run as <family>:float32, with that one entry's torch_dtype set to float32 in-process (no file is changed)
FIXED_DTYPE=${FIXED_DTYPE:-"inf-orm"}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_RM=$SP/scripts/run_rm.py

# 1. CPU patch (sed only): the custom pipelines move the tokenized inputs with .to("cuda"); use the model's device.
for f in pipeline grm openbmb beaver starling; do
    sed -i 's/).to("cuda")/).to(self.model.device)/' "$SP/rewardbench/models/$f.py"
done

# 2. tokenizers (repo venv) and replicas (reference venv, the reference's model classes)
rm -rf "$REFWORK" && mkdir -p "$REFWORK"
(cd "$REPO" && PYTHONPATH="$REPO" "$REPO_PY" perf/reference/replica_tokenizers.py "$REFWORK/tok")
"$PY" "$REPO/perf/reference/adapter_replicas.py" build "$REFWORK" "$REFWORK/tok" $FAMILIES

# 3. the data slice: first PER_SUBSET rows of every subset, in source order, where load_dataset finds it
mkdir -p "$REFWORK/allenai/reward-bench/data"
"$PY" - "$DATA" "$REFWORK" "$PER_SUBSET" <<'PYEOF'
import sys
import pyarrow as pa, pyarrow.parquet as pq
data, refwork, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
t = pq.read_table(data)
seen, keep = {}, []
for i, s in enumerate(t.column("subset").to_pylist()):
    if seen.get(s, 0) < k:
        seen[s] = seen.get(s, 0) + 1
        keep.append(i)
part = t.take(pa.array(keep))
pq.write_table(part, f"{refwork}/allenai/reward-bench/data/filtered-00000-of-00001.parquet")
pq.write_table(part.append_column("row_index", pa.array(keep, pa.int64())), f"{refwork}/slice.parquet")
print("slice", part.num_rows, "rows,", len(seen), "subsets")
PYEOF

# 4. the reference, one family at a time (batch 8: rows of different lengths share batches, so padding matters)
cd "$REFWORK"
RUNS=$FAMILIES
for fam in $FIXED_DTYPE; do case " $FAMILIES " in *" $fam "*) RUNS="$RUNS $fam:float32";; esac; done
for run in $RUNS; do
    fam=${run%%:*}
    hub=$("$PY" -c "import sys; sys.path.insert(0, '$REPO/perf/reference'); from adapter_replicas import FAMILIES; print(FAMILIES['$fam'][0])")
    args=(--model "$hub" --not_quantized --torch_dtype float32 --batch_size 8 --max_length 2048
          --do_not_save --disable_beaker_save)
    if [ "$run" != "$fam" ]; then
        cmd=("$PY" -c "import runpy, sys, torch, rewardbench; rewardbench.REWARD_MODEL_CONFIG['$hub']['torch_dtype'] = torch.float32; sys.argv = ['run_rm.py'] + sys.argv[1:]; runpy.run_path('$RUN_RM', run_name='__main__')" "${args[@]}")
    else
        cmd=("$PY" "$RUN_RM" "${args[@]}")
    fi
    printf '%q ' "${cmd[@]}" > "cmd.$run.txt"
    start=$(date +%s)
    "${cmd[@]}" > "run.$run.log" 2>&1 || { tail -30 "run.$run.log"; exit 1; }
    mkdir -p "runs/$run" && cp "results/eval-set-scores/$hub.json" "runs/$run/scores.json"
    echo "$run ($hub): $(( $(date +%s) - start )) s"
done

# 5. fixtures
"$PY" "$REPO/perf/reference/adapter_replicas.py" collect "$REFWORK" "$OUTDIR" $RUNS
