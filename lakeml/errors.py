"""The lakeml error tree.

Every error lakeml raises is a :class:`LakeMLError`. Messages say what happened (with the bad
value) and end with a ``Hint:`` saying what to do. Where a builtin exception fits, the lakeml
error also inherits it, so ``except KeyError`` and friends keep working. Messages and hints pass
through :func:`lakeml.redaction.redact_text`: no error carries a SAS token, key or connection string.

Hints speak the caller's language. Where a hint names an option it writes it as a placeholder that
renders per audience (see :func:`render_for`): ``[[mode='append']]`` is ``mode='append'`` in Python
and ``--mode append`` on the command line; ``[[python text|cli text]]`` gives each audience its own
words (either side may be empty when the other interface has no such thing).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Literal

from lakeml.redaction import redact_text

Audience = Literal["python", "cli"]

_PLACEHOLDER = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_KEYWORD = re.compile(r"^([A-Za-z_]\w*)=(.*)$", re.DOTALL)


def render_for(text: str, audience: Audience) -> str:
    """``text`` with every ``[[...]]`` placeholder written for ``audience`` (``"python"`` or ``"cli"``).

    ``[[name=value]]`` renders as ``name=value`` in Python and ``--name value`` on the CLI
    (underscores become dashes, quotes around the value are dropped, ``True`` is a bare flag and
    ``False`` is ``--no-name``). ``[[python text|cli text]]`` picks one side.
    """

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if "|" in body:
            python, cli = body.split("|", 1)
            return python if audience == "python" else cli
        keyword = _KEYWORD.match(body)
        if keyword is None or audience == "python":
            return body
        flag = "--" + keyword.group(1).replace("_", "-")
        value = keyword.group(2).strip()
        if value == "True":
            return flag
        if value == "False":
            return "--no-" + flag[2:]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        return f"{flag} {value}"

    return _PLACEHOLDER.sub(one, text)


class LakeMLError(Exception):
    """Base class of every error lakeml raises.

    Args:
        message: what happened, with the offending value.
        hint: what the user should do about it; appended as ``Hint: ...``. Options are written as
            ``[[...]]`` placeholders (see :func:`render_for`) so each interface shows its own syntax.

    ``message`` and ``hint`` are the Python renderings; ``message_source`` and ``hint_source`` keep the
    placeholders, for re-raising under another message.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message_source = redact_text(message)
        self.hint_source = redact_text(hint) if hint else None
        self.message = render_for(self.message_source, "python")
        self.hint = render_for(self.hint_source, "python") if self.hint_source else None
        super().__init__(str(self))

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nHint: {self.hint}"

    def one_line(self, audience: Audience = "python") -> str:
        """The message and hint on a single line, written for ``audience``; the CLI prints ``one_line("cli")``."""
        message = render_for(self.message_source, audience)
        hint = render_for(self.hint_source, audience) if self.hint_source else ""
        text = f"{message} Hint: {hint}" if hint.strip() else message
        return " ".join(text.split())


class ConfigError(LakeMLError, ValueError):
    """Invalid settings or arguments."""


class InvalidNameError(LakeMLError, ValueError):
    """A table or model name that is not allowed (empty, path traversal, separators)."""


class TableNotFoundError(LakeMLError, KeyError):
    """No table of that name in the catalog."""


class TableExistsError(LakeMLError, FileExistsError):
    """A write with ``mode="error"`` found an existing table."""


class ColumnNotFoundError(LakeMLError, KeyError):
    """A column named in a query or argument does not exist."""


class LakePathNotFoundError(LakeMLError, FileNotFoundError):
    """A file or folder in the lake (or a local source) does not exist."""


class StorageError(LakeMLError, OSError):
    """Reading or writing lake storage failed."""


class CredentialError(LakeMLError, PermissionError):
    """Missing, invalid or refused storage credentials. Never carries the secret itself."""


class ExternalAccessError(LakeMLError, PermissionError):
    """A location outside the lake root was refused because the lake's external access is off."""


class CommitConflictError(StorageError):
    """Another writer committed the same table version first and retries were exhausted."""


class CorruptMetadataError(StorageError):
    """A lakeml metadata file (table log entry, catalog, aliases) cannot be parsed."""


