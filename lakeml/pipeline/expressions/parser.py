"""Parse expression text into a tree of :class:`Node` objects."""

from __future__ import annotations

from dataclasses import dataclass

from lakeml.errors import ExpressionError
from lakeml.pipeline.expressions.lexer import Token, tokenize


@dataclass(frozen=True)
class Node:
    """One node of a parsed expression.

    ``kind`` is ``literal`` (``value``), ``call`` (``name``, ``args``), ``member`` (``target``,
    ``name``) or ``index`` (``target``, ``args[0]`` the key); ``optional`` marks ``?.`` / ``?[``.
    """

    kind: str
    pos: int
    value: object = None
    name: str = ""
    args: tuple[Node, ...] = ()
    target: Node | None = None
    optional: bool = False


_LITERALS = {"true": True, "false": False, "null": None}


class _Parser:
    def __init__(self, tokens: list[Token], source: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.source = source

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self, kind: str, what: str) -> Token:
        token = self.peek()
        if token.kind != kind:
            raise self.error(token, f"expected {what}")
        self.i += 1
        return token

    def error(self, token: Token, what: str) -> ExpressionError:
        found = "the end" if token.kind == "EOF" else repr(str(token.value))
        return ExpressionError(f"The expression {self.source!r}: {what} at position {token.pos}, found {found}.",
                               expression=self.source, position=token.pos,
                               hint="Expressions are function calls and literals, e.g. "
                                    "@concat('a', pipeline().parameters.day).")

    def expression(self) -> Node:
        token = self.peek()
        if token.kind in ("NUM", "STR"):
            self.i += 1
            node = Node("literal", token.pos, value=token.value)
        elif token.kind == "IDENT":
            self.i += 1
            name = str(token.value)
            if self.peek().kind == "LPAREN":
                self.i += 1
                args: list[Node] = []
                if self.peek().kind != "RPAREN":
                    args.append(self.expression())
                    while self.peek().kind == "COMMA":
                        self.i += 1
                        args.append(self.expression())
                self.take("RPAREN", f"',' or ')' in the call of {name}()")
                node = Node("call", token.pos, name=name, args=tuple(args))
            elif name.lower() in _LITERALS:
                node = Node("literal", token.pos, value=_LITERALS[name.lower()])
            else:
                raise self.error(token, f"a function call (write {name}(...)) or a quoted string")
        else:
            raise self.error(token, "a value or a function call")
        return self.postfix(node)

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.kind in ("DOT", "QDOT"):
                self.i += 1
                name = self.take("IDENT", "a property name after '.'")
                node = Node("member", token.pos, name=str(name.value), target=node, optional=token.kind == "QDOT")
            elif token.kind in ("LBRACK", "QBRACK"):
                self.i += 1
                key = self.expression()
                self.take("RBRACK", "']'")
                node = Node("index", token.pos, args=(key,), target=node, optional=token.kind == "QBRACK")
            else:
                return node


def parse(text: str, *, offset: int = 0, source: str | None = None) -> Node:
    """Parse one expression (the text after ``@`` or inside ``@{...}``).

    Args:
        text: the expression.
        offset: where ``text`` starts inside ``source`` (for positions in messages).
        source: the whole string value the expression came from (default ``text``).

    Raises:
        ExpressionError: a syntax error, naming the expression and the position.
    """
    whole = source if source is not None else text
    tokens = tokenize(text, offset=offset, source=whole)
    parser = _Parser(tokens, whole)
    if tokens[0].kind == "EOF":
        raise parser.error(tokens[0], "an empty expression")
    node = parser.expression()
    if parser.peek().kind != "EOF":
        raise parser.error(parser.peek(), "the end of the expression")
    return node
