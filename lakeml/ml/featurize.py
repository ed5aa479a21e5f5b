"""Featurization: a plan from a table's schema, and an ONNX-exportable scikit-learn transformer.

The featurizer takes a pandas DataFrame with one column per source column and exports to ONNX
with one named graph input per source column, so SQL PREDICT binds the model by column name.
Every numeric path casts to float32 first, which is what ONNX Runtime's tree operators use, so
native and ONNX predictions agree.

Example:
    >>> plan = plan_features(df, "churned")
    >>> featurizer = build_featurizer(plan, for_trees=True)
    >>> X = featurizer.fit_transform(to_pandas(df, plan))
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from lakeml.errors import ColumnNotFoundError, ConfigError, TrainingError, choices_hint

Role = Literal["numeric", "categorical", "boolean", "datetime", "drop"]
ROLES: tuple[str, ...] = ("numeric", "categorical", "boolean", "datetime", "drop")
DATETIME_PARTS: tuple[str, ...] = ("year", "month", "day", "weekday", "hour", "minute")
DEFAULT_MAX_CATEGORIES = 32
MISSING_CATEGORY = ""
# The reserved value that stands for a null in an integer ONNX input whose null training turned into
# something the integer cannot hold (NaN date parts, the category ""): the type's smallest value.
NULL_CODES: dict[str, int] = {"int64": int(np.iinfo(np.int64).min), "int32": int(np.iinfo(np.int32).min)}
_ID_NAME = re.compile(r"(^|[_\s])(id|uuid|guid|key)$|^id[_\s]|^(id|uuid|guid)$", re.IGNORECASE)
_MIN_ROWS_FOR_ID = 20


@dataclass(frozen=True)
class ColumnPlan:
    """How one source column is featurized.

    ``dtype`` is the Polars dtype at planning time; ``categories`` (categorical) are the kept
    categories, most frequent first; ``parts`` (datetime) are the date parts extracted.
    """

    name: str
    role: str
    dtype: str
    categories: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()
    null_count: int = 0
    n_unique: int = 0
    note: str = ""


@dataclass(frozen=True)
class DroppedColumn:
    """A source column the model does not use, and why."""

    name: str
    reason: str


@dataclass(frozen=True)
class FeaturePlan:
    """Per-column featurization roles plus the dropped columns with reasons (JSON round-trips)."""

    target: str
    n_rows: int
    columns: tuple[ColumnPlan, ...]
    dropped: tuple[DroppedColumn, ...] = ()
    max_categories: int = DEFAULT_MAX_CATEGORIES
    roles_overridden: tuple[str, ...] = field(default=())

    @property
    def inputs(self) -> list[str]:
        """Names of the source columns the model reads (its ONNX inputs), in table order."""
        return [c.name for c in self.columns]

    def by_role(self, role: str) -> list[ColumnPlan]:
        """The kept columns with this role."""
        return [c for c in self.columns if c.role == role]

    def summary(self) -> dict[str, Any]:
        """A JSON-serializable summary (stored in the model manifest)."""
        return asdict(self)

    def to_json(self) -> str:
        """The summary as JSON text."""
        return json.dumps(self.summary(), sort_keys=True)

    @classmethod
    def from_summary(cls, data: dict[str, Any]) -> FeaturePlan:
        """Rebuild a plan from :meth:`summary` output."""
        return cls(
            target=data["target"], n_rows=int(data["n_rows"]),
            columns=tuple(ColumnPlan(**{**c, "categories": tuple(c["categories"]),
                                        "parts": tuple(c["parts"])}) for c in data["columns"]),
            dropped=tuple(DroppedColumn(**d) for d in data["dropped"]),
            max_categories=int(data["max_categories"]),
            roles_overridden=tuple(data.get("roles_overridden", ())),
        )


def _natural_role(dtype: pl.DataType) -> str | None:
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer() or dtype.is_float():
        return "numeric"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "categorical"
    if isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return "datetime"
    return None


def _check_override(name: str, dtype: pl.DataType, role: str) -> None:
    natural = _natural_role(dtype)
    allowed = {
        "numeric": natural in ("numeric", "boolean"),
        "categorical": natural == "categorical" or dtype.is_integer(),
        "boolean": natural == "boolean",
        "datetime": natural == "datetime",
        "drop": True,
    }
    if role not in allowed:
        raise ConfigError(f"Unknown role {role!r} for column '{name}'.",
                          hint=f"Use one of: {', '.join(ROLES)}.")
    if not allowed[role]:
        raise ConfigError(f"Column '{name}' of type {dtype} cannot have role {role!r}.",
                          hint="CAST the column in a SQL query first, or choose a role that fits its type.")


def _looks_like_id(name: str, col: pl.Series, n_non_null: int, n_unique: int) -> bool:
    if n_non_null < _MIN_ROWS_FOR_ID:
        return False
    if col.dtype.is_integer():
        if n_unique != n_non_null:
            return False
        lo, hi = col.min(), col.max()
        consecutive = lo is not None and hi is not None and int(hi) - int(lo) + 1 == n_non_null  # type: ignore[arg-type]
        return bool(_ID_NAME.search(name)) or consecutive
    return col.dtype in (pl.String, pl.Categorical) and n_unique >= 0.9 * n_non_null


def datetime_unit(dtype_text: str) -> str:
    """The integer encoding of a Date/Datetime column: ``date`` (days) or ``ms``/``us``/``ns``."""
    if dtype_text == "Date":
        return "date"
    for unit in ("ms", "us", "ns"):
        if f"'{unit}'" in dtype_text:
            return unit
    return "us"


def _datetime_parts(col: pl.Series) -> tuple[str, ...]:
    if isinstance(col.dtype, pl.Datetime) and col.dtype.time_zone is not None:
        col = col.dt.convert_time_zone("UTC")  # parts of the UTC instant, which is what CAST(... AS bigint) gives
    names = DATETIME_PARTS if isinstance(col.dtype, pl.Datetime) else DATETIME_PARTS[:4]
    values = {
        "year": col.dt.year(), "month": col.dt.month(), "day": col.dt.day(),
        "weekday": col.dt.weekday(), "hour": col.dt.hour() if "hour" in names else None,
        "minute": col.dt.minute() if "minute" in names else None,
    }
    kept = tuple(p for p in names if values[p] is not None and values[p].n_unique() > 1)  # type: ignore[union-attr]
    return kept or ("year",)


def _top_categories(col: pl.Series, cap: int) -> tuple[tuple[str, ...], int]:
    text = col.cast(pl.String).fill_null(MISSING_CATEGORY)
    counts = text.value_counts(name="n").sort(["n", text.name], descending=[True, False])
    kept = counts.head(cap).get_column(text.name).to_list()
    return tuple(sorted(kept)), counts.height


def plan_features(frame: pl.DataFrame, target: str, roles: dict[str, str] | None = None, *,
                  max_categories: int = DEFAULT_MAX_CATEGORIES) -> FeaturePlan:
    """Decide each column's featurization role from the frame's schema and values.

    Args:
        frame: the training data (target included).
        target: the label column, never a feature.
        roles: overrides, column -> one of ``numeric``, ``categorical``, ``boolean``,
            ``datetime``, ``drop``. An override wins over ID-like and cardinality detection;
            constant and all-null columns are still dropped.
        max_categories: one-hot cap; rarer categories encode like unseen ones (all zeros).

    Returns:
        A frozen :class:`FeaturePlan`.

    Raises:
        ColumnNotFoundError: ``target`` or a ``roles`` key is not a column.
        ConfigError: an unknown role, or a role that does not fit the column's type.
    """
    if target not in frame.columns:
        raise ColumnNotFoundError(f"Target column '{target}' is not in the data.",
                                  hint=choices_hint(target, frame.columns, kind="column"))
    roles = dict(roles or {})
    for name, wanted in roles.items():
        if name not in frame.columns:
            raise ColumnNotFoundError(f"Column '{name}' in roles is not in the data.",
                                      hint=choices_hint(name, frame.columns, kind="column"))
        _check_override(name, frame.schema[name], wanted)
    if max_categories < 1:
        raise ConfigError(f"max_categories must be at least 1, got {max_categories}.",
                          hint="Pass max_categories=32 (the default) or another positive number.")
    kept: list[ColumnPlan] = []
    dropped: list[DroppedColumn] = []
    for name in frame.columns:
        if name == target:
            continue
        col = frame.get_column(name)
        override = roles.get(name)
        if override == "drop":
            dropped.append(DroppedColumn(name, "dropped by roles"))
            continue
        natural = override or _natural_role(col.dtype)
        if natural is None:
            dropped.append(DroppedColumn(name, f"unsupported type {col.dtype}; CAST it in a SQL query"))
            continue
        role: str = natural
        nulls = col.null_count()
        if nulls == col.len():
            dropped.append(DroppedColumn(name, "all values are null"))
            continue
        n_unique = col.drop_nulls().n_unique()
        if n_unique <= 1 and nulls == 0:
            dropped.append(DroppedColumn(name, "constant"))
            continue
        if override is None and _looks_like_id(name, col, col.len() - nulls, n_unique):
            reason = "ID-like (unique per row)" if col.dtype.is_integer() else "ID-like (nearly every value distinct)"
            dropped.append(DroppedColumn(name, reason))
            continue
        categories: tuple[str, ...] = ()
        parts: tuple[str, ...] = ()
        note = ""
        if role == "categorical":
            categories, total = _top_categories(col, max_categories)
            if total > max_categories:
                note = f"high cardinality: kept the {max_categories} most frequent of {total} categories"
        elif role == "datetime":
            parts = _datetime_parts(col)
        kept.append(ColumnPlan(name, role, str(col.dtype), categories, parts, nulls, n_unique, note))
    return FeaturePlan(target, frame.height, tuple(kept), tuple(dropped), max_categories,
                       tuple(sorted(roles)))


class _CastColumns(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A column-wise cast: remembers the input names and passes them through unchanged."""

    def fit(self, X: Any, y: Any = None) -> _CastColumns:
        """Remember the input width and names."""
        arr = np.asarray(X)
        self.n_features_in_ = arr.shape[1]
        self.feature_names_in_ = np.asarray(getattr(X, "columns", [f"x{i}" for i in range(arr.shape[1])]),
                                            dtype=object)
        return self

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names pass through unchanged."""
        return np.asarray(input_features if input_features is not None else self.feature_names_in_,
                          dtype=object)


class ToFloat32(_CastColumns):
    """Cast numeric (and boolean) input to float32; exports as one ONNX ``Cast``."""

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` as a float32 array (missing values become NaN)."""
        return np.asarray(pd.DataFrame(X).astype("float64"), dtype=np.float64).astype(np.float32)


