"""Judge prompts: the Jinja templates (shipped or the user's) and their rendering through the judge's chat template.

A template renders the judge's instruction as one user message; the model's chat template then wraps it, with a
generation prompt, exactly as a chat model expects a user turn. Variables:

* rubric: ``question`` (the prompt as text), ``messages`` (the prompt as ``{role, content}`` turns), ``response``;
* pairwise: ``question``, ``messages``, ``response_a``, ``response_b``;
* four-way (RewardBench 2): ``question``, ``messages``, ``response_a`` .. ``response_d``;
* ratings (1-10, ``protocol: rewardbench`` rubric judges and the Ties rows of four-way judges): as rubric.

Templates run in Jinja's immutable sandbox with strict undefined variables, so a typo in a user's template is an
error naming the file rather than an empty string in every prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from orchestrator.errors import ModelError

MODES = ("rubric", "pairwise", "four-way", "ratings")
_RESPONSES = {"rubric": 1, "ratings": 1, "pairwise": 2, "four-way": 4}


def _environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False
    )


def default_template_path(mode: str) -> Path:
    """The shipped template of a mode (package data ``orchestrator/judge_templates/<mode>.jinja``)."""
    if mode not in MODES:
        raise ValueError(f"unknown judge mode {mode!r}: expected one of {MODES}")
    return Path(str(resources.files("orchestrator") / "judge_templates" / f"{mode.replace('-', '_')}.jinja"))


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """The prompt as chat turns: a string is one user turn; a list alternates user/assistant (plain strings or dicts)."""
    if isinstance(prompt, (list, tuple)):
        return [
            {
                "role": "user" if i % 2 == 0 else "assistant",
                "content": str(turn["content"] if isinstance(turn, dict) else turn),
            }
            for i, turn in enumerate(prompt)
        ]
    return [{"role": "user", "content": str(prompt)}]


def question_text(prompt: Any) -> str:
    """The prompt as the judge reads it: the text itself, or a multi-turn conversation as labelled turns."""
    messages = prompt_messages(prompt)
    if len(messages) == 1:
        return messages[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


@dataclass(frozen=True)
class JudgeTemplate:
    """A compiled judge prompt template of one mode."""

    mode: str
    source: str  # where it came from (a path), for error messages
    text: str  # the template's source text
    _template: Any

    def render(self, prompt: Any, *responses: str) -> str:
        """The judge's instruction for one response (rubric) or for responses A and B (pairwise)."""
        want = _RESPONSES[self.mode]
        if len(responses) != want:
            raise ValueError(f"a {self.mode} template takes {want} response(s), got {len(responses)}")
        variables: dict[str, Any] = {"question": question_text(prompt), "messages": prompt_messages(prompt)}
        if want == 1:
            variables["response"] = responses[0]
        else:
            for label, text in zip("abcd", responses):
                variables[f"response_{label}"] = text
        try:
            return self._template.render(**variables)
        except Exception as exc:  # jinja2 errors (undefined variable, sandbox violation) name the template
            raise ModelError(f"judge template {self.source}: cannot render: {exc}") from None


def load_template(mode: str, path: str | Path | None = None) -> JudgeTemplate:
    """Compile the template of ``mode`` (the shipped one unless ``path`` is given) and check that it renders."""
    from jinja2 import TemplateSyntaxError

    file = Path(path).expanduser() if path is not None else default_template_path(mode)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"judge template {file}: cannot read: {exc.strerror or exc}") from None
    try:
        compiled = _environment().from_string(text)
    except TemplateSyntaxError as exc:
        raise ModelError(f"judge template {file}:{exc.lineno}: {exc.message}") from None
    template = JudgeTemplate(mode, str(file), text, compiled)
    template.render("probe", *(["probe"] * _RESPONSES[mode]))  # unknown variables fail here, once
    return template


def chat_prompt(tokenizer, instruction: str) -> str:
    """The judge instruction as one user turn through the tokenizer's chat template, with the generation prompt."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": instruction}], tokenize=False, add_generation_prompt=True
    )
