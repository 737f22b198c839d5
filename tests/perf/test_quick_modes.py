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


def test_scripts_that_need_vllm_are_named_for_it():
    """.ci/vllm runs ``perf/vllm_*.py --quick`` in the vLLM venv; a script using vLLM under another name would only
    ever run in .ci/run, where vLLM is missing."""
    for script in sorted(REPO.glob("perf/*.py")):
        text = script.read_text(encoding="utf-8")
        uses_vllm = "import vllm" in text or 'find_spec("vllm")' in text or 'backend="vllm"' in text
        assert uses_vllm == script.name.startswith("vllm_"), f"{script.name}: uses vLLM {uses_vllm}"
