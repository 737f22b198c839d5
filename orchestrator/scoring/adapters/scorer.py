"""The scorer for ``kind: classifier`` models read through an adapter (:mod:`orchestrator.scoring.adapters`).

Tokenization, token cache, length-sorted batches and the causal no-mask fast path are the classifier's
(:class:`~orchestrator.scoring.classifier.ClassifierScorer`); the adapter decides the loader (transformers'
sequence-classification head or a native head), whether a doubled BOS is masked, which token's output is read,
the sign, and whether several outputs are compared as lists.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from orchestrator._lazy import require
from orchestrator.config import ClassifierSpec, ModelSpec
from orchestrator.errors import ModelError
from orchestrator.runtime.faults import oom_threshold, simulated_oom
from orchestrator.scoring._hf import (
    _DTYPES,
    is_causal_decoder,
    load_pretrained,
    load_tokenizer,
    loaded_model_info,
)
from orchestrator.scoring._protocol import BatchOutOfMemory
from orchestrator.scoring.adapters import Adapter, select_adapter
from orchestrator.scoring.classifier import ClassifierScorer
from orchestrator.scoring.columns import list_columns
from orchestrator.scoring.formatting import Encoded, format_conversations
from orchestrator.scoring.prefetch import prefetch
from orchestrator.scoring.token_cache import TokenCache, resolve_cache_dir

logger = logging.getLogger(__name__)


def adapter_dtype(spec: ModelSpec, adapter: Adapter, device: str) -> str:
    """The weights dtype: the job's; ``auto`` = the family's fixed dtype where the reference fixes one (on any
    device, as the reference does), else bfloat16 on a GPU and float32 on a CPU."""
    if spec.dtype != "auto":
        return spec.dtype
    if adapter.dtype is not None:
        return adapter.dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def _load_8bit(
    spec: ModelSpec,
    device: str,
    dtype_name: str,
    auto_class: str = "AutoModelForSequenceClassification",
    path: str | None = None,
):
    """The reference's 8-bit loading: bitsandbytes ``load_in_8bit`` on this actor's GPU, compute in ``dtype_name``
    (``auto_class`` of ``path``, default the spec's own sequence classifier)."""
    torch = require("torch")
    transformers = require("transformers")
    require("bitsandbytes")
    index = torch.device(device).index or 0
    path = path or spec.path
    try:
        from orchestrator.scoring.load_check import load_with_report

        model = load_with_report(
            getattr(transformers, auto_class),
            path,
            model_name=spec.name,
            auto_class=auto_class,
            revision=spec.revision if path == spec.path else None,
            trust_remote_code=spec.trust_remote_code,
            quantization_config=transformers.BitsAndBytesConfig(load_in_8bit=True),
            device_map={"": index},
            dtype=getattr(torch, _DTYPES[dtype_name]),
        )
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"model {spec.name!r}: cannot load {path!r} in 8-bit: {exc}") from None
    return model.eval()


def lexicographic_greater(a: Sequence[float], b: Sequence[float]) -> bool:
    """Python's ``list > list``, which is how the reference compares multi-output scores."""
    return list(a) > list(b)


def label_outputs(chosen: Sequence[float], rejected: Sequence[float]) -> list[dict[str, Any]]:
    """A multi-label head's every output for one pair, as record ``judge_outputs`` entries: ``target`` chosen or
    rejected, ``sample`` = the label index, ``parsed`` = the logit (the lists the reference compares)."""
    return [
        {"target": target, "order": None, "sample": j, "text": None, "parsed": float(v)}
        for target, values in (("chosen", chosen), ("rejected", rejected))
        for j, v in enumerate(values)
    ]