class ToText(_CastColumns):
    """Render integer codes as text for one-hot encoding; exports as ONNX ``Cast``.

    ``null_code`` (one of :data:`NULL_CODES`), when set, is the reserved integer scoring feeds for a
    null: it becomes the null category ``""``, as a null does in training frames.
    """

    def __init__(self, null_code: int | None = None) -> None:
        self.null_code = null_code

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` as strings (already text in training frames built by :func:`to_pandas`)."""
        text = np.asarray(X, dtype=object).astype(str)
        if self.null_code is not None:
            text[text == str(self.null_code)] = MISSING_CATEGORY
        return text.astype(object)


def civil_parts(micros: np.ndarray) -> dict[str, np.ndarray]:
    """Calendar parts of int64 microseconds since 1970-01-01 (proleptic Gregorian).

    The same integer arithmetic (H. Hinnant's days-to-civil) is emitted as ONNX ops, so the
    native and exported results are identical. ``weekday`` is 1 = Monday ... 7 = Sunday, as
    in Polars.
    """
    us = micros.astype(np.int64)
    day_us = np.int64(86_400_000_000)
    days = np.floor_divide(us, day_us)
    of_day = us - days * day_us
    z = days + 719_468
    era = np.floor_divide(z, 146_097)
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 - 12 * (mp >= 10)
    return {
        "year": yoe + era * 400 + (month <= 2), "month": month, "day": doy - (153 * mp + 2) // 5 + 1,
        "weekday": np.mod(days + 3, 7) + 1, "hour": of_day // 3_600_000_000,
        "minute": (of_day // 60_000_000) % 60,
    }


UNIT_TO_MICROS: dict[str, tuple[int, int]] = {"date": (86_400_000_000, 1), "ms": (1000, 1), "us": (1, 1),
                                              "ns": (1, 1000)}


def to_micros(values: np.ndarray, unit: str) -> np.ndarray:
    """int64 values of a Date (days) or Datetime (ms/us/ns) column as microseconds (floored)."""
    mul, div = UNIT_TO_MICROS[unit]
    return np.floor_divide(values.astype(np.int64) * mul, div)


class DatetimeParts(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Date parts of one Date/Datetime column given as its integer encoding.

    Input: one column of the column's ``CAST(... AS bigint)`` values — days for a Date, else
    ``unit`` ticks since the epoch (UTC for time-zone-aware columns); pandas nullable Int64 in
    training frames, int64 in ONNX. Output: float32, one column per part, NaN where missing.
    ``null_code`` (``NULL_CODES["int64"]``), when set, is the reserved tick value scoring feeds for a
    null: it is missing too.
    """

    def __init__(self, parts: tuple[str, ...] = DATETIME_PARTS, unit: str = "us",
                 null_code: int | None = None) -> None:
        self.parts = parts
        self.unit = unit
        self.null_code = null_code

    def fit(self, X: Any, y: Any = None) -> DatetimeParts:
        """Check the parts and remember the input name."""
        unknown = [p for p in self.parts if p not in DATETIME_PARTS]
        if unknown:
            raise ConfigError(f"Unknown datetime parts {unknown}.",
                              hint=f"Use parts from: {', '.join(DATETIME_PARTS)}.")
        if self.unit not in UNIT_TO_MICROS:
            raise ConfigError(f"Unknown datetime unit {self.unit!r}.", hint="Use date, ms, us or ns.")
        self.n_features_in_ = 1
        self.feature_names_in_ = np.asarray(getattr(X, "columns", ["x0"]), dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the parts as a float32 array of shape (n, len(parts))."""
        column = pd.to_numeric(pd.DataFrame(X).iloc[:, 0], errors="coerce")
        missing = column.isna().to_numpy()
        ticks = column.astype("Int64").to_numpy(dtype=np.int64, na_value=0)
        if self.null_code is not None:
            missing = missing | (ticks == self.null_code)
            ticks = np.where(missing, 0, ticks)
        parts = civil_parts(to_micros(ticks, self.unit))
        out = np.column_stack([parts[p].astype(np.float32) for p in self.parts])
        out[missing, :] = np.nan
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``<column>_<part>`` for each part."""
        base = input_features[0] if input_features is not None else self.feature_names_in_[0]
        return np.asarray([f"{base}_{p}" for p in self.parts], dtype=object)


def onnx_kind(dtype_text: str) -> str:
    """The ONNX input element type lakeml declares for a Polars dtype (as printed)."""
    if dtype_text.startswith(("Float64", "Decimal")):
        return "double"
    if dtype_text == "Float32":
        return "float"
    if dtype_text == "Int32":
        return "int32"
    if dtype_text.startswith(("Int", "UInt", "Datetime", "Date")):
        return "int64"
    if dtype_text == "Boolean":
        return "bool"
    return "string"


def null_rules(plan: FeaturePlan, featurizer: ColumnTransformer | None = None) -> dict[str, dict[str, Any]]:
    """How training fed a null in each input column, for the manifest (``extra["null_rules"]``).

    ``"null"`` says what training made of it: ``"category"``, the category ``""`` (categorical
    columns), or ``"impute"``, NaN that the model's imputer replaces (numeric, boolean and datetime
    columns). ``"value"``, when present, is what scoring feeds for a null to give the same features:
    ``""`` into a text input; into an integer or bool input (which cannot carry NaN) the imputer's
    whole fill value, or for a date/time or integer-coded categorical input the reserved
    :data:`NULL_CODES` value that the fitted ``featurizer`` (and its ONNX export) turns into NaN
    parts or the category ``""``. Without ``"value"`` a null is fed as NaN (float inputs only).
    Scoring applies the rules (:class:`lakeml.scoring.plan.ScoringPlan`).
    """
    fills = imputed_values(featurizer) if featurizer is not None else {}
    codes = null_codes(featurizer) if featurizer is not None else {}
    rules: dict[str, dict[str, Any]] = {}
    for c in plan.columns:
        if c.role == "categorical":
            rules[c.name] = {"null": "category", "value": codes.get(c.name, MISSING_CATEGORY)}
            continue
        rules[c.name] = {"null": "impute"}
        fill = fills.get(c.name)
        if c.name in codes:
            rules[c.name]["value"] = codes[c.name]
        elif c.role != "datetime" and fill is not None and np.isfinite(fill) and float(fill).is_integer():
            rules[c.name]["value"] = int(fill)
    return rules


def null_codes(featurizer: ColumnTransformer) -> dict[str, int]:
    """Column -> the reserved integer the fitted featurizer reads as a null (``ToText``, ``DatetimeParts``)."""
    out: dict[str, int] = {}
    for _name, step, cols in featurizer.transformers_:
        if not isinstance(step, Pipeline):
            continue
        first = step.steps[0][1]
        if isinstance(first, ToText | DatetimeParts) and first.null_code is not None:
            out.update(dict.fromkeys(cols, int(first.null_code)))
    return out


def imputed_values(featurizer: ColumnTransformer) -> dict[str, float]:
    """Column -> the value the fitted featurizer's imputer puts in place of a missing numeric value."""
    out: dict[str, float] = {}
    for _name, step, cols in featurizer.transformers_:
        impute = step.named_steps.get("impute") if isinstance(step, Pipeline) else None
        if isinstance(impute, SimpleImputer) and "parts" not in step.named_steps:
            out.update(zip(cols, (float(v) for v in impute.statistics_), strict=True))
    return out


def whole_median(values: np.ndarray) -> float:
    """The median rounded to a whole number (halves to even); 0 for no values.

    The imputer's statistic for integer and bool inputs: scoring feeds that value for a null into
    the integer or bool ONNX input (which cannot carry NaN), and gets the features training made.
    """
    if values.size == 0:
        return 0.0  # what the median strategy with keep_empty_features=True fills an empty column with
    return float(np.round(np.median(values)))


def _numeric_steps(for_trees: bool, *, whole: bool = False) -> list[tuple[str, Any]]:
    strategy = whole_median if whole else "median"
    steps: list[tuple[str, Any]] = [("float32", ToFloat32()),
                                    ("impute", SimpleImputer(strategy=strategy, keep_empty_features=True))]
    if not for_trees:
        steps.append(("scale", StandardScaler()))
    return steps


def check_features(plan: FeaturePlan) -> None:
    """Raise :class:`~lakeml.errors.TrainingError` (listing the drops) when the plan kept no column."""
    if not plan.columns:
        raise TrainingError("No usable feature columns: every column was dropped.",
                            hint="Dropped: " + ("; ".join(f"{d.name} ({d.reason})" for d in plan.dropped) or "none")
                            + ". Add feature columns or override roles "
                            "([[roles={'col': 'numeric'}|--role col=numeric]]).")


def build_featurizer(plan: FeaturePlan, *, for_trees: bool) -> ColumnTransformer:
    """Build the (unfitted) featurizer for a plan.

    Numeric and boolean columns: float32, median imputation (rounded to a whole number for integer
    and bool inputs, see :func:`whole_median`), and (``for_trees=False``) standard scaling.
    Categorical: one-hot over the plan's categories, unseen/rare categories all zeros, nulls as the
    category ``""``. Datetime: date parts, then like numeric. Integer-coded categories and date
    parts read the input type's :data:`NULL_CODES` value as a null. Columns are grouped by their
    ONNX input type so the export concatenates only same-typed inputs.

    Args:
        plan: from :func:`plan_features`.
        for_trees: skip scaling (tree models do not need it).

    Returns:
        A scikit-learn ``ColumnTransformer`` over a pandas frame from :func:`to_pandas`,
        producing float32.

    Raises:
        TrainingError: the plan kept no column.
    """
    check_features(plan)
    groups: dict[tuple[str, str], list[str]] = {}
    for c in plan.columns:
        if c.role in ("numeric", "boolean"):
            groups.setdefault(("num", onnx_kind(c.dtype)), []).append(c.name)
    parts: list[tuple[str, Any, list[str]]] = [
        (f"{kind}_{onnx}", Pipeline(_numeric_steps(for_trees, whole=onnx not in ("float", "double"))), cols)
        for (kind, onnx), cols in groups.items()
    ]
    text = [c for c in plan.by_role("categorical") if onnx_kind(c.dtype) == "string"]
    coded = [c for c in plan.by_role("categorical") if onnx_kind(c.dtype) != "string"]
    for label, cols in (("cat", text), ("catcode", coded)):
        by_type: dict[str, list[ColumnPlan]] = {}
        for c in cols:
            by_type.setdefault(onnx_kind(c.dtype), []).append(c)
        for onnx, group in by_type.items():
            encoder = OneHotEncoder(categories=[list(c.categories) for c in group], handle_unknown="ignore",
                                    dtype=np.float32, sparse_output=False)
            pre = [("text", ToText(null_code=NULL_CODES[onnx]))] if label == "catcode" else []
            parts.append((f"{label}_{onnx}", Pipeline([*pre, ("onehot", encoder)]), [c.name for c in group]))
    for c in plan.by_role("datetime"):
        dt_parts = DatetimeParts(parts=c.parts, unit=datetime_unit(c.dtype), null_code=NULL_CODES["int64"])
        steps = [("parts", dt_parts), *_numeric_steps(for_trees)[1:]]
        parts.append((f"dt_{c.name}", Pipeline(steps), [c.name]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def to_pandas(frame: pl.DataFrame, plan: FeaturePlan) -> pd.DataFrame:
    """Convert a Polars frame to the pandas frame the featurizer expects (kept columns only).

    Numeric and boolean columns become float64 with NaN for null; categorical text with ``""``
    for null; dates and datetimes their integer encoding (``CAST(col AS bigint)``: days, or
    ticks of the column's unit since the epoch in UTC) as pandas nullable Int64.

    Raises:
        ColumnNotFoundError: a planned input column is missing from ``frame``.
    """
    missing = [n for n in plan.inputs if n not in frame.columns]
    if missing:
        raise ColumnNotFoundError(f"Columns {missing} used by the model are missing from the data.",
                                  hint=f"Available columns: {', '.join(frame.columns)}.")
    exprs: list[pl.Expr] = []
    for c in plan.columns:
        col = pl.col(c.name)
        if c.role in ("numeric", "boolean"):
            exprs.append(col.cast(pl.Float64))
        elif c.role == "categorical":
            exprs.append(col.cast(pl.String).fill_null(MISSING_CATEGORY))
        else:
            exprs.append(col.cast(pl.Int64))
    out = frame.select(exprs).to_pandas()
    for c in plan.by_role("categorical"):
        out[c.name] = out[c.name].astype(object)
    for c in plan.by_role("datetime"):
        # via Arrow so nulls do not turn the ticks into float64 (which rounds ns timestamps)
        ticks = frame.get_column(c.name).cast(pl.Int64).to_pandas(use_pyarrow_extension_array=True)
        out[c.name] = ticks.astype("Int64")
    return out
