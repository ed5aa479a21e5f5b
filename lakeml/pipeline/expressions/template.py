"""String values of a definition: plain text, a whole ``@expression``, or text with ``@{...}`` parts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakeml.errors import ExpressionError
from lakeml.pipeline.expressions.evaluate import EvalContext, evaluate
from lakeml.pipeline.expressions.functions import to_text
from lakeml.pipeline.expressions.parser import Node, parse


@dataclass(frozen=True)
class Template:
    """A compiled string value: literal text pieces and parsed expressions.

    ``whole`` is set when the value is one ``@expression`` (its result keeps its type); otherwise the
    parts are joined as text.
    """

    source: str
    whole: Node | None
    parts: tuple[str | Node, ...]

    def nodes(self) -> list[Node]:
        """Every parsed expression in the value."""
        if self.whole is not None:
            return [self.whole]
        return [p for p in self.parts if isinstance(p, Node)]

    def render(self, ctx: EvalContext) -> Any:
        """The value for this run."""
        if self.whole is not None:
            return evaluate(self.whole, ctx, self.source)
        return "".join(p if isinstance(p, str) else to_text(evaluate(p, ctx, self.source)) for p in self.parts)


def is_expression(value: Any) -> bool:
    """Whether a definition value needs evaluating (an ``@`` string, or ``{"value": ..., "type": "Expression"}``)."""
    if isinstance(value, dict):
        return value.get("type") == "Expression" and set(value) <= {"value", "type"}
    return isinstance(value, str) and "@" in value


def compile_text(text: str) -> Template:
    """Compile one string value.

    Raises:
        ExpressionError: a syntax error (naming the position in ``text``) or an unclosed ``@{``.
    """
    if text.startswith("@") and not text.startswith("@@") and not text.startswith("@{"):
        return Template(text, parse(text[1:], offset=1, source=text), ())
    parts: list[str | Node] = []
    buffer: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("@@", i):
            buffer.append("@")
            i += 2
        elif text.startswith("@{", i):
            end = _closing_brace(text, i + 2)
            if buffer:
                parts.append("".join(buffer))
                buffer = []
            parts.append(parse(text[i + 2:end], offset=i + 2, source=text))
            i = end + 1
        else:
            buffer.append(text[i])
            i += 1
    if buffer:
        parts.append("".join(buffer))
    return Template(text, None, tuple(parts))


def _closing_brace(text: str, start: int) -> int:
    in_string = False
    for j in range(start, len(text)):
        ch = text[j]
        if ch == "'":
            in_string = not in_string
        elif ch == "}" and not in_string:
            return j
    raise ExpressionError(f"The expression {text!r} has an '@{{' at position {start - 2} with no closing '}}'.",
                          expression=text, position=start - 2, hint="Close the interpolation: @{...}.")


def compile_value(value: Any) -> Any:
    """Compile every string of a JSON value into :class:`Template` objects (others stay as they are)."""
    if isinstance(value, dict):
        if value.get("type") == "Expression" and set(value) <= {"value", "type"}:
            inner = value.get("value")
            return compile_text(inner) if isinstance(inner, str) else inner
        return {k: compile_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [compile_value(v) for v in value]
    if isinstance(value, str) and "@" in value:
        return compile_text(value)
    return value


def render(value: Any, ctx: EvalContext, *, skip: Callable[[str], bool] | None = None) -> Any:
    """Evaluate every :class:`Template` inside a compiled value; keys where ``skip(key)`` stay compiled."""
    if isinstance(value, Template):
        return value.render(ctx)
    if isinstance(value, dict):
        return {k: (v if skip is not None and skip(k) else render(v, ctx)) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    return value
