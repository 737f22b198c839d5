"""``profile: reference``: the reference implementation's weights-loading rules (rewardbench 0.1.4).

``run_rm.py`` (classifiers): 8-bit (bitsandbytes ``load_in_8bit``) when the family's ``REWARD_MODEL_CONFIG`` entry
says ``quantized`` (the default entry does), except when the model name contains ``llama-3``, ``Llama3``,
``Llama-3``, ``LLaMA3`` or ``llama3``; dtype = the family's fixed dtype, else the ``--torch_dtype`` flag (default
float16; bfloat16 turns quantization off). ``run_dpo.py`` (DPO): 8-bit unless the name contains ``llama-3``,
``Llama3``, ``Llama-3`` or ``LLaMA3`` (not ``llama3``); float16 unless bfloat16 is asked for. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.errors import ModelError

RM_EXEMPT_NAMES = ("llama-3", "Llama3", "Llama-3", "LLaMA3", "llama3")
"""run_rm.py: model names containing one of these load unquantized."""

DPO_EXEMPT_NAMES = ("llama-3", "Llama3", "Llama-3", "LLaMA3")
"""run_dpo.py: the same list without ``llama3``."""


@dataclass(frozen=True)
class ReferenceLoading:
    """How the reference would load one model."""

    quantized: bool
    """8-bit weights (bitsandbytes)."""

    dtype: str
    """Weights (compute, when quantized) dtype."""

    reason: str
    """Which rule decided, in words (recorded in the manifest)."""


def reference_loading(
    kind: str,
    name: str,
    *,
    family_quantized: bool = True,
    family_dtype: str | None = None,
    requested_dtype: str = "auto",
) -> ReferenceLoading:
    """The reference's loading for a model called ``name`` (its hub id): ``kind`` classifier or dpo;
    ``requested_dtype`` plays the reference's ``--torch_dtype`` (``auto`` = its default float16)."""
    flag = "float16" if requested_dtype == "auto" else requested_dtype
    if kind == "dpo":
        exempt = next((n for n in DPO_EXEMPT_NAMES if n in name), None)
        dtype = "bfloat16" if flag == "bfloat16" else "float16"
        if exempt:
            return ReferenceLoading(False, dtype, f"run_dpo.py: name contains {exempt!r}, not quantized")
        return ReferenceLoading(True, dtype, "run_dpo.py: 8-bit for every policy and reference")
    if family_dtype is not None:
        dtype, quantized, why = family_dtype, family_quantized, "the family's fixed dtype"
    else:
        dtype, quantized, why = flag, family_quantized, "--torch_dtype"
        if flag == "bfloat16":
            quantized, why = False, "bfloat16 turns quantization off"
    exempt = next((n for n in RM_EXEMPT_NAMES if n in name), None)
    if exempt and quantized:
        return ReferenceLoading(False, dtype, f"run_rm.py: name contains {exempt!r}, not quantized")
    if not family_quantized:
        why = "the family is not quantized by the reference"
    return ReferenceLoading(quantized, dtype, f"run_rm.py: {why}" + (", 8-bit" if quantized else ""))


def check_device(loading: ReferenceLoading, model: str, device: str) -> None:
    """8-bit loading needs a CUDA GPU: on a CPU it is an error naming the rule (exempt models load as asked)."""
    if loading.quantized and not device.startswith("cuda"):
        raise ModelError(
            f"model {model!r}: profile reference loads it in 8-bit ({loading.reason}); bitsandbytes 8-bit needs a "
            "CUDA GPU: run it on GPU actors (resources.gpus_per_actor >= 1), or use profile: default"
        )
