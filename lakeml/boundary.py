"""The one error boundary: engine exceptions become lakeml errors where they leave lakeml.

Polars, sqlglot, ONNX Runtime, Arrow, deltalake, the Azure SDK and the OS raise their own exception
types. Code inside lakeml translates the ones it expects where it knows more (a did-you-mean over
columns, the table being written); whatever still escapes is translated here, once, by
:func:`translate`, and re-raised with ``raise ... from exc`` so ``--debug`` and ``__cause__`` keep
the original. :func:`public_api` applies the boundary to every public method of a class (``Lake``,
``ModelRegistry``); :func:`boundary` to a single function; the CLI calls :func:`translate` for
errors raised while it collects results.

Engine types are recognised by the module and name of the classes in the exception's MRO, so this
module imports none of the engines.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from lakeml.errors import (
    ColumnNotFoundError,
    CredentialError,
    DataFormatError,
    EngineError,
    LakeMLError,
    LakePathNotFoundError,
    ModelError,
    SchemaError,
    SQLError,
    SQLSyntaxError,
    StorageError,
)

__all__ = ["boundary", "first_line", "public_api", "translate"]

F = TypeVar("F", bound=Callable[..., Any])
# True while a boundary-wrapped call is running: inner public calls (Lake.ingest calling Lake.write)
# leave engine errors alone, so the code between them, which knows more, still sees the original.
_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar("lakeml_boundary_inside", default=False)
C = TypeVar("C", bound=type)

_ENGINE_MODULES = ("polars", "sqlglot", "onnxruntime", "onnx", "pyarrow", "deltalake", "azure",
                   "adlfs", "fsspec", "aiohttp", "urllib3", "requests")
# object_store errors end with a note on POLARS_* variables, which lakeml users do not set
_ENGINE_NOTE = "; note: "
_TYPE_HINT = ("Check the column types with [[lake.describe(table)|lakeml describe TABLE]]; cast in SQL "
              "(CAST(col AS DOUBLE)) or ingest again with explicit types ([[schema={'col': 'float64'}|--schema "
              "col=float64]]).")


def _classes(exc: BaseException) -> list[tuple[str, str]]:
    return [(cls.__module__.split(".")[0], cls.__name__) for cls in type(exc).__mro__]


def first_line(text: str) -> str:
    """The first non-empty line of an engine's message, without Polars' advice about its own settings."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split(_ENGINE_NOTE, 1)[0].split())[:300]
    return text.strip()


def _first_line(exc: BaseException) -> str:
    return first_line(str(exc)) or type(exc).__name__


