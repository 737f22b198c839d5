#!/usr/bin/env bash
# Reference fixtures for QRM, LDL-Reward and InternLM2 reward (orchestrator/scoring/adapters/heads.py).
#
# As run_reference_adapters.sh: a tiny replica per family built with the reference's classes (head_replicas.py),
# saved under the hub id, scored by run_rm.py --not_quantized --torch_dtype float32 --batch_size 8 over the first
# PER_SUBSET rows of every v1 subset; writes tests/fixtures/reference/adapters/<run>.rewardbench-0.1.4.* and
# replicas/<hub id>/ (QRM's embedding and tokenizer compacted, see tests/scoring/adapters/replica_parts.py).
#
# REFVENV must be a throwaway COPY of the reference venv (this script edits it; never the shared one):
#   ldlreward.py: the pipeline's .to("cuda") -> the model's device; from_pretrained takes run_rm.py's torch_dtype
#                 (else its bfloat16) and attn_implementation (else eager, for flash_attention_2), and accepts
#                 device_map="cpu"
#   qrm.py:       from_pretrained's attn_implementation="flash_attention_2" -> eager
#   pip install einops (the InternLM2 modeling code imports it)
# In-process (no file changed): LDL's head widths (4096 hard-coded) -> 64 (head_replicas.set_ldl_widths); for the
# <family>:float32 runs the family's REWARD_MODEL_CONFIG torch_dtype -> float32.
# INTERNLM2_CODE: a directory with InternLM2's published configuration_internlm2.py and modeling_internlm2.py
# (OpenGVLab/InternVL, internvl_chat/internvl/model/internlm2/ at 2410d1dbf208f0e799459aff9376e5747dbf41a2).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:?set REFVENV to a throwaway copy of the reference venv}
[ "$(readlink -f "$REFVENV")" != /work/refvenv ] || { echo "REFVENV must be a copy" >&2; exit 2; }
REFWORK=${REFWORK:-/tmp/refwork-heads}
DATA=${DATA:-$REPO/../shared/data/reward-bench/filtered.parquet}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference/adapters}
REPO_PY=${REPO_PY:-python}
PER_SUBSET=${PER_SUBSET:-2}
# 4096, not run_rm.py's 2048: with the replicas' 690-token BPE one v1 completion (alpacaeval-length) alone is 2,185
# tokens, and left truncation at 2048 would cut the last assistant header that QRM's gating needs
MAX_LENGTH=${MAX_LENGTH:-4096}
# qrm3 (nicolinho/QRM-Llama3-8B, LlamaForRewardModelWithGating3) builds but its reference forward fails in float32 on
# a CPU: its reward_transform_matrix stays bfloat16 and the float32 matmul with it is refused
# ldl-reward runs only as ldl-reward:float32: as configured (bfloat16 base, float32 heads) its forward fails on a CPU
# (CPU autocast has no float32 mode, so the bfloat16 hidden state meets the float32 head)
RUNS=${RUNS:-"qrm ldl-reward:float32 internlm2-reward"}
FAMILIES=$(for run in $RUNS; do echo "${run%%:*}"; done | sort -u | tr '\n' ' ')
export INTERNLM2_CODE=${INTERNLM2_CODE:?set INTERNLM2_CODE (see above)}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
RUN_RM=$SP/scripts/run_rm.py

# 1. the copy's patches (idempotent)
M=$SP/rewardbench/models
sed -i 's/).to("cuda")/).to(self.model.device)/' "$M/ldlreward.py"
sed -i 's/cached_dir, torch_dtype=torch.bfloat16, attn_implementation="flash_attention_2"/cached_dir, torch_dtype=kwargs.get("torch_dtype", torch.bfloat16), attn_implementation=kwargs.get("attn_implementation") or "eager"/' "$M/ldlreward.py"
sed -i 's/        elif device_map is not None:/        elif device_map is not None and device_map != "cpu":/' "$M/ldlreward.py"
sed -i 's/attn_implementation="flash_attention_2"/attn_implementation=kwargs.get("attn_implementation") or "eager"/' "$M/qrm.py"
"$PY" -c 'import einops' 2>/dev/null || "$REFVENV/bin/pip" install -q einops

# 2. tokenizers (repo venv) and replicas (reference venv)
rm -rf "$REFWORK" && mkdir -p "$REFWORK"
(cd "$REPO" && PYTHONPATH="$REPO" "$REPO_PY" perf/reference/head_tokenizers.py "$REFWORK/tok")
"$PY" "$REPO/perf/reference/head_replicas.py" build "$REFWORK" "$REFWORK/tok" $FAMILIES

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
    hub=$("$PY" -c "import sys; sys.path.insert(0, '$REPO/perf/reference'); from head_replicas import FAMILIES; print(FAMILIES['$fam'][0])")
    args=(--model "$hub" --not_quantized --torch_dtype float32 --batch_size 8 --max_length "$MAX_LENGTH"
          --do_not_save --disable_beaker_save)
    [ "$fam" != internlm2-reward ] || args+=(--trust_remote_code)
    override=""
    [ "$run" = "$fam" ] || override="rewardbench.REWARD_MODEL_CONFIG['$hub']['torch_dtype'] = torch.float32; "
    cmd=("$PY" -c "import runpy, sys, torch, rewardbench; sys.path.insert(0, '$REPO/perf/reference'); import head_replicas; head_replicas.set_ldl_widths(); ${override}sys.argv = ['run_rm.py'] + sys.argv[1:]; runpy.run_path('$RUN_RM', run_name='__main__')" "${args[@]}")
    printf '%q ' "${cmd[@]}" > "cmd.$run.txt"
    start=$(date +%s)
    "${cmd[@]}" > "run.$run.log" 2>&1 || { tail -30 "run.$run.log"; exit 1; }
    mkdir -p "runs/$run" && cp "results/eval-set-scores/$hub.json" "runs/$run/scores.json"
    echo "$run ($hub): $(( $(date +%s) - start )) s"
done

# 5. fixtures
"$PY" "$REPO/perf/reference/head_replicas.py" collect "$REFWORK" "$OUTDIR" $RUNS
