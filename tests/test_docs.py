"""The documentation keeps up with the code: every job key, every SQL view and its columns are documented in
``docs/`` (the name in backticks), every relative link in README.md and docs/*.md resolves (files and
``#heading`` anchors), the job examples in the docs are valid jobs, and README.md stays a short front door."""

from __future__ import annotations

import re
import typing
import unicodedata
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from orchestrator import config
from tests.conftest import REPO

DOCS = REPO / "docs"
README = REPO / "README.md"
SQL_DIR = REPO / "orchestrator" / "query" / "sql"
_FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
_VIEW = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(VIEW|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_]*)",
    re.I,
)


def _doc_files() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def _without_code_blocks(text: str) -> str:
    return _FENCE.sub("", text)


def _backticked() -> set[str]:
    """Every name written in backticks in docs/*.md: whole spans, the items of comma-separated spans
    (`a, b, c`) and the parts of dotted key paths (`after_run.regression_check`)."""
    names: set[str] = set()
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for span in re.findall(r"`([^`\n]+)`", text):
            names.add(span.strip())
            for item in span.split(","):
                item = item.strip()
                names.add(item)
                names.update(part for part in item.split(".") if part)
    return names


# ---------------------------------------------------------------- job keys


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation refers to (through lists, unions, Annotated, discriminated unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        out.extend(_models_in(arg))
    return out


def _config_models() -> list[type[BaseModel]]:
    """JobConfig and every model reachable from its fields, every pydantic model ``orchestrator.config`` exports,
    and every registered model kind's config class defined in the package (a kind is reached through the kind
    registry, not through a field annotation; kinds registered by tests or plugins are theirs to document)."""
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [config.JobConfig]
    for value in vars(config).values():
        if (
            isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__.startswith("orchestrator.")
        ):
            todo.append(value)
    kinds = getattr(config, "model_kinds", None)
    if kinds is not None:
        todo += [cls for cls in kinds().values() if cls.__module__.startswith("orchestrator.")]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.append(model)
        for field in model.model_fields.values():
            todo.extend(_models_in(field.annotation))
    return seen


def _job_keys() -> list[tuple[str, str]]:
    return [(model.__name__, name) for model in _config_models() for name in model.model_fields]


def test_the_job_models_are_walked():
    names = {m.__name__ for m in _config_models()}
    assert {
        "JobConfig",
        "BenchmarkSpec",
        "ColumnMap",
        "Resources",
        "Failures",
        "AfterRun",
        "RegressionCheck",
    } <= names
    keys = {key for _, key in _job_keys()}
    # keys of every family: a classifier's, a dpo model's, a judge's, the vLLM engine's
    assert {"max_length", "beta", "iterations", "mode", "samples", "gpu_memory_utilization"} <= keys


def test_every_job_key_is_documented():
    documented = _backticked()
    missing = sorted({f"{owner}.{key}" for owner, key in _job_keys() if key not in documented})
    assert not missing, f"job keys not documented in docs/*.md (write them in backticks): {missing}"


def test_every_manifest_field_is_documented():
    """The run manifest is read by people and scripts: every field of the typed manifest (and of the models
    under it) is named in docs/*.md."""
    from orchestrator.results import manifest

    documented = _backticked()
    seen: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [manifest.RunManifest]
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.append(model)
            todo += [m for f in model.model_fields.values() for m in _models_in(f.annotation)]
    assert {"ModelOutcome", "ScheduleEntry", "DatasetInfo"} <= {m.__name__ for m in seen}
    missing = sorted(f"{m.__name__}.{k}" for m in seen for k in m.model_fields if k not in documented)
    assert not missing, f"manifest fields not documented in docs/*.md: {missing}"


# ---------------------------------------------------------------- SQL views


def _sql_relations() -> dict[str, str]:
    """Every view and table the SQL files create: name -> kind."""
    out: dict[str, str] = {}
    for path in sorted(SQL_DIR.rglob("*.sql")):
        text = re.sub(r"--[^\n]*", "", path.read_text(encoding="utf-8"))
        for kind, name in _VIEW.findall(text):
            out[name.strip('"')] = kind.upper()
    return out


def test_the_view_files_are_found():
    relations = _sql_relations()
    assert {"records", "latest_records", "subset_accuracy", "leaderboard", "iteration_progress"} <= set(
        relations
    )
    assert relations["leaderboard"] == "VIEW"


def test_every_view_is_documented():
    documented = _backticked()
    missing = sorted(name for name in _sql_relations() if name not in documented)
    assert not missing, f"SQL views not documented in docs/*.md (write them in backticks): {missing}"


def test_every_view_column_is_documented(tmp_path):
    """Each view's columns (as DuckDB reports them over an empty store) are named in docs/*.md."""
    from orchestrator.query.db import connect

    documented = _backticked()
    con = connect(tmp_path)
    try:
        missing = []
        for name in sorted(_sql_relations()):
            columns = [row[0] for row in con.execute(f'DESCRIBE "{name}"').fetchall()]
            assert columns, f"view {name} has no columns"
            missing += [f"{name}.{c}" for c in columns if c not in documented]
    finally:
        con.close()
    assert not missing, f"view columns not documented in docs/*.md: {missing}"


# ---------------------------------------------------------------- links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lower case, punctuation removed, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = text.replace("`", "").replace("*", "")
    text = text.strip().lower()
    kept = "".join(ch for ch in text if ch in " -_" or unicodedata.category(ch)[0] in ("L", "N"))
    return kept.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _without_code_blocks(path.read_text(encoding="utf-8"))
    counts: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        slug = _slug(heading)
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(path: Path) -> list[str]:
    text = _without_code_blocks(path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "", text)  # code spans are not links
    return re.findall(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)


def test_slugs_follow_github():
    assert _slug("`models[]` (`ModelSpec`)") == "models-modelspec"
    assert _slug("kind: dpo (implicit rewards, SPIN chains)") == "kind-dpo-implicit-rewards-spin-chains"
    assert _slug("The results store: directories, URIs, several writers") == (
        "the-results-store-directories-uris-several-writers"
    )


@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: {dest} does not exist")
            continue
        if fragment and dest.suffix == ".md" and fragment not in _anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.relative_to(REPO)}")
    assert not broken, f"{path.relative_to(REPO)}: broken links: {broken}"


