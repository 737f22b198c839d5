#!/bin/bash
# M-RewardBench's own leaderboard code on the fixture scores -> tests/fixtures/benchmarks/m_reward_bench.json.
#   bash perf/reference/m_reward_bench.sh CHECKOUT [VENV]
# CHECKOUT: a checkout of for-ai/m-rewardbench (read at 5e5a0d3d458526a67e4b85a2602aa2fcb32fefc2; only its
# analysis/ folder is imported). VENV: a throwaway venv outside the repository (default /tmp/m-rewardbench-venv).
# Their plotting modules import matplotlib and seaborn; nothing is plotted.
set -euo pipefail
CHECKOUT=$(cd "$1" && pwd)
VENV=${2:-/tmp/m-rewardbench-venv}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q pandas numpy scikit-learn matplotlib seaborn huggingface_hub pyarrow
COMMIT=$(git -C "$CHECKOUT" rev-parse HEAD 2>/dev/null || echo 5e5a0d3d458526a67e4b85a2602aa2fcb32fefc2)
cd "$HERE"
HF_HUB_OFFLINE=1 MPLBACKEND=Agg "$VENV/bin/python" perf/reference/m_reward_bench.py --repo "$CHECKOUT" \
    --commit "$COMMIT" --fixture tests/fixtures/benchmarks/m-reward-bench \
    --out tests/fixtures/benchmarks/m_reward_bench.json
"$VENV/bin/pip" freeze | grep -iE '^(pandas|numpy|scikit-learn|matplotlib|seaborn|huggingface.hub|pyarrow)=='
