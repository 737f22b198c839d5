#!/usr/bin/env bash
# Reference fixture for kind: pairwise (RLHFlow pair-preference, SlicPairPMPipeline of rewardbench 0.1.4).
# A tiny causal Llama replica (orchestrator.tiny, seed "rlhflow-pair") saved as RLHFlow/pair-preference-model-LLaMA3-8B,
# the pipeline's data-format tokenizer (meta-llama/Meta-Llama-3-8B-Instruct, only its chat template is overridden and
# used) as the tiny tokenizer; the pipeline over the first PER_SUBSET rows of every v1 subset. Writes
#   tests/fixtures/reference/adapters/rlhflow-pair.rewardbench-0.1.4.parquet  (+ the replica under replicas/)
# Run run_reference_adapters.sh first (it leaves the data slice in REFWORK), or set REFWORK to a fresh dir.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
REFVENV=${REFVENV:-/work/refvenv}
REFWORK=${REFWORK:-/tmp/refwork-adapters}
OUTDIR=${OUTDIR:-$REPO/tests/fixtures/reference/adapters}
REPO_PY=${REPO_PY:-python}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
PY=$REFVENV/bin/python
SP=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# CPU patch (sed only): the pipeline moves its input ids with .cuda(); use the model's device
sed -i 's/).cuda()/).to(self.model.device)/' "$SP/rewardbench/models/slicpairpm.py"
test -f "$REFWORK/slice.parquet" || { echo "no data slice in $REFWORK: run run_reference_adapters.sh first"; exit 1; }
M=$REFWORK/RLHFlow/pair-preference-model-LLaMA3-8B
T=$REFWORK/meta-llama/Meta-Llama-3-8B-Instruct
rm -rf "$M" "$T"
(cd "$REPO" && PYTHONPATH="$REPO" "$REPO_PY" -c "from orchestrator.tiny import build_tiny_model, build_tokenizer; build_tiny_model('$M', kind='causal', seed='rlhflow-pair'); build_tokenizer('$T')")
sed -i 's/"tokenizer_class": "TokenizersBackend"/"tokenizer_class": "PreTrainedTokenizerFast"/' "$M/tokenizer_config.json" "$T/tokenizer_config.json"
mkdir -p "$OUTDIR/replicas/RLHFlow"
start=$(date +%s)
"$PY" "$REPO/perf/reference/pairwise_reference.py" "$REFWORK" "$OUTDIR/rlhflow-pair.rewardbench-0.1.4.parquet"
echo "rlhflow-pair: $(( $(date +%s) - start )) s"
rm -rf "$OUTDIR/replicas/RLHFlow/pair-preference-model-LLaMA3-8B"
cp -r "$M" "$OUTDIR/replicas/RLHFlow/"
