"""The expression language: every function, references, access operators, interpolation and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakeml.errors import ExpressionError
from lakeml.pipeline.expressions.template import compile_text, compile_value, render

NOW = datetime(2026, 12, 3, 15, 30, 45, 123456, tzinfo=UTC)


class Ctx:
    def pipeline(self):
        return {"parameters": {"day": "2013-01-02", "n": 3, "obj": {"a": {"b": 7}}}, "RunId": "r1",
                "Pipeline": "p", "TriggerTime": "2026-12-03T00:00:00Z"}

    def activity(self, name):
        if name != "count":
            raise KeyError(f"activity {name!r} has not run")
        return {"output": {"firstRow": {"n": 1500}, "value": [{"x": 1}, {"x": 2}]}, "status": "Succeeded"}

    def item(self):
        return {"month": 5}

    def variable(self, name):
        return {"months": [1, 2]}[name]

    def trigger(self):
        return {"outputs": {"windowStartTime": "2013-01-01T00:00:00Z", "windowEndTime": "2013-01-02T00:00:00Z"}}

    def trigger_body(self):
        return {"fileName": "a.csv", "folderPath": "raw/in"}

    def now(self):
        return NOW


def ev(text):
    return compile_text(text).render(Ctx())


@pytest.mark.parametrize(("text", "expected"), [
    ("@concat('a', 'b', 1)", "ab1"),
    ("@equals(1, 1)", True), ("@equals('1', 1)", False),
    ("@greater(2, 1)", True), ("@greaterOrEquals(1, 1)", True), ("@less('a', 'b')", True),
    ("@lessOrEquals(2, 1)", False),
    ("@and(true, false)", False), ("@or(false, true)", True), ("@not(false)", True),
    ("@if(equals(1, 2), 'y', 'n')", "n"),
    ("@add(1, 2.5)", 3.5), ("@sub(5, 7)", -2), ("@mul(3, 4)", 12), ("@div(7, 2)", 3), ("@div(-7, 2)", -3),
    ("@div(7.0, 2)", 3.5), ("@mod(7, 3)", 1), ("@mod(-7, 3)", -1),
    ("@length('abc')", 3), ("@length(createArray(1, 2))", 2),
    ("@empty('')", True), ("@empty(createArray())", True), ("@empty('x')", False),
    ("@contains('hello', 'ell')", True), ("@contains(createArray(1, 2), 2)", True),
    ("@contains(json('{\"k\": 1}'), 'k')", True),
    ("@coalesce(null, null, 'x')", "x"),
    ("@first(createArray(4, 5))", 4), ("@last('abc')", "c"),
    ("@split('a,b', ',')", ["a", "b"]), ("@replace('a-b', '-', '+')", "a+b"),
    ("@toLower('AB')", "ab"), ("@toUpper('ab')", "AB"),
    ("@startsWith('Hello', 'he')", True), ("@endsWith('file.csv', '.CSV')", True),
    ("@substring('hello', 1, 3)", "ell"), ("@substring('hello', 2)", "llo"),
    ("@string(true)", "True"), ("@string(createArray(1))", "[1]"), ("@int('42')", 42), ("@float('1.5')", 1.5),
    ("@bool('true')", True), ("@bool(0)", False),
    ("@json('[1, 2]')", [1, 2]), ("@createArray('a', 1)", ["a", 1]), ("@range(3, 4)", [3, 4, 5, 6]),
    ("@utcnow()", "2026-12-03T15:30:45.1234560Z"), ("@utcnow('yyyy-MM-dd')", "2026-12-03"),
    ("@formatDateTime('2013-01-05T07:08:09Z', 'yyyy/MM/dd HH:mm:ss')", "2013/01/05 07:08:09"),
    ("@formatDateTime('2013-01-05T07:08:09Z', 'MMM d, yyyy h tt')", "Jan 5, 2013 7 AM"),
    ("@formatDateTime('2013-01-05')", "2013-01-05T00:00:00.0000000Z"),
    ("@addDays('2013-01-31T00:00:00Z', 1, 'yyyy-MM-dd')", "2013-02-01"),
    ("@addHours('2013-01-01T23:00:00Z', 2, 'yyyy-MM-ddTHH')", "2013-01-02T01"),
    ("@addMinutes('2013-01-01T00:00:00Z', -1, 's')", "2012-12-31T23:59:00"),
    ("@max(1, 5, 3)", 5), ("@min(createArray(4, 2))", 2), ("@join(createArray(1, 2), '-')", "1-2"),
    ("@union(createArray(1, 2), createArray(2, 3))", [1, 2, 3]), ("@take('abc', 2)", "ab"),
    ("@skip(createArray(1, 2, 3), 2)", [3]), ("@trim('  x ')", "x"), ("@indexOf('abc', 'c')", 2),
    ("@intersection(createArray(1, 2), createArray(2))", [2]), ("@array('x')", ["x"]),
    ("@addSeconds('2013-01-01T00:00:00Z', 5, 'ss')", "05"),
    ("@startOfDay('2013-01-01T10:00:00Z', 'HH')", "00"),
])
def test_functions(text, expected):
    assert ev(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("@pipeline().parameters.day", "2013-01-02"),
    ("@pipeline().RunId", "r1"), ("@pipeline().Pipeline", "p"), ("@pipeline().TriggerTime", "2026-12-03T00:00:00Z"),
    ("@pipeline().parameters['obj']['a'].b", 7),
    ("@activity('count').output.firstRow.n", 1500), ("@activity('count').output.value[1].x", 2),
    ("@activity('count').output?.missing", None), ("@activity('count').output?.missing?.deeper", None),
    ("@item().month", 5), ("@variables('months')", [1, 2]),
    ("@trigger().outputs.windowStartTime", "2013-01-01T00:00:00Z"),
    ("@triggerBody().fileName", "a.csv"), ("@triggerBody().folderPath", "raw/in"),
    ("@greater(activity('count').output.firstRow.n, 1000)", True),
])
def test_references(text, expected):
    assert ev(text) == expected


def test_interpolation_and_escapes():
    assert ev("day=@{pipeline().parameters.day}, n=@{pipeline().parameters.n}") == "day=2013-01-02, n=3"
    assert ev("@@home") == "@home"
    assert ev("mail me@@x.org") == "mail me@x.org"
    assert ev("@{concat('}', 'x')}") == "}x"
    assert ev("plain") == "plain"
    assert ev("@'it''s'") == "it's"


def test_expressions_keep_their_type_and_objects_are_rendered_deeply():
    value = compile_value({"a": "@pipeline().parameters.n", "b": ["@{pipeline().parameters.n}"],
                           "c": {"value": "@add(1, 1)", "type": "Expression"}})
    assert render(value, Ctx()) == {"a": 3, "b": ["3"], "c": 2}


@pytest.mark.parametrize(("text", "position", "function", "words"), [
    ("@add(1,", 7, None, "a value or a function call"),
    ("@concat('a)", 8, None, "unterminated string"),
    ("@nosuch(1)", 1, "nosuch", "is not a function"),
    ("@add(1)", 1, "add", "takes 2 arguments, got 1"),
    ("@add('a', 1)", 1, "add", "expects a number"),
    ("@div(1, 0)", 1, "div", "divides by zero"),
    ("@int('x')", 1, "int", "cannot convert"),
    ("@activity('nope').output", 1, "activity", "has not run"),
    ("@pipeline().parameters.zzz", 22, None, "no property 'zzz'"),
    ("@formatDateTime('yesterday')", 1, "formatDateTime", "not an ISO 8601"),
    ("x @{add(1, 2}", 12, None, "','"),
    ("@pipeline", 1, None, "function call"),
])
def test_errors_name_expression_position_and_function(text, position, function, words):
    with pytest.raises(ExpressionError) as info:
        ev(text)
    error = info.value
    assert error.position == position
    assert error.function == function
    assert words in error.message
    assert repr(text) in error.message


def test_expressions_never_execute_python():
    with pytest.raises(ExpressionError):
        ev("@__import__('os')")
    with pytest.raises(ExpressionError):
        ev("@pipeline().__class__")
