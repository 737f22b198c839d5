"""Write the M-RewardBench fixture: three language configs in the hub repository's exact layout and schema.

    python perf/reference/make_m_reward_bench_fixture.py --out tests/fixtures/benchmarks/m-reward-bench

Each config (``arb_Arab``: Arabic script, ``deu_Latn``, ``kor_Hang``: Hangul) is a folder holding its ``test``
split as ``test-00000-of-00001.parquet`` with the hub's columns and types (``id`` int64; ``language, prompt,
chosen, rejected, chosen_model, rejected_model, source`` text), beside a ``README.md`` whose YAML ``configs`` block
names the folders as the hub card does. Every config holds the same 26 examples (the same ids, as the translations
of one English pair share its RewardBench id): one per RewardBench v1 subset, two for alpacaeval-easy, math-prm
and xstest-should-respond. Texts are short made-up sentences in each language, not real data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from orchestrator.benchmarks.m_reward_bench import SUBSETS

TWICE = ("alpacaeval-easy", "math-prm", "xstest-should-respond")
TEXTS = {
    "arb_Arab": ("ما هي عاصمة فرنسا؟", "عاصمة فرنسا هي باريس.", "لا أعرف."),
    "deu_Latn": ("Was ist die Hauptstadt von Frankreich?", "Die Hauptstadt ist Paris.", "Ich weiß es nicht."),
    "kor_Hang": ("프랑스의 수도는 어디입니까?", "프랑스의 수도는 파리입니다.", "모르겠습니다."),
}
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("language", pa.string()),
        ("prompt", pa.string()),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("chosen_model", pa.string()),
        ("rejected_model", pa.string()),
        ("source", pa.string()),
    ]
)


def examples() -> list[tuple[int, str]]:
    """(id, v1 subset) of the 26 examples, in file order."""
    out, next_id = [], 100
    for subset in SUBSETS:
        for _ in range(2 if subset in TWICE else 1):
            out.append((next_id, subset))
            next_id += 1
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    out = parser.parse_args().out
    card = ["---", "configs:"]
    for lang, (prompt, chosen, rejected) in TEXTS.items():
        rows = [
            {
                "id": i,
                "language": lang,
                "prompt": f"{prompt} ({subset} {i})",
                "chosen": f"{chosen} ({i})",
                "rejected": f"{rejected} ({i})",
                "chosen_model": "gpt-4",
                "rejected_model": "llama-2-7b-chat",
                "source": subset,
            }
            for i, subset in examples()
        ]
        (out / lang).mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, SCHEMA), out / lang / "test-00000-of-00001.parquet")
        card += [f"- config_name: {lang}", "  data_files:", "  - split: test", f"    path: {lang}/test-*"]
    card += ["---", "", "M-RewardBench fixture (made-up texts in the hub layout).", ""]
    (out / "README.md").write_text("\n".join(card), encoding="utf-8")


if __name__ == "__main__":
    main()