def test_the_docs_link_to_each_other():
    """Every docs/*.md file is reachable from README.md."""
    linked = {
        (README.parent / t.partition("#")[0]).resolve() for t in _links(README) if not t.startswith("http")
    }
    unlinked = sorted(p.name for p in DOCS.glob("*.md") if p.resolve() not in linked)
    assert not unlinked, f"docs not linked from README.md: {unlinked}"


# ---------------------------------------------------------------- examples and the front door


def _yaml_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"^```ya?ml\n(.*?)^```", text, re.S | re.M)


_MINIMAL = {
    "name": "docs-example",
    "benchmarks": [{"name": "reward-bench"}],
    "models": [{"name": "m", "path": "models/tiny-rm"}],
}


def _job_examples() -> list[tuple[str, int, dict]]:
    out = []
    keys = set(config.JobConfig.model_fields)
    for path in _doc_files():
        for i, block in enumerate(_yaml_blocks(path)):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and set(data) <= keys:
                out.append((str(path.relative_to(REPO)), i, data))
    return out


def test_job_examples_are_found():
    where = {name for name, _, _ in _job_examples()}
    assert {"README.md", "docs/jobs.md", "docs/model-kinds.md"} <= where


@pytest.mark.parametrize(
    "where,index,data", [pytest.param(*e, id=f"{e[0]}-block{e[1]}") for e in _job_examples()]
)
def test_job_examples_are_valid_jobs(where, index, data, tmp_path, monkeypatch):
    """Each YAML job example (or fragment of one: the missing required keys filled in) validates."""
    job = {**_MINIMAL, **data}
    for model in job["models"]:
        template = model.get("template")
        if template is not None:  # a user's template file: validation checks that it exists
            monkeypatch.chdir(tmp_path)
            Path(template).write_text("{{ question }} {{ response }}", encoding="utf-8")
    parsed = config.JobConfig.from_dict(job, source=f"{where} yaml block {index}")
    assert parsed.models and parsed.benchmarks


def test_readme_is_a_front_door():
    text = README.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move reference material to docs/"
    first_block = re.search(r"^```(?:bash|sh)?\n(.*?)^```", text, re.S | re.M)
    assert first_block is not None, "README.md needs a first code block with the set-up commands"
    commands = first_block.group(1).splitlines()
    assert "pytest" in commands, (
        "the README's test command (`.ci/run` runs it) must be `pytest` on its own line"
    )
    assert any(c.startswith("pip install -e '.[dev]' && rayward demo") for c in commands)


def test_every_command_and_option_is_documented():
    """Each `rayward` command has a row in docs/commands.md naming all its options."""
    import typer.main

    from orchestrator.cli import app

    text = (DOCS / "commands.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    missing = []
    for name, command in sorted(group.commands.items()):
        rows = "\n".join(re.findall(rf"^\| `rayward {re.escape(name)}[ `].*$", text, re.M))
        if not rows:
            missing.append(f"rayward {name}")
            continue
        for param in command.params:
            long = [o for o in param.opts if o.startswith("--")]
            if long and not any(re.search(rf"{re.escape(o)}(?![\w-])", rows) for o in long):
                missing.append(f"rayward {name} {long[0]}")
    assert not missing, f"not documented in docs/commands.md: {missing}"


_REPO_PATH = re.compile(r"^(?:orchestrator|tests|benchmarks|perf|jobs|docs|deploy|examples|\.ci)/[\w./*-]*$")


@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_repository_paths_exist(path):
    """Every repository path written in backticks (`orchestrator/query/stats.py`, `tests/runtime/`, `jobs/*.yaml`;
    not a bare top-level folder) names something that exists, so a moved module or test cannot leave a stale
    pointer behind."""
    text = path.read_text(encoding="utf-8")
    stale = []
    for span in sorted(set(re.findall(r"`([^`\n]+)`", text))):
        for item in re.split(r"[,\s]+", span):
            item = item.rstrip(".:;)")
            if not _REPO_PATH.match(item) or re.fullmatch(r"[^/]+/", item):
                continue  # a bare top-level folder may be named in prose ("the folder was `benchmarks/`")
            if not (list(REPO.glob(item)) if "*" in item else (REPO / item).exists()):
                stale.append(item)
    assert not stale, f"{path.relative_to(REPO)}: paths that do not exist: {stale}"
