"""Binding a model to a DATA schema (rules 1-10 of docs/predict.md) and scoring batches with it."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from lakeml.config import DEFAULT_BATCH_SIZE
from lakeml.errors import ModelError, NullInputError, PredictError
from lakeml.registry.manifest import Manifest, TensorSpec, scalar_sql_type
from lakeml.scoring.session import Kernel
from lakeml.scoring.types import ONNX_ELEM, OutputDecl, safe_cast, sql_name

OnNull = Literal["error", "propagate", "nan"]
_ON_NULL = ("error", "propagate", "nan")
MIN_ROWS = 1024
_INT_ELEMS: dict[str, type[np.integer[Any]]] = {"int64": np.int64, "int32": np.int32, "int16": np.int16,
                                                "int8": np.int8, "uint8": np.uint8}
_NATURAL: dict[str, pl.DataType] = {
    "float": pl.Float32(), "double": pl.Float64(), "int64": pl.Int64(), "int32": pl.Int32(),
    "int16": pl.Int16(), "int8": pl.Int8(), "uint8": pl.UInt8(), "string": pl.String(), "bool": pl.Boolean(),
}


@dataclass(frozen=True)
class InputBinding:
    """One graph input fed from one DATA column (or, packed, from the manifest's feature list)."""

    input: str
    columns: tuple[str, ...]
    elem: str
    rank: int
    casts: tuple[pl.DataType | None, ...]
    temporal: tuple[str | None, ...] = ()  # per column: the tick unit a Date/Datetime column is fed as
    fills: tuple[str | float | int | bool | None, ...] = ()  # per column: a null is fed as this, if set


@dataclass(frozen=True)
class OutputBinding:
    """One graph output turned into one result column."""

    output: str
    column: str
    dtype: pl.DataType | None
    not_null: bool
    width: int | None
    elem: str | None
    index: int | None = None

    def result_dtype(self) -> pl.DataType | None:
        """The column's dtype if it is known before scoring."""
        if self.dtype is not None:
            return self.dtype
        natural = _NATURAL.get(self.elem or "")
        if natural is None or self.index is not None:
            return natural
        if self.width == 1:
            return natural
        return pl.Array(natural, self.width) if self.width else None


def _match(name: str, pool: Sequence[str], *, what: str) -> str | None:
    if name in pool:
        return name
    hits = [c for c in pool if c.lower() == name.lower()]
    if len(hits) > 1:
        raise PredictError(f"{what} {name!r} matches several columns ignoring case: {hits}.",
                           hint="Rename or drop all but one of them in the DATA query.")
    return hits[0] if hits else None


def _tensor(spec: TensorSpec) -> str:
    return f"{spec.onnx_type} {'?' if spec.shape is None else list(spec.shape)}"


DATETIME_INPUTS_KEY = "lakeml.datetime_inputs"


def datetime_inputs(session: Kernel) -> dict[str, str]:
    """Inputs lakeml's exporter marked as date/time ticks, with their unit (``date``, ``ms``, ``us``, ``ns``)."""
    import json

    raw = session.session.get_modelmeta().custom_metadata_map.get(DATETIME_INPUTS_KEY)
    return dict(json.loads(raw)) if raw else {}


def _temporal_unit(col: str, dtype: pl.DataType, inp: str, unit: str | None) -> str | None:
    """The unit to feed a Date/Datetime column to a tick input as, or None when it is not such a pair."""
    if unit is None or not (isinstance(dtype, pl.Datetime) or dtype == pl.Date):
        return None
    if unit == "date" and isinstance(dtype, pl.Datetime):
        raise PredictError(f"Column {col!r} is a Datetime but model input {inp!r} was trained on dates.",
                           hint=f"Write CAST({col} AS DATE) in the DATA query.")
    return unit


def _temporal_ticks(s: pl.Series, unit: str) -> pl.Series:
    """Date/Datetime values as int64 ticks in ``unit`` (days for ``date``), as the model was trained."""
    if unit == "date":
        return s.cast(pl.Int64)
    if s.dtype == pl.Date:
        s = s.cast(pl.Datetime(unit))  # type: ignore[arg-type]
    return s.dt.cast_time_unit(unit).cast(pl.Int64)  # type: ignore[arg-type]


def _null_fill(manifest: Manifest, inp: str, elem: str) -> str | float | int | bool | None:
    """What to feed for a null in input ``inp`` so the model sees what training made of it; else None.

    The training rule's ``value`` when the input's type holds it: ``""`` (a null category) into a
    string input; into an integer or bool input the imputer's whole fill value, or the reserved code
    lakeml's graph turns into NaN date parts or the category ``""``. A rule without a value (NaN
    for the imputer) fits float inputs only. Otherwise (models registered from outside, manifests
    written before a rule had a value for this input) the nulls fall under ``on_null``.
    """
    rule = manifest.null_rule(inp)
    if rule is None or rule.get("null") not in ("category", "impute"):
        return None
    value = rule.get("value")
    if rule["null"] == "impute" and elem in ("float", "double"):
        return float("nan")
    if elem == "string":
        return value if isinstance(value, str) else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if elem == "bool":
        return bool(value) if value in (0, 1) else None
    if elem not in _INT_ELEMS:
        return None
    info = np.iinfo(_INT_ELEMS[elem])
    return value if info.min <= value <= info.max else None


def _check_dtype(col: str, dtype: pl.DataType, inp: str, elem: str, auto_cast: bool) -> pl.DataType | None:
    """None when the column feeds the input as is; else the dtype to auto-cast to (rule 5)."""
    if elem not in ONNX_ELEM:
        raise ModelError(f"Model input {inp!r} has element type {elem!r}, which lakeml cannot feed.",
                         hint="Export the model with float, double, int64, int32, string or bool inputs.")
    _np, accepted = ONNX_ELEM[elem]
    sql = scalar_sql_type(elem)
    if isinstance(dtype, accepted):
        return None
    if auto_cast:
        return _NATURAL[elem]
    raise PredictError(
        f"Column {col!r} has type {dtype} ({sql_name(dtype)}) but model input {inp!r} is tensor({elem}) "
        f"({sql}).",
        hint=f"Write CAST({col} AS {sql}) in the DATA query, or pass [[auto_cast=True]] to cast when no value "
             "changes.")


class ScoringPlan:
    """A model bound to one input schema: validates everything up front, then scores frames.

    Built by :func:`lakeml.scoring.api.build_plan`; ``score_frame`` returns DATA columns followed by
    the output columns, row for row.
    """

    def __init__(self, manifest: Manifest, session: Kernel, schema: pl.Schema,
                 decls: list[OutputDecl] | None, *, on_null: str = "error", auto_cast: bool = False,
                 batch_size: int = DEFAULT_BATCH_SIZE, rename: Callable[[str], str] | None = None,
                 element: int | None = None, check_collisions: bool = True) -> None:
        if on_null not in _ON_NULL:
            raise PredictError(f"on_null={on_null!r} is not a null policy.",
                               hint="Use 'error' (default), 'propagate' or 'nan'.")
        if batch_size < 1:
            raise PredictError(f"[[batch_size|--batch-size]] must be positive, got {batch_size}.",
                               hint=f"e.g. [[batch_size={DEFAULT_BATCH_SIZE}]].")
        self.manifest = manifest
        self.session = session
        self.on_null = on_null
        self.batch_size = int(batch_size)
        self.schema = schema
        self.ref = f"{manifest.name}:{manifest.version}"
        self.inputs = self._bind_inputs(list(schema.names()), schema, auto_cast)
        self.outputs = self._bind_outputs(decls, rename or (lambda n: n), element)
        self.bound_columns = list(dict.fromkeys(c for b in self.inputs for c in b.columns))
        # rule 10's on_null governs only the columns whose nulls the model has no training rule for
        filled = {c for b in self.inputs for c, f in zip(b.columns, b.fills, strict=True) if f is not None}
        self.null_columns = [c for c in self.bound_columns if c not in filled]
        self._warned = False
        if check_collisions:
            clash = [o.column for o in self.outputs if o.column in schema]
            if clash:
                raise PredictError(f"Output column(s) {clash} would collide with DATA columns of the same name.",
                                   hint="Rename the DATA column(s) in a query before scoring "
                                        "(e.g. SELECT label AS true_label, ...).")

    # ---- binding ------------------------------------------------------------------------------
    def _bind_inputs(self, cols: list[str], schema: pl.Schema, auto_cast: bool) -> list[InputBinding]:
        m = self.manifest
        wanted: list[tuple[TensorSpec, tuple[str, ...], int]] = []
        if m.features is not None and len(m.inputs) == 1:
            wanted.append((m.inputs[0], m.features, 2))
        else:
            for spec in m.inputs:
                rank = 1 if spec.shape is None else len(spec.shape)
                if not spec.is_tensor or spec.width != 1 or rank > 2:
                    hint = ("Register the model with features=[...] (the ordered column list) so lakeml "
                            "packs the columns." if len(m.inputs) == 1 and spec.is_tensor else
                            "Each input must be one value per row ([N] or [N,1]); re-export the model "
                            "with one input per column (e.g. a ColumnTransformer).")
                    raise PredictError(
                        f"Model {self.ref} input {spec.name!r} has shape {_tensor(spec)}, not one value per "
                        "row, and the model has no feature list.", hint=hint)
                wanted.append((spec, (spec.name,), rank))
        missing: list[str] = []
        bindings: list[InputBinding] = []
        ticks = datetime_inputs(self.session)
        for spec, names, rank in wanted:
            found = [_match(n, cols, what="Model input") for n in names]
            missing += [n for n, f in zip(names, found, strict=True) if f is None]
            if any(f is None for f in found):
                continue
            elem = spec.elem_type or ""
            cols_found = tuple(f for f in found if f)
            temporal = tuple(_temporal_unit(f, schema[f], spec.name, ticks.get(spec.name)) for f in cols_found)
            casts = tuple(None if unit else _check_dtype(f, schema[f], spec.name, elem, auto_cast)
                          for f, unit in zip(cols_found, temporal, strict=True))
            fill = _null_fill(m, spec.name, elem) if len(cols_found) == 1 else None
            bindings.append(InputBinding(spec.name, cols_found, elem, rank, casts, temporal,
                                         (fill,) * len(cols_found)))
        if missing:
            raise PredictError(
                f"Model {self.ref} needs input column(s) {missing} that DATA does not have. "
                f"Available columns: {cols}.",
                hint="Rename columns in the DATA query to the model's input names (see "
                     f"[[lake.models.describe('{self.ref}')|lakeml models show {self.ref}]]).")
        return bindings

    def _bind_outputs(self, decls: list[OutputDecl] | None, rename: Callable[[str], str],
                      element: int | None) -> list[OutputBinding]:
        real = list(self.manifest.outputs)
        names = [o.name for o in real]
        listing = ", ".join(f"{o.name} ({o.sql_type or o.onnx_type})" for o in real)
        if decls is None:
            decls = [OutputDecl(o.name, None) for o in real]
        out = []
        for d in decls:
            hit = _match(d.name, names, what="WITH column")
            if hit is None:
                raise PredictError(f"WITH names output {d.name!r}, which model {self.ref} does not have. "
                                   f"Its outputs: {listing}.", hint="Use one of the output names above.")
            spec = real[names.index(hit)]
            if not spec.is_tensor:
                raise PredictError(
                    f"Output {spec.name!r} of model {self.ref} is a ZipMap ({spec.onnx_type}), which "
                    "cannot be a column.",
                    hint="Export the classifier with zipmap disabled (skl2onnx: options={'zipmap': False}), "
                         "or name only tensor outputs in WITH.")
            ob = OutputBinding(spec.name, rename(d.name), d.dtype, d.not_null, spec.width, spec.elem_type,
                               element)
            is_arr = isinstance(d.dtype, pl.Array | pl.List)
            if element is None and d.dtype is not None and spec.width not in (None, 1) and not is_arr:
                raise PredictError(
                    f"Output {spec.name!r} has {spec.width} values per row, but WITH declares "
                    f"{d.name} {d.sql or sql_name(d.dtype)}.",
                    hint=f"Declare it as array({spec.sql_type and spec.sql_type.split('(')[-1].split(',')[0]}"
                         f", {spec.width}).")
            if isinstance(d.dtype, pl.Array) and spec.width not in (None, d.dtype.size):
                raise PredictError(f"Output {spec.name!r} has {spec.width} values per row, but WITH declares "
                                   f"array size {d.dtype.size}.", hint=f"Use {spec.sql_type}.")
            out.append(ob)
        return out

    def output_schema(self) -> dict[str, pl.DataType | None]:
        """Result column -> dtype (None where only scoring can tell)."""
        return {o.column: o.result_dtype() for o in self.outputs}

    # ---- scoring ------------------------------------------------------------------------------
    def check_nulls(self, df: pl.DataFrame) -> None:
        """Rule 10 for ``on_null='error'``: fail naming the first column with nulls and its count."""
        if self.on_null == "propagate" or df.height == 0 or not self.null_columns:
            return
        counts = df.select(pl.col(self.null_columns).null_count()).row(0)
        error = self.null_error(dict(zip(self.null_columns, counts, strict=True)))
        if error is not None:
            raise error

    def null_error(self, counts: dict[str, int]) -> NullInputError | None:
        """The rule-10 error for these per-column null counts (an engine may count them its own way)."""
        if self.on_null == "propagate":
            return None
        for col, n in counts.items():
            if not n:
                continue
            if self.on_null == "nan" and self.schema[col].is_float():
                continue
            extra = " (on_null='nan' only fills float inputs)" if self.on_null == "nan" else ""
            b = next(b for b in self.inputs if col in b.columns)
            if self.manifest.null_rule(b.input) is not None:
                extra += (f" (training filled them, but model input {b.input!r} is tensor({b.elem}), which "
                          "cannot carry a missing value)")
            return NullInputError(f"Input column {col!r} has {n} null value(s){extra}; nothing was scored.",
                                  hint="Filter or fill them (WHERE col IS NOT NULL / COALESCE), or pass "
                                       "[[on_null='propagate']] (null outputs) or [[on_null='nan']] (NaN for "
                                       "floats).")
        return None

    def score_frame(self, df: pl.DataFrame) -> pl.DataFrame:
        """DATA columns of ``df`` followed by the output columns (one row per row, same order)."""
        self.check_nulls(df)
        parts = [self._score_batch(df.slice(i, self.batch_size)) for i in range(0, df.height, self.batch_size)]
        if not parts:
            parts = [self._empty()]
        outs = parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")
        for ob in self.outputs:
            nulls = outs.get_column(ob.column).null_count() if ob.not_null else 0
            if nulls:
                raise PredictError(f"WITH column {ob.column} is NOT NULL but {nulls} output value(s) are null.",
                                   hint="Drop NOT NULL, or filter the rows that give null outputs.")
        return df.hstack(outs.get_columns())

    def _empty(self) -> pl.DataFrame:
        schema = {}
        for o in self.outputs:
            dt = o.result_dtype()
            schema[o.column] = dt if dt is not None else pl.List(_NATURAL.get(o.elem or "", pl.Float32()))
        return pl.DataFrame(schema=schema)

    def _score_batch(self, df: pl.DataFrame) -> pl.DataFrame:
        if self.on_null == "propagate" and self.null_columns:
            valid = pl.all_horizontal(pl.col(self.null_columns).is_not_null())
            mask = df.select(valid).to_series()
            if not mask.all():
                # position of each valid row among the scored rows; null for the skipped ones (a null
                # before the first valid row would otherwise give position -1)
                valid_rows = mask.to_numpy()
                idx = pl.Series(np.where(valid_rows, np.cumsum(valid_rows) - 1, 0), dtype=pl.UInt32)
                idx = pl.select(pl.when(mask).then(idx)).to_series()
                scored = self._run(df.filter(mask)) if mask.any() else self._empty()
                if not mask.any():
                    return pl.DataFrame([pl.Series(c.name, [None] * df.height, dtype=c.dtype) for c in
                                         scored.get_columns()])
                return scored.select(pl.all().gather(idx))
        return self._run(df)

    def _feed(self, df: pl.DataFrame) -> dict[str, np.ndarray]:
        feeds: dict[str, np.ndarray] = {}
        for b in self.inputs:
            np_dtype = ONNX_ELEM[b.elem][0]
            series = []
            units = b.temporal or (None,) * len(b.columns)
            fills = b.fills or (None,) * len(b.columns)
            for col, cast, unit, fill in zip(b.columns, b.casts, units, fills, strict=True):
                s = df.get_column(col)
                if unit is not None:
                    s = _temporal_ticks(s, unit)
                if cast is not None:
                    if s.dtype == pl.Float64 and cast == pl.Float32 and not self._warned:
                        self._warn_narrow(col)
                    s = safe_cast(s, cast, what=f"auto_cast of column {col!r}", allow_narrow_float=True)
                if isinstance(s.dtype, pl.Categorical | pl.Enum):
                    s = s.cast(pl.String)
                if fill is not None:
                    s = s.fill_null(fill)
                elif self.on_null == "nan" and s.dtype.is_float():
                    s = s.fill_null(float("nan"))
                series.append(s)
            if len(series) == 1:
                arr = series[0].to_numpy()
                arr = arr.astype(np_dtype, copy=False) if np_dtype is not np.object_ else arr.astype(object)
                feeds[b.input] = arr.reshape(-1, 1) if b.rank == 2 else arr
            else:
                arr = pl.DataFrame(series).to_numpy(order="c")
                feeds[b.input] = np.ascontiguousarray(arr, dtype=np_dtype)
        return feeds

    def warn_narrowing(self) -> None:
        """Rule 16's warning now, for the first float64 column auto-cast to float32; scoring then stays quiet.

        An engine binds on the driver and scores in worker processes, whose warnings the caller never
        sees: it warns here once per call instead (the workers' plans call :meth:`quiet`).
        """
        self._warned = True
        for b in self.inputs:
            for col, cast in zip(b.columns, b.casts, strict=True):
                if cast == pl.Float32 and self.schema[col] == pl.Float64:
                    self._warn_narrow(col)
                    return

    def quiet(self) -> None:
        """Never warn while scoring (the caller warned with :meth:`warn_narrowing`)."""
        self._warned = True

    def _warn_narrow(self, col: str) -> None:
        self._warned = True
        if not self.manifest.extra.get("parity"):
            warnings.warn(
                f"Model {self.ref}: auto-casting float64 column {col!r} to float32. Tree models compare "
                "against float32 thresholds, so a value within float32 rounding of a split can flip it.",
                UserWarning, stacklevel=4)

    def _run(self, df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0:
            return self._empty()
        feeds = self._feed(df)
        if df.height < MIN_ROWS:
            # ORT picks other kernels for tiny batches (GEMV for one row, tree-parallel evaluation for
            # few rows) whose float rounding differs; padding keeps results identical for any batch size.
            idx = np.arange(MIN_ROWS) % df.height
            feeds = {k: np.take(v, idx, axis=0) for k, v in feeds.items()}
        names = list(dict.fromkeys(o.output for o in self.outputs))
        try:
            raw = self.session.run(names, feeds)
            results = dict(zip(names, [np.asarray(r)[: df.height] for r in raw], strict=True))
        except Exception as exc:
            raise PredictError(f"ONNX Runtime failed scoring model {self.ref}: {str(exc).splitlines()[0][:300]}",
                               hint="Check the input types and values against the model's signature "
                                    "([[lake.models.describe(ref)|lakeml models show REF]]).") from exc
        return pl.DataFrame([self._column(results[o.output], o, df.height) for o in self.outputs])

    def _column(self, arr: Any, ob: OutputBinding, n: int) -> pl.Series:
        arr = np.asarray(arr)
        if arr.ndim == 0 or arr.shape[0] != n:
            raise PredictError(f"Output {ob.output!r} returned shape {arr.shape} for {n} rows.",
                               hint="Only batch-aligned outputs ([N], [N,1], [N,K]) can be columns.")
        if ob.index is not None:
            flat2 = arr.reshape(n, -1)
            if ob.index >= flat2.shape[1]:
                raise PredictError(f"Output {ob.output!r} has {flat2.shape[1]} values per row; element "
                                   f"[{ob.index}] does not exist.", hint="Use an index from 0.")
            arr = flat2[:, ob.index]
        target = ob.dtype
        is_arr = isinstance(target, pl.Array | pl.List)
        if arr.ndim == 2 and arr.shape[1] == 1 and not is_arr:
            arr = arr[:, 0]
        what = f"output {ob.output!r} (WITH {ob.column})"
        if arr.ndim == 1:
            if is_arr:
                raise PredictError(f"Output {ob.output!r} is one value per row, but WITH declares an array.",
                                   hint=f"Declare a scalar type for {ob.column}.")
            s = self._values(arr, target, what).rename(ob.column)
        elif arr.ndim == 2:
            k = arr.shape[1]
            if target is not None and not is_arr:
                raise PredictError(f"Output {ob.output!r} has {k} values per row, but WITH declares "
                                   f"{ob.column} {sql_name(target)}.",
                                   hint=f"Declare it as array({sql_name(_NATURAL.get(ob.elem or '', target))}, {k}).")
            if isinstance(target, pl.Array) and target.size != k:
                raise PredictError(f"Output {ob.output!r} has {k} values per row, but WITH declares array "
                                   f"size {target.size}.", hint=f"Declare array(..., {k}).")
            inner: Any = target.inner if isinstance(target, pl.Array | pl.List) else None
            flat = self._values(np.ascontiguousarray(arr).reshape(-1), inner, what)
            s = flat.reshape((n, k)).rename(ob.column)
            if isinstance(target, pl.List):
                s = s.cast(target)
        else:
            raise PredictError(f"Output {ob.output!r} has rank {arr.ndim}; only [N] and [N,K] outputs can be "
                               "columns.", hint="Name a different output in WITH.")
        return s

    def _values(self, arr: np.ndarray, target: pl.DataType | None, what: str) -> pl.Series:
        s = pl.Series("v", arr.astype(str) if arr.dtype == object else arr)
        if self.on_null in ("nan", "propagate") and s.dtype.is_float():
            s = s.fill_nan(None) if self.on_null == "nan" else s
        return safe_cast(s, target, what=what) if target is not None else s
