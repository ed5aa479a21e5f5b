"""The pipeline expression language: ``@expr``, ``@{...}`` interpolation and ``@@`` escapes.

A real tokenizer and parser over a small grammar (literals, function calls, ``.``/``['k']``/``?.``
access); evaluation walks the tree and never executes Python.
"""

from lakeml.pipeline.expressions.evaluate import EvalContext, evaluate
from lakeml.pipeline.expressions.parser import Node, parse
from lakeml.pipeline.expressions.template import Template, compile_value, is_expression, render

__all__ = ["EvalContext", "Node", "Template", "compile_value", "evaluate", "is_expression", "parse", "render"]
