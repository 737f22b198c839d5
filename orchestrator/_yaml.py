"""Strict YAML for job files: duplicate keys are errors, and every key path keeps its line for messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrator.errors import ConfigError


def _loader(file: str) -> Any:
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """SafeLoader refusing duplicate mapping keys (YAML says keys are unique; PyYAML keeps the last)."""

    def construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
        loader.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            key = loader.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                raise ConfigError(
                    f"{file}:{key_node.start_mark.line + 1}: a mapping key must be text, not {key!r}"
                ) from None
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"{file}:{line}: duplicate key {key!r} (first at line {seen[key]}); "
                    "YAML keeps only one value: remove one"
                )
            seen[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


def key_lines(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Key path (``("models", 0, "path")``) -> 1-based line of a composed YAML node tree."""
    import yaml

    out: dict[tuple[Any, ...], int] = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            sub = (*path, key_node.value)
            out.update(key_lines(value, sub))
            out[sub] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(key_lines(item, (*path, i)))
    return out


def load_job_yaml(file: Path, text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """(data, key path -> line) of a job file's text; YAML errors and duplicate keys name the line."""
    import yaml

    try:
        data = yaml.load(text, Loader=_loader(str(file)))
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        raise ConfigError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    return data, (key_lines(root) if root is not None else {})


def line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """The line of ``loc`` or of its nearest ancestor in the file."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None