class SchemaError(LakeMLError, ValueError):
    """Data does not match the schema it is written to or read with."""


class DataFormatError(LakeMLError, ValueError):
    """Malformed input data (a bad CSV row, an unreadable Parquet file)."""


class SQLError(LakeMLError, ValueError):
    """A SQL statement could not be parsed or executed."""


class SQLSyntaxError(SQLError):
    """A SQL statement is not valid; carries the line and column of the problem."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None,
                 hint: str | None = None) -> None:
        self.line = line
        self.column = column
        super().__init__(message, hint=hint)


class ModelError(LakeMLError, ValueError):
    """A model is invalid, or cannot be used the way it was asked to be."""


class ModelNotFoundError(LakeMLError, KeyError):
    """No model, version or alias of that reference in the registry."""


class ModelExistsError(LakeMLError, FileExistsError):
    """A model version that already exists would be overwritten."""


class PredictError(LakeMLError, ValueError):
    """Scoring could not bind or convert inputs or outputs."""


class NullInputError(PredictError):
    """An input column holds nulls that the null policy (``on_null``) refuses to score."""


class TrainingError(LakeMLError, ValueError):
    """Training or AutoML could not run on the given data and settings."""


class UnsupportedOperationError(LakeMLError, NotImplementedError):
    """The active backend cannot do this operation; the hint names the alternative."""


class MissingDependencyError(LakeMLError, ImportError):
    """An optional dependency is not installed; the hint has the pip line."""


class EngineError(LakeMLError, RuntimeError):
    """An engine (Polars, Arrow, ONNX Runtime, Delta) failed in a way no narrower lakeml error describes."""


class TriggerValidationError(ConfigError):
    """A trigger definition has problems; ``issues`` lists every one as ``(json_path, message)``."""

    def __init__(self, message: str, *, issues: list[tuple[str, str]] | None = None,
                 hint: str | None = None) -> None:
        self.issues = list(issues or [])
        super().__init__(message, hint=hint)


class TriggerNotFoundError(LakeMLError, KeyError):
    """No stored trigger of that name, or no window or run of that trigger."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Return a ``Did you mean 'x'?`` sentence for the closest candidate, or None."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    if name.lower() in lowered:
        return f"Did you mean '{lowered[name.lower()]}'?"
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"Did you mean '{close[0]}'?" if close else None


def choices_hint(name: str, candidates: Iterable[str], *, kind: str) -> str:
    """A hint with a did-you-mean when one is close, else the list of available names."""
    pool = sorted(candidates)
    suggestion = did_you_mean(name, pool)
    if suggestion:
        return suggestion
    if not pool:
        return f"There are no {_plural(kind)} yet."
    shown = ", ".join(pool[:20]) + (" ..." if len(pool) > 20 else "")
    return f"Available {_plural(kind)}: {shown}."


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "sh", "ch")):
        return noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    return noun + "s"


class PipelineValidationError(ConfigError):
    """A pipeline definition (or the parameters of a run) has problems; ``issues`` lists every one.

    Each issue is ``(path, message)`` where ``path`` is a JSON path into the document
    (``$.properties.activities[2].typeProperties.sql``).
    """

    def __init__(self, message: str, *, issues: list[tuple[str, str]] | None = None,
                 hint: str | None = None) -> None:
        self.issues = list(issues or [])
        super().__init__(message, hint=hint)


class ExpressionError(LakeMLError, ValueError):
    """A pipeline expression could not be parsed or evaluated; names the expression, position and function."""

    def __init__(self, message: str, *, expression: str = "", position: int | None = None,
                 function: str | None = None, hint: str | None = None) -> None:
        self.expression = expression
        self.position = position
        self.function = function
        super().__init__(message, hint=hint)


class PipelineNotFoundError(LakeMLError, KeyError):
    """No stored pipeline, or no pipeline run, of that name or id."""


class ActivityError(LakeMLError, RuntimeError):
    """A pipeline activity failed; ``code`` is its error code (a Fail activity's ``errorCode``)."""

    def __init__(self, message: str, *, code: str = "ActivityFailed", hint: str | None = None) -> None:
        self.code = code
        super().__init__(message, hint=hint)


class ActivityTimeoutError(LakeMLError, TimeoutError):
    """A pipeline activity ran longer than its policy's timeout."""
