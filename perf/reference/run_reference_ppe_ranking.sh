#!/usr/bin/env bash
# PPE's model-level ranking metrics by Arena-Hard's own code (lmarena/arena-hard-auto; PPE's code,
# github.com/lmarena/PPE, was not readable from this machine): utils_math.py's compute_mle_elo (commit a06dde2) and
# the separability / agreement / Brier cells of notebook/benchmark_statistics.ipynb (commit bd52a78), run unchanged
# by perf/reference/ppe_ranking_reference.py in a throwaway venv; writes tests/fixtures/reference/ppe_ranking_crosscheck.json.
# ARENA_HARD: a git dir of lmarena/arena-hard-auto (e.g. the `fetch github:lmarena/arena-hard-auto` mirror).
set -euo pipefail
VENV=${VENV:-/work/s5ppe-venv}
ARENA_HARD=${ARENA_HARD:-/work/.mirror/lmarena+arena-hard-auto/repo}
WORK=${WORK:-/work/s5ppe-ref}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q numpy pandas scipy scikit-learn tqdm
mkdir -p "$WORK"
git --git-dir="$ARENA_HARD" show a06dde2607bd14a350ebf91fb52eaa513b1a57cc:utils_math.py > "$WORK/utils_math.py"
git --git-dir="$ARENA_HARD" show bd52a78991225700e9b8403f3e1f3cd4a6b45141:notebook/benchmark_statistics.ipynb \
    > "$WORK/benchmark_statistics.ipynb"
"$VENV/bin/python" "$REPO/perf/reference/ppe_ranking_reference.py" --arena-hard "$WORK" "$@"
