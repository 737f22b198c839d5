#!/usr/bin/env bash
# An independent numpy / scikit-learn computation of the PPE metrics on the PPE fixtures
# (perf/reference/ppe_reference.py; PPE's own code, github.com/lmarena/PPE, was not readable from this machine).
# A throwaway venv outside the repo, then the script; writes tests/fixtures/reference/ppe_crosscheck.json.
set -euo pipefail
VENV=${VENV:-/work/s4ppe-venv}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q numpy scikit-learn
"$VENV/bin/python" -c "import numpy, sklearn; print('numpy', numpy.__version__, 'scikit-learn', sklearn.__version__)"
"$VENV/bin/python" "$REPO/perf/reference/ppe_reference.py" "$@"
