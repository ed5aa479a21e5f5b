"""Tokens of the expression language."""

from __future__ import annotations

from dataclasses import dataclass

from lakeml.errors import ExpressionError

PUNCTUATION = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", ".": "DOT", "[": "LBRACK", "]": "RBRACK"}


@dataclass(frozen=True)
class Token:
    """One token: its kind, value and 0-based position in the expression text."""

    kind: str  # NUM, STR, IDENT, LPAREN, RPAREN, COMMA, DOT, QDOT, LBRACK, QBRACK, RBRACK, EOF
    value: object
    pos: int


def tokenize(text: str, *, offset: int = 0, source: str | None = None) -> list[Token]:
    """Split ``text`` into tokens; positions are ``offset`` + index (into ``source``, the whole value).

    Raises:
        ExpressionError: an unterminated string or a character that starts no token.
    """
    whole = source if source is not None else text
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "'":
            j, parts = i + 1, []
            while True:
                if j >= n:
                    raise _error(whole, offset + i, "an unterminated string (a quote ' with no closing quote)")
                if text[j] == "'":
                    if j + 1 < n and text[j + 1] == "'":  # '' is an escaped quote
                        parts.append("'")
                        j += 2
                        continue
                    break
                parts.append(text[j])
                j += 1
            tokens.append(Token("STR", "".join(parts), offset + i))
            i = j + 1
        elif ch.isdigit() or (ch == "-" and i + 1 < n and text[i + 1].isdigit()):
            j = i + 1
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            raw = text[i:j]
            try:
                value: object = float(raw) if "." in raw else int(raw)
            except ValueError:
                raise _error(whole, offset + i, f"a malformed number {raw!r}") from None
            tokens.append(Token("NUM", value, offset + i))
            i = j
        elif ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("IDENT", text[i:j], offset + i))
            i = j
        elif ch == "?" and i + 1 < n and text[i + 1] in ".[":
            tokens.append(Token("QDOT" if text[i + 1] == "." else "QBRACK", "?" + text[i + 1], offset + i))
            i += 2
        elif ch in PUNCTUATION:
            tokens.append(Token(PUNCTUATION[ch], ch, offset + i))
            i += 1
        else:
            raise _error(whole, offset + i, f"an unexpected character {ch!r}")
    tokens.append(Token("EOF", None, offset + n))
    return tokens


def _error(expression: str, pos: int, what: str) -> ExpressionError:
    return ExpressionError(f"The expression {expression!r} has {what} at position {pos}.", expression=expression,
                           position=pos, hint="Strings use single quotes ('it''s'); see docs/pipelines.md, "
                                              "Expressions.")
