"""Every speed script under perf/ has the ``--quick`` mode that CI runs (.ci/run, .ci/vllm)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_every_perf_script_has_a_quick_mode():
    """CI runs ``perf/*.py --quick``: a new script without one fails here, before CI."""
    scripts = sorted(REPO.glob("perf/*.py"))
    assert len(scripts) >= 5
    for script in scripts:
        out = subprocess.run(
            [sys.executable, str(script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, f"{script.name} --help: {out.stderr[-2000:]}"
        assert "--quick" in out.stdout, f"{script.name} has no --quick mode"
