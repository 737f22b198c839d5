"""perf/vllm_scoring.py runs end to end (tiny, a few pairs) and finds both paths' scores equal."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.vllm


def test_script_prints_its_table_and_agreement(filtered_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "perf" / "vllm_scoring.py"),
            "--configs",
            "tiny",
            "--limit",
            "6",
            "--data",
            str(filtered_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| tiny |")]
    assert [r.split("|")[2].strip() for r in rows] == ["transformers", "vllm"]
    assert "-> OK" in proc.stdout and "same `correct` on 6/6 pairs" in proc.stdout
    assert "token counts identical: True" in proc.stdout
