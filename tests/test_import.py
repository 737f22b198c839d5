import subprocess
import sys


def test_import_orchestrator_stays_light():
    code = (
        "import sys, orchestrator, orchestrator.config, orchestrator.results.records, orchestrator.runtime.planning;"
        "heavy = [m for m in ('torch', 'transformers', 'vllm', 'ray') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_api_reexported():
    import orchestrator

    for name in orchestrator.__all__:
        assert getattr(orchestrator, name) is not None
