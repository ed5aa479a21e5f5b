"""``Lake.predict`` (frame in, frame out) and ``Lake.score`` (streaming, source to lake table)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lakeml.config import DEFAULT_BATCH_SIZE
from lakeml.context import StorageContext
from lakeml.errors import CredentialError, InvalidNameError, LakeMLError, NullInputError, StorageError
from lakeml.query.names import validate_name
from lakeml.registry.context import ModelsContext, RegistryContext
from lakeml.registry.registry import ModelVersion
from lakeml.scoring.kernels import plan_on_kernel
from lakeml.scoring.plan import ScoringPlan
from lakeml.scoring.session import default_threads
from lakeml.scoring.types import OutputDecl, parse_outputs
from lakeml.storage.uri import Location, parse_location, safe_uri


@dataclass(frozen=True)
class ScoreResult:
    """What ``Lake.score`` did: rows scored, seconds, the target written and the model version."""

    rows: int
    seconds: float
    target: str
    model: str

    def _repr_html_(self) -> str:
        from lakeml._html import card

        rate = self.rows / max(self.seconds, 1e-9)
        return card("ScoreResult", [("rows", f"{self.rows:,}"), ("target", safe_uri(self.target)),
                                    ("model", self.model), ("seconds", f"{self.seconds:.2f} ({rate:,.0f} rows/s)")])


def resolve_model(lake: RegistryContext, model: str | ModelVersion) -> ModelVersion:
    """A :class:`ModelVersion` from a reference string (or the version itself)."""
    if isinstance(model, ModelVersion):
        return model
    return lake.models.get(model)


def batch_size_for(lake: StorageContext | None, batch_size: int | None) -> int:
    """``batch_size`` if given, else ``lake.config.batch_size``, else the config default."""
    if batch_size is not None:
        return int(batch_size)
    return int(getattr(getattr(lake, "config", None), "batch_size", None) or DEFAULT_BATCH_SIZE)


def build_plan(lake: StorageContext, mv: ModelVersion, schema: pl.Schema,
               outputs: str | dict[str, Any] | list[OutputDecl] | None = None, *, on_null: str = "error",
               auto_cast: bool = False, batch_size: int | None = None, **kw: Any) -> ScoringPlan:
    """Bind model version ``mv`` to a DATA schema: every binding/type/output error is raised here."""
    return plan_on_kernel(mv.manifest, mv.onnx_bytes(), schema, parse_outputs(outputs),
                          threads=default_threads(getattr(lake, "config", None)), on_null=on_null,
                          auto_cast=auto_cast, batch_size=batch_size_for(lake, batch_size), **kw)


def predict(lake: ModelsContext, model: str | ModelVersion, data: Any, *,
            outputs: str | dict[str, Any] | None = None, on_null: str = "error", auto_cast: bool = False,
            batch_size: int | None = None) -> pl.DataFrame:
    """Score ``data`` with ``model`` and return DATA columns followed by the output columns.

    Args:
        model: ``name``, ``name:3``, ``name@alias`` or a :class:`ModelVersion`.
        data: a table name, SQL text, or a Polars/pandas/Arrow frame.
        outputs: what a WITH clause says: ``"label bigint, probabilities array(real, 2)"`` or a dict of
            output name to SQL type / Polars dtype; None returns every output.
        on_null: for inputs whose nulls the model has no training rule for (models lakeml did not
            train): ``"error"``, ``"propagate"`` (null outputs) or ``"nan"`` (NaN into float inputs).
            Nulls in inputs lakeml trained are fed as training fed them (docs/predict.md rule 10).
        auto_cast: cast inputs to the model's types where no value changes.
        batch_size: rows per ONNX Runtime call (results do not depend on it).

    Raises:
        PredictError: binding, type, null or output errors (before any row is scored).
        ModelNotFoundError: unknown model reference.

    >>> lake.predict("churn@champion", "customers", outputs="label bigint")  # doctest: +SKIP
    """
    mv = resolve_model(lake, model)
    frame = lake.frame(data)
    df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
    plan = build_plan(lake, mv, df.schema, outputs, on_null=on_null, auto_cast=auto_cast,
                      batch_size=batch_size)
    return plan.score_frame(df)


def score_target(target: str) -> Location | None:
    """Where ``score`` writes: None for a lake table name, else the file location.

    A target is a table name, or an explicit absolute path or URI (``/data/s.parquet``,
    ``file:///data/s.parquet``, ``abfss://...``). A relative path is refused: it would be resolved
    against whatever the working directory of the scoring process happens to be.

    Raises:
        InvalidNameError: a relative path, or a name that is not a valid table name.
        ConfigError: a URI lakeml cannot write (unknown scheme, a query string).
    """
    text = str(target).strip()
    if "://" in text or Path(text).expanduser().is_absolute():
        return parse_location(text)
    try:
        validate_name(text)
    except InvalidNameError as exc:
        raise InvalidNameError(
            f"The score target {safe_uri(text)!r} is neither a table name nor an absolute path or URI.",
            hint="Write to a lake table ('scores'), or give an absolute path ('/data/scores.parquet') or a "
                 "URI ('abfss://container@account.dfs.core.windows.net/scores.parquet'); relative paths "
                 "are refused because they depend on the working directory.",
        ) from exc
    return None


def score(lake: ModelsContext, model: str | ModelVersion, source: Any, target: str, *,
          outputs: str | dict[str, Any] | None = None, on_null: str = "error", auto_cast: bool = False,
          batch_size: int | None = None, mode: str = "error", format: str = "parquet",
          progress: Callable[[int], None] | None = None) -> ScoreResult:
    """Stream ``source`` through ``model`` into lake table ``target`` in one pass.

    Memory is bounded by the batch size, not the table size; the write is atomic (a failed run
    leaves no partial target). ``target`` is a lake table name, or an absolute Parquet file path or
    URI (see :func:`score_target`; relative paths are refused).
    ``progress`` is called with the number of rows scored after each batch.

    Returns:
        A :class:`ScoreResult` (rows, seconds, target, model).
    """
    t0 = time.perf_counter()
    file_target = score_target(target)
    sink_options = lake.storage_for(file_target.uri).polars_options() if file_target is not None and \
        not file_target.is_local else {}  # credential rules apply (and refuse) before any work
    mv = resolve_model(lake, model)
    lf = lake.frame(source)
    lf = lf.lazy() if isinstance(lf, pl.DataFrame) else lf
    schema = lf.collect_schema()
    plan = build_plan(lake, mv, schema, outputs, on_null=on_null, auto_cast=auto_cast, batch_size=batch_size)
    out_schema: dict[str, Any] = dict(schema)
    static = plan.output_schema()
    if any(dt is None for dt in static.values()):
        probe = plan.score_frame(lf.head(1).collect()) if plan.on_null != "error" else None
        if probe is None:
            probe_df = lf.head(64).collect()
            plan.check_nulls(probe_df)
            probe = plan.score_frame(probe_df)
        static = {c: probe.schema[c] for c in static}
    out_schema.update(static)
    state: dict[str, Any] = {"rows": 0, "error": None}

    def run(df: pl.DataFrame) -> pl.DataFrame:
        parts = []
        try:  # score_frame checks each slice for nulls (rule 10) before it is scored
            for start in range(0, max(df.height, 1), plan.batch_size):
                parts.append(plan.score_frame(df.slice(start, plan.batch_size)))
                state["rows"] += min(plan.batch_size, df.height - start)
                if progress is not None:
                    progress(state["rows"])
        except LakeMLError as exc:
            state["error"] = exc
            raise
        return parts[0] if len(parts) == 1 else pl.concat(parts, how="vertical")

    scored = lf.map_batches(run, schema=pl.Schema(out_schema), streamable=True)
    try:
        if file_target is not None:
            _sink_file(scored, file_target, sink_options)
        else:
            lake.write(target, scored, mode=mode, format=format)
    except Exception as exc:
        err = state["error"]
        if isinstance(err, NullInputError):
            err = _total_null_error(lf, plan) or err
        if err is not None:
            raise err from exc
        if isinstance(exc, LakeMLError):
            raise
        if isinstance(exc, PermissionError):
            raise CredentialError(f"The storage service refused to write scores to {safe_uri(target)!r}.",
                                  hint="Check the account key / SAS token (and that it allows writes); "
                                       "nothing was published.") from exc
        raise StorageError(f"Writing scores to {safe_uri(target)!r} failed: {str(exc).splitlines()[0][:300]}",
                           hint="Check the target location and retry; nothing was published.") from exc
    return ScoreResult(state["rows"], time.perf_counter() - t0, target, f"{mv.name}:{mv.version}")


def _total_null_error(lf: pl.LazyFrame, plan: ScoringPlan) -> NullInputError | None:
    """The null error with the whole source's count (the streaming pass saw only one batch's)."""
    try:
        counts = lf.select(pl.col(plan.null_columns).null_count()).collect().row(0, named=True)
    except (pl.exceptions.PolarsError, OSError):
        return None  # the source cannot be re-read for the count: the first batch's error stands
    for col, n in counts.items():
        if n and not (plan.on_null == "nan" and plan.schema[col].is_float()):
            return NullInputError(f"Input column {col!r} has {n} null value(s); nothing was written.",
                                hint="Filter or fill them (WHERE col IS NOT NULL / COALESCE), or pass "
                                     "[[on_null='propagate']] or [[on_null='nan']].")
    return None


def _sink_file(scored: pl.LazyFrame, target: Location, options: dict[str, Any]) -> None:
    """Write a Parquet file at a location: to a fresh name, then rename (local) so readers never see
    half; on Azure one upload, with the credentials of the storage layer (``options``)."""
    if not target.is_local:
        scored.sink_parquet(target.uri, **options, engine="streaming")
        return
    tmp = f"{target.path}.{uuid.uuid4().hex[:8]}.tmp"
    os.makedirs(os.path.dirname(target.path), exist_ok=True)
    try:
        scored.sink_parquet(tmp, engine="streaming")
        os.replace(tmp, target.path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
