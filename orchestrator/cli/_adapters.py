"""``rayward adapters``: the model-family adapters and the hub ids each covers."""

from __future__ import annotations

import typer

from orchestrator.cli._common import Format, _emit, app


@app.command("adapters")
def adapters_command(
    fmt: Format = typer.Option(Format.table, "--format", help="table | json | csv | markdown"),
) -> None:
    """List the model adapters (models[].adapter): family, head, input rule, pooling, and the hub ids covered."""
    from orchestrator.scoring.adapters import adapters

    rows = [
        {
            "adapter": a.name,
            "family": a.family,
            "head": a.head,
            "pooling": a.pooling,
            "doubled_bos_masked": a.mask_doubled_bos,
            "sign": a.sign,
            "dtype": a.dtype or "job",
            "template_if_none": a.conversation_template
            or ("own format" if a.input_rule == "pair" else "tulu"),
            "covers": ", ".join(a.covers),
            "verified": a.verified,
        }
        for a in adapters()
    ]
    columns = [
        "adapter",
        "family",
        "head",
        "pooling",
        "doubled_bos_masked",
        "sign",
        "dtype",
        "template_if_none",
        "covers",
    ]
    if fmt in (Format.json, Format.csv):
        columns.append("verified")
    _emit(rows, columns, fmt, title="model adapters")