class AdapterScorer(ClassifierScorer):
    """A classifier-kind reward model read through its family's adapter."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", adapter: Adapter | None = None):
        torch = require("torch")
        self.spec = spec
        self.device = device
        self.adapter = adapter or select_adapter(getattr(spec, "adapter", "auto"), spec.path)
        start = time.perf_counter()
        self.tokenizer = load_tokenizer(spec, default_template=self.adapter.conversation_template)
        self.token_cache = TokenCache(resolve_cache_dir(spec.token_cache))
        tokenizer_seconds = time.perf_counter() - start
        dtype_name = adapter_dtype(spec, self.adapter, device)
        self.loading = None
        if getattr(spec, "profile", "default") == "reference":
            from orchestrator.scoring.adapters.profile import check_device, reference_loading

            self.loading = reference_loading(
                "classifier",
                spec.path,
                family_quantized=self.adapter.quantized,
                family_dtype=self.adapter.dtype,
                requested_dtype=spec.dtype,
            )
            check_device(self.loading, spec.name, device)
            dtype_name = self.loading.dtype
        model_start = time.perf_counter()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token_id = self.tokenizer.eos_token_id
        if self.tokenizer.pad_token_id is None:
            raise ModelError(f"model {spec.name!r}: tokenizer has neither a pad nor an eos token")
        self.native = self.adapter.head != "sequence-classification"
        self.device_map: dict[str, Any] | None = None
        if self.native:
            from orchestrator.scoring.adapters.heads import load_native

            if self.loading is not None and self.loading.quantized:
                raise ModelError(
                    f"model {spec.name!r}: profile reference would load adapter {self.adapter.name} in 8-bit "
                    f"({self.loading.reason}); 8-bit loading of native-head families is not implemented: use "
                    "profile: default with dtype: float16"
                )

            loader = load_native
            if self.adapter.head == "armo-gating":
                from orchestrator.scoring.adapters.armorm import load_armorm as loader
            model = loader(
                self.adapter,
                spec.path,
                spec.name,
                getattr(torch, _DTYPES[dtype_name]),
                spec.attn_implementation,
            )
            gpus = torch.cuda.device_count() if device.startswith("cuda") else 0
            if gpus > 1:  # the actor holds several GPUs: the model is split over them (device_map)
                from orchestrator.runtime.resources import GPU_MEMORY_FRACTION
                from orchestrator.scoring.adapters.device_map import dispatch, gpu_max_memory

                model.eval()
                self.device_map = dispatch(
                    model,
                    [f"cuda:{i}" for i in range(gpus)],
                    gpu_max_memory(gpus, GPU_MEMORY_FRACTION),
                    where=f"model {spec.name!r}",
                )
            else:
                model.to(device).eval()
            if model.config.pad_token_id is None:
                model.config.pad_token_id = self.tokenizer.pad_token_id
            self.causal = is_causal_decoder(model.base)
            if not self.causal:
                raise ModelError(
                    f"model {spec.name!r}: adapter {self.adapter.name} needs a causal decoder base, "
                    f"not {model.config.model_type!r}"
                )
            labels = None
        else:
            if self.loading is not None and self.loading.quantized:
                model = _load_8bit(spec, device, dtype_name)
            else:
                model = load_pretrained("AutoModelForSequenceClassification", spec, device, dtype_name)
            if model.config.pad_token_id is None:
                model.config.pad_token_id = self.tokenizer.pad_token_id
            labels = model.config.num_labels
            if labels != 1 and not self.adapter.multi_label:
                raise ModelError(
                    f"model {spec.name!r}: has {labels} output labels; set `adapter: multi-label` to compare "
                    "the output lists as the reference does, or use a one-label classifier"
                )
            self.causal = is_causal_decoder(model)
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        model_seconds = time.perf_counter() - model_start
        self.model = model
        self._batch_tokens: int | None = None
        self._oom_above = oom_threshold()
        self.info = loaded_model_info(
            spec,
            model,
            dtype=dtype_name,
            device=device,
            start=start,
            extra={
                "adapter": self.adapter.name,
                "profile": getattr(spec, "profile", "default"),
                "reference_loading": None if self.loading is None else self.loading.reason,
                "num_labels": labels,
                "device_map": None
                if self.device_map is None
                else sorted({str(d) for d in self.device_map.values()}),
                "tokenizer_load_seconds": round(tokenizer_seconds, 4),
                "model_load_seconds": round(model_seconds, 4),
            },
        )

    # ------------------------------------------------------------------ inputs

    def _as_model_sees(self, enc: Encoded) -> Encoded:
        """The adapter's BOS rule: masking kept only where the family's reference pipeline masks."""
        if self.adapter.mask_doubled_bos:
            return enc
        return Encoded(enc.input_ids, [False] * len(enc.input_ids))

    def batches(self, enc: Encoded):
        return super().batches(self._as_model_sees(enc))

    def read_positions(self, enc: Encoded) -> list[int]:
        """Per sequence, the index (in the full token ids) of the token whose output is the score."""
        out = []
        pad = self.adapter.pad_id if self.adapter.pad_id is not None else self.tokenizer.pad_token_id
        for i, ids in enumerate(enc.input_ids):
            if not ids:
                raise ModelError(f"model {self.spec.name!r}: input {i} tokenized to nothing")
            pos = len(ids) - 1
            if self.adapter.pooling == "before-first-pad":
                try:
                    first = ids.index(pad)
                except ValueError:
                    first = None
                if first == 0:
                    raise ModelError(
                        f"model {self.spec.name!r} (adapter {self.adapter.name}): input {i} starts with the pad id "
                        f"{pad}; the family reads the token before the first pad, and there is none"
                    )
                if first is not None:
                    pos = first - 1
            out.append(pos)
        return out

    def gate_positions(self, enc: Encoded) -> list[int]:
        """Per sequence, the first token of the last occurrence of the gating head's token pattern (QRM: the
        last Llama-3 assistant header), as the reference finds it; none is an error naming the input."""
        pattern = list(self.model.gate_pattern)
        out = []
        for i, ids in enumerate(enc.input_ids):
            found = next(
                (j for j in range(len(ids) - len(pattern), -1, -1) if ids[j : j + len(pattern)] == pattern),
                None,
            )
            if found is None:
                raise ModelError(
                    f"model {self.spec.name!r} (adapter {self.adapter.name}): input {i} lacks the token pattern "
                    f"{pattern} the gating head reads at (a Llama-3 chat template's assistant header)"
                )
            out.append(found)
        return out

    def score_texts(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if self.adapter.input_rule != "reward-token":
            return super().score_texts(texts)
        enc = self.reward_token_encode(texts)
        return self.score_encoded(enc), np.asarray(enc.lengths, dtype=np.int32)

    def reward_token_encode(self, texts: Sequence[str]) -> Encoded:
        """InternLM2's input rule: each text tokenized without special tokens and without truncation, the reward
        token appended unless the text already ends with it (InternLMPipeline)."""
        token = self.model.reward_token_id
        ids = [list(x) for x in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]
        ids = [x if x and x[-1] == token else x + [token] for x in ids]
        return Encoded(ids, [False] * len(ids))

    # ------------------------------------------------------------------ scoring

    def outputs(self, enc: Encoded) -> np.ndarray:
        """The head's outputs ``[N, D]`` (sign applied), in input order."""
        torch = require("torch")
        seen = self._as_model_sees(enc)
        positions = self.read_positions(enc) if self.native else None
        gates = self.gate_positions(enc) if getattr(self.model, "gate_pattern", None) else None
        rows: list[Any] = []
        order: list[list[int]] = []
        with torch.inference_mode():
            for batch in prefetch(self.batches(enc), depth=self.spec.prefetch_batches):
                try:
                    if self._oom_above is not None and batch.inputs["input_ids"].numel() > self._oom_above:
                        raise simulated_oom(batch.inputs["input_ids"].numel(), self._oom_above)
                    inputs = {k: v.to(self.device, non_blocking=True) for k, v in batch.inputs.items()}
                    if positions is not None:  # a native head: read at the family's own position
                        hidden = self.model.hidden(**inputs)
                        at = []
                        for i in batch.indices:
                            p = positions[i] - (1 if self.causal and seen.first_masked[i] else 0)
                            if p < 0:
                                raise ModelError(
                                    f"model {self.spec.name!r}: input {i} would be read at its masked first BOS"
                                )
                            at.append(p)
                        idx = torch.as_tensor(at, device=hidden.device)
                        rows_at = torch.arange(len(at), device=hidden.device)
                        pooled = hidden[rows_at, idx]
                        if gates is not None:  # a gating head (QRM): its own read position
                            g = [
                                gates[i] - (1 if self.causal and seen.first_masked[i] else 0)
                                for i in batch.indices
                            ]
                            gated = hidden[rows_at, torch.as_tensor(g, device=hidden.device)]
                            out = self.model.head(pooled, gated)
                        else:
                            out = self.model.head(pooled)
                    else:
                        out = self.model(**inputs).logits.float()
                except torch.OutOfMemoryError as exc:
                    raise BatchOutOfMemory(len(batch.indices), exc) from exc
                rows.append(out)
                order.append(batch.indices)
            if not rows:
                return np.empty((0, 1))
            values = torch.cat(rows).cpu().numpy().astype(np.float64) * self.adapter.sign
        result = np.empty_like(values)
        result[[i for b in order for i in b]] = values
        if not np.all(np.isfinite(result)):
            bad = int(np.argwhere(~np.isfinite(result))[0][0])
            raise ModelError(f"model {self.spec.name!r}: non-finite score for input {bad}")
        return result

    def score_encoded(self, enc: Encoded) -> np.ndarray:
        return self.outputs(enc)[:, 0]

    def pair_columns(
        self, prompts: Sequence[Any], chosen: Sequence[str], rejected: Sequence[str]
    ) -> dict[str, Any]:
        if not self.adapter.multi_label:
            return super().pair_columns(prompts, chosen, rejected)
        n = len(prompts)
        texts = format_conversations(self.tokenizer, list(prompts) * 2, list(chosen) + list(rejected))
        enc = self.token_cache.encode(self.tokenizer, texts, self.spec.max_length)
        out = self.outputs(enc)
        tokens = np.asarray(enc.lengths, dtype=np.int32)
        return {
            "chosen": list(chosen),
            "rejected": list(rejected),
            "score_chosen": out[:n, 0],
            "score_rejected": out[n:, 0],
            "correct": np.asarray(
                [lexicographic_greater(a, b) for a, b in zip(out[:n], out[n:])], dtype=bool
            ),
            "tokens_chosen": tokens[:n],
            "tokens_rejected": tokens[n:],
            "judge_outputs": [label_outputs(out[i], out[n + i]) for i in range(n)],
        }

    def list_columns(self, prompts, chosen, rejected) -> dict[str, Any]:
        if self.adapter.multi_label:
            raise ModelError(
                f"model {self.spec.name!r}: multi-label heads are compared pairwise; best-of-N data needs one score"
            )
        return list_columns(self.score_completions, prompts, chosen, rejected)


def classifier_scorer(spec: ClassifierSpec, device: str = "cpu"):
    """The ``(classifier, transformers)`` factory: the plain :class:`ClassifierScorer` for one-label
    sequence classifiers under the default profile, else an :class:`AdapterScorer` with the selected adapter."""
    adapter = select_adapter(spec.adapter, spec.path)
    if adapter.input_rule == "pair":
        raise ModelError(
            f"model {spec.name!r}: adapter {adapter.name} reads both completions: set kind: pairwise"
        )
    if adapter.name == "classifier" and spec.profile == "default":
        return ClassifierScorer(spec, device=device)
    return AdapterScorer(spec, device=device, adapter=adapter)