def is_engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from an engine or the OS (and so must not reach the caller as is)."""
    if isinstance(exc, LakeMLError):
        return False
    if isinstance(exc, OSError | MemoryError):
        return True
    classes = _classes(exc)
    return any(module in _ENGINE_MODULES or name == "DeltaError" for module, name in classes)


def translate(exc: BaseException, *, what: str = "") -> LakeMLError | None:
    """The lakeml error for an engine error ``exc`` raised while ``what``; None for anything else.

    A :class:`LakeMLError` is returned unchanged; other non-engine exceptions (a ``TypeError`` from
    a wrong argument, a lakeml bug) are not translated.
    """
    if isinstance(exc, LakeMLError):
        return exc
    if not is_engine_error(exc):
        return None
    names = {name for _, name in _classes(exc)}
    modules = {module for module, _ in _classes(exc)}
    first = _first_line(exc)
    during = f" while {what}" if what else ""
    if "polars" in modules:
        return _polars(names, first, during)
    if "sqlglot" in modules:
        return SQLSyntaxError(f"The SQL could not be parsed{during}: {first}",
                              hint="Check the SQL near that position (a missing comma, parenthesis or keyword?).")
    if "onnxruntime" in modules or "onnx" in modules:
        return ModelError(f"ONNX Runtime failed{during}: {first}",
                          hint="Check that the input columns and types match the model's signature "
                               "([[lake.models.describe(ref)|lakeml models describe REF]]).")
    if "pyarrow" in modules:
        return DataFormatError(f"Arrow could not convert the data{during}: {first}", hint=_TYPE_HINT)
    if "DeltaError" in names:
        if "TableNotFoundError" in names:
            return LakePathNotFoundError(f"No Delta table found{during}: {first}",
                                         hint="Check the location: a Delta table folder holds a _delta_log folder.")
        if "SchemaMismatchError" in names:
            return SchemaError(f"The data does not match the Delta table's schema{during}: {first}",
                               hint="Match the table's columns and types, or overwrite the table.")
        return StorageError(f"Delta Lake failed{during}: {first}", hint="Check the table location and credentials.")
    if "ClientAuthenticationError" in names or isinstance(exc, PermissionError):
        return CredentialError(f"Storage refused access{during}: {first}",
                               hint="Check the account key / SAS token (and that it allows read, write and list).")
    if isinstance(exc, FileNotFoundError) or "ResourceNotFoundError" in names:
        return LakePathNotFoundError(f"Not found{during}: {first}", hint="Check the path or URI.")
    if isinstance(exc, TimeoutError) or "ServiceRequestError" in names or "ServiceResponseError" in names:
        return StorageError(f"Storage could not be reached{during}: {first}",
                            hint="Check the endpoint, the network and that the storage service is running.")
    if isinstance(exc, MemoryError):
        return EngineError(f"Out of memory{during}.",
                           hint="Filter or select fewer columns first, or lower batch_rows in the lake settings.")
    return StorageError(f"Storage failed{during}: {first}", hint="Check the location, the network and the credentials.")


def _polars(names: set[str], first: str, during: str) -> LakeMLError:
    if "ColumnNotFoundError" in names:
        return ColumnNotFoundError(f"Unknown column{during}: {first}",
                                   hint="Check the column names with [[lake.describe(table)|lakeml describe TABLE]].")
    if "SQLSyntaxError" in names or "SQLInterfaceError" in names:
        return SQLError(f"Polars SQL cannot run this query{during}: {first}",
                        hint="Rewrite that part with SQL Polars supports; see the Polars SQL reference.")
    if names & {"InvalidOperationError", "SchemaError", "SchemaFieldNotFoundError", "ComputeError"} and (
            "dtype" in first or "type" in first or "cast" in first.lower() or "conversion" in first):
        return SchemaError(f"A column has the wrong type{during}: {first}", hint=_TYPE_HINT)
    if names & {"InvalidOperationError", "SchemaError", "ShapeError", "DuplicateError"}:
        return SchemaError(f"The data does not fit{during}: {first}",
                           hint="Check the column names and types with [[lake.describe(table)|lakeml describe TABLE]].")
    if "NoDataError" in names:
        return DataFormatError(f"There is no data{during}: {first}", hint="Check that the input has rows.")
    return EngineError(f"The query engine failed{during}: {first}",
                       hint="Check the inputs; if they look right, this is a lakeml bug: report it with the "
                            "[[traceback|output of --debug]].")


def boundary(func: F, *, what: str | None = None) -> F:
    """``func`` with engine errors translated to lakeml errors (``raise ... from exc``)."""
    if getattr(func, "__lakeml_boundary__", False):
        return func
    label = what if what is not None else func.__name__.replace("_", " ").strip()

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _INSIDE.get():
            return func(*args, **kwargs)
        token = _INSIDE.set(True)
        try:
            return func(*args, **kwargs)
        except LakeMLError:
            raise
        except Exception as exc:
            wrapped = translate(exc, what=f"running {label}")
            if wrapped is None:
                raise
            raise wrapped from exc
        except BaseException as exc:  # Polars panics derive from BaseException
            if type(exc).__name__ != "PanicException":
                raise
            raise EngineError(f"The query engine panicked while running {label}: {_first_line(exc)}",
                              hint="This is a bug in an engine; report it with the "
                                   "[[traceback|output of --debug]].") from exc
        finally:
            _INSIDE.reset(token)

    wrapper.__lakeml_boundary__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def public_api(cls: C) -> C:
    """Apply :func:`boundary` to every public method defined on ``cls`` (not properties or dunders)."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, staticmethod | classmethod):
            setattr(cls, name, type(member)(boundary(member.__func__, what=name)))
        elif inspect.isfunction(member):
            setattr(cls, name, boundary(member, what=name))
    return cls


class delegated_method:
    """A method that *is* the function ``name`` of ``module``, imported on first use, behind the boundary.

    The function takes the instance as its first argument (a ``lake``), so its signature, defaults
    and docstring are the method's: one source of truth, and ``help`` or an IDE shows them (declare
    ``method = function`` under ``TYPE_CHECKING`` for static checkers). The import waits for the
    first access, so the class's module stays cheap to import.
    """

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self._func: Callable[..., Any] | None = None

    def function(self) -> Callable[..., Any]:
        """The delegate, behind the boundary (imported and wrapped once)."""
        if self._func is None:
            import importlib

            self._func = boundary(getattr(importlib.import_module(self.module), self.name), what=self.name)
        return self._func

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        func = self.function()
        return func if instance is None else func.__get__(instance, owner)
