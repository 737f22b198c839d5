#!/usr/bin/env bash
# Reference fixtures for the remote-code families: Eurus-RM, Ziya, ArmoRM (orchestrator/scoring/adapters/).
#
# As run_reference_adapters.sh, but each replica is built with the checkpoint's own modeling file (REMOTE, see
# remote_code_replicas.py and docs/models.md) and run_rm.py gets the flags of the reference's eval config for the
# model (scripts/configs/eval_configs.yaml: --trust_remote_code, --chat_template mistral / Ziya / the tokenizer's).
# Writes tests/fixtures/reference/adapters/<run>.rewardbench-0.1.4.{parquet,summary.json} and the replicas (without
# the remote code; a large model.safetensors gzipped).
#
# REFVENV must be a throwaway copy of the reference venv (this script edits its pipelines with sed):
#   cp -a /work/refvenv /work/s4adapt-refvenv && sed -i 's#/work/refvenv#/work/s4adapt-refvenv#g' \
#       $(grep -rl /work/refvenv /work/s4adapt-refvenv/bin)
# Edits (sed, each documented in docs/models.md):
#   ziya.py    `model.eval().half().cuda()` -> `model.eval()`   (no CUDA here; float32 as --torch_dtype asks)
#   ziya.py    `).to("cuda")` -> `).to(self.model.device)`
#   armorm.py  `).to("cuda")` -> `).to(self.model.device)`
# In-process overrides (no file changed), per run:
#   armorm          REWARD_MODEL_CONFIG[...]["model_type"] = "Seq. Classifier": run_rm.py 0.1.4 sends "Custom
#                   Classifier" entries through a two-argument pair call that ArmoRMPipeline does not take (and its
#                   default-collated batch cannot be indexed per row); the classifier branch calls the pipeline as
#                   ArmoRMPipeline is written (one list of texts -> logits)
#   armorm:float32  the same, and the entry's fixed torch_dtype (bfloat16) set to float32
#   ziya:float16    ziya.py keeps `.half()` (its fixed dtype; the CPU runs float16): `.half().cuda()` -> `.half()`
# Environment overrides: REFVENV (/work/s4adapt-refvenv), REFWORK, DATA, OUTDIR, REPO_PY, REMOTE, PER_SUBSET (2), RUNS.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/s4adapt-refvenv}
REFWORK=${REFWORK:-/tmp/refwork-remote}
DATA=${DATA:-$REPO/../shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference/adapters}
REPO_PY=${REPO_PY:-python}
REMOTE=${REMOTE:?set REMOTE to the directory with the published modeling files (see remote_code_replicas.py)}
PER_SUBSET=${PER_SUBSET:-2}
RUNS=${RUNS:-"eurus-rm ziya ziya:float16 armorm armorm:float32"}
case "$REFVENV" in /work/refvenv | /work/refvenv/) echo "use a copy of the reference venv, not $REFVENV" >&2; exit 2;; esac
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_RM=$SP/scripts/run_rm.py
ZIYA=$SP/rewardbench/models/ziya.py

# 1. CPU edits (sed only)
sed -i 's/).to("cuda")/).to(self.model.device)/' "$SP/rewardbench/models/armorm.py" "$ZIYA"

# 2. tokenizers (repo venv) and replicas (reference venv, the checkpoints' own modeling files)
rm -rf "$REFWORK" && mkdir -p "$REFWORK"
(cd "$REPO" && PYTHONPATH="$REPO" "$REPO_PY" perf/reference/replica_tokenizers.py "$REFWORK/tok")
FAMS=$(for r in $RUNS; do echo "${r%%:*}"; done | sort -u | tr '\n' ' ')
"$PY" "$REPO/perf/reference/remote_code_replicas.py" build "$REFWORK" "$REFWORK/tok" "$REMOTE" $FAMS

# 3. the data slice (as run_reference_adapters.sh)
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

# 4. the reference, one run at a time
cd "$REFWORK"
for run in $RUNS; do
    fam=${run%%:*}
    hub=$("$PY" -c "import sys; sys.path.insert(0, '$REPO/perf/reference'); from remote_code_replicas import FAMILIES; print(FAMILIES['$fam'][0])")
    args=(--model "$hub" --trust_remote_code --not_quantized --torch_dtype float32 --batch_size 8 --max_length 2048
          --do_not_save --disable_beaker_save)
    case "$fam" in
        eurus-rm) args+=(--chat_template mistral);;
        ziya) args+=(--chat_template Ziya);;
        # the replica's tokenizer takes ~4x the tokens of Llama-3's: at 2048 the left truncation of the longest
        # row (2,210 tokens) would cut the assistant header the gate reads (the reference then raises)
        armorm) args+=(--max_length 4096);;
    esac
    override=""
    case "$run" in
        armorm) override="rewardbench.REWARD_MODEL_CONFIG['$hub']['model_type'] = 'Seq. Classifier'";;
        armorm:float32) override="rewardbench.REWARD_MODEL_CONFIG['$hub']['model_type'] = 'Seq. Classifier'; rewardbench.REWARD_MODEL_CONFIG['$hub']['torch_dtype'] = torch.float32";;
    esac
    if [ "$fam" = ziya ]; then
        if [ "$run" = ziya:float16 ]; then
            sed -i 's/model.eval().half().cuda()/model.eval().half()/; s/model.eval()$/model.eval().half()/' "$ZIYA"
        else
            sed -i 's/model.eval().half().cuda()/model.eval()/; s/model.eval().half()$/model.eval()/' "$ZIYA"
        fi
        grep -n "self.model = " "$ZIYA"
    fi
    if [ -n "$override" ]; then
        cmd=("$PY" -c "import runpy, sys, torch, rewardbench; $override; sys.argv = ['run_rm.py'] + sys.argv[1:]; runpy.run_path('$RUN_RM', run_name='__main__')" "${args[@]}")
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
"$PY" "$REPO/perf/reference/remote_code_replicas.py" collect "$REFWORK" "$OUTDIR" $RUNS
