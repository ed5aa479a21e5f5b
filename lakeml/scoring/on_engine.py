"""Scoring on an engine object (Spark today) through the engine's ``map_batches`` (``mapInArrow`` on Spark).

The driver binds the model to the frame's schema with :class:`~lakeml.scoring.plan.ScoringPlan`, so
every binding, type and output error of docs/predict.md is raised before a task runs. The batch
function the engine ships to its workers carries the model bytes and the binding, not a session:
each worker process builds the plan once and keeps one kernel per model sha256
(:func:`lakeml.scoring.kernels.get_kernel`: the same kernel choice as every other path), then
scores every Arrow batch it is handed with the same executor the Polars engine uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

import polars as pl
import pyarrow as pa
from sqlglot import exp

from lakeml.engines.base import unsupported
from lakeml.registry.manifest import Manifest
from lakeml.scoring.kernels import plan_on_kernel
from lakeml.scoring.plan import ScoringPlan
from lakeml.scoring.types import OutputDecl, parse_outputs, safe_cast
from lakeml.storage.lakefs import new_token
from lakeml.storage.uri import safe_uri

if TYPE_CHECKING:  # annotations only: a worker process unpickling BatchScorer imports this module
    from lakeml.context import FrameT, LakeContext
    from lakeml.registry.context import EngineModelsContext
    from lakeml.registry.registry import ModelVersion
    from lakeml.scoring.api import ScoreResult

#: ONNX Runtime threads per worker process: the engine's task slots are the parallelism.
WORKER_THREADS = 1
RESULT = "__lakeml_predict"
#: What ``outputs=`` takes (see :func:`lakeml.scoring.types.parse_outputs`).
Outputs: TypeAlias = str | dict[str, Any] | list[OutputDecl] | None
_plans: dict[tuple[Any, ...], ScoringPlan] = {}


@dataclass(frozen=True)
class PlanSpec:
    """Everything a worker needs to rebuild the driver's plan (picklable; no ONNX Runtime session)."""

    manifest: Manifest
    model: bytes
    schema: tuple[tuple[str, pl.DataType], ...]
    decls: tuple[OutputDecl, ...] | None
    on_null: str
    auto_cast: bool
    batch_size: int
    rename: tuple[tuple[str, str], ...] = ()
    element: int | None = None
    check_collisions: bool = False

    def key(self) -> tuple[Any, ...]:
        """The per-process cache key: same model bytes and binding, same plan."""
        return (self.manifest.sha256, tuple((n, str(d)) for n, d in self.schema), repr(self.decls), self.on_null,
                self.auto_cast, self.batch_size, self.rename, self.element, self.check_collisions)

    def plan(self) -> ScoringPlan:
        """The plan for this spec, built once per process (and its session once per model sha256)."""
        key = self.key()
        cached = _plans.get(key)
        if cached is None:
            names = dict(self.rename)
            cached = plan_on_kernel(self.manifest, self.model, pl.Schema(dict(self.schema)),
                                    list(self.decls) if self.decls is not None else None, threads=WORKER_THREADS,
                                    on_null=self.on_null, auto_cast=self.auto_cast, batch_size=self.batch_size,
                                    rename=(lambda n: names.get(n, n)) if names else None, element=self.element,
                                    check_collisions=self.check_collisions)
            cached.quiet()  # rule 16 warns on the driver, where the caller is (bind)
            _plans[key] = cached
        return cached


def bind(manifest: Manifest, model: bytes, schema: pl.Schema, decls: list[OutputDecl] | None, *, on_null: str,
         auto_cast: bool, batch_size: int, rename: dict[str, str] | None = None, element: int | None = None,
         check_collisions: bool = False) -> tuple[PlanSpec, ScoringPlan]:
    """The worker spec and the driver's own plan, which raises every binding error now (and warns, rule 16)."""
    spec = PlanSpec(manifest, model, tuple(schema.items()), tuple(decls) if decls is not None else None, on_null,
                    auto_cast, batch_size, tuple((rename or {}).items()), element, check_collisions)
    plan = spec.plan()
    plan.warn_narrowing()
    return spec, plan


class BatchScorer:
    """The engine's batch function: one Arrow batch in, the same rows plus the output columns out.

    With ``feed`` (the bound-model form), the model's inputs are taken by position from those
    columns and one result column ``column`` of ``dtype`` is appended.
    """

    def __init__(self, spec: PlanSpec, feed: tuple[tuple[str, str], ...] | None = None, column: str = "",
                 dtype: pl.DataType | None = None, alias: str = "") -> None:
        self.spec, self.feed, self.column, self.dtype, self.alias = spec, feed, column, dtype, alias

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        plan = self.spec.plan()
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        if self.feed is None:
            return one_batch(plan.score_frame(frame).to_arrow())
        inputs = frame.select([pl.col(c).alias(i) for i, c in self.feed])
        out = plan.score_frame(inputs).get_column(RESULT)
        if self.dtype is not None and out.dtype != self.dtype:
            out = safe_cast(out, self.dtype, what=f"PREDICT('{self.alias}') result")
        return one_batch(frame.with_columns(out.alias(self.column)).to_arrow())


def arrow_to_polars_schema(schema: pa.Schema) -> pl.Schema:
    """A Polars schema of the same columns (what scoring binds against)."""
    return pl.DataFrame(schema.empty_table()).schema


def one_batch(table: pa.Table) -> pa.RecordBatch:
    """A table as a single record batch (what a batch function returns)."""
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """The Arrow schema of a Polars schema."""
    return pl.DataFrame(schema=schema).to_arrow().schema


def result_schema(lake: LakeContext[FrameT], plan: ScoringPlan, frame: FrameT, data_schema: pl.Schema) -> pl.Schema:
    """DATA's columns then the outputs; an output whose width only scoring tells is probed on a few rows."""
    static: dict[str, pl.DataType | None] = plan.output_schema()
    if any(dtype is None for dtype in static.values()):
        head = pl.from_arrow(lake.engine.collect(lake.engine.limit(frame, 64)))
        assert isinstance(head, pl.DataFrame)
        probe = plan.score_frame(head)
        static = {c: probe.schema[c] for c in static}
    merged: dict[str, Any] = {**dict(data_schema), **static}
    return pl.Schema(merged)


def check_null_counts(lake: LakeContext[FrameT], frame: FrameT, plan: ScoringPlan) -> None:
    """Rule 10 before any row is scored: the nulls of the inputs ``on_null`` governs, counted in one query."""
    if plan.on_null == "propagate" or not plan.null_columns:
        return
    view = f"__lakeml_nulls_{new_token()}"
    counts = [exp.Sum(this=exp.Case(ifs=[exp.If(this=exp.Is(this=exp.column(c, quoted=True), expression=exp.Null()),
                                                true=exp.Literal.number(1))], default=exp.Literal.number(0)))
              .as_(exp.to_identifier(f"n{i}")) for i, c in enumerate(plan.null_columns)]
    query = exp.select(*counts).from_(exp.to_identifier(view)).sql(dialect=lake.engine.sql_dialect)
    row = lake.engine.collect(lake.engine.sql(query, frames={view: frame})).to_pylist()[0]
    error = plan.null_error({c: int(row[f"n{i}"] or 0) for i, c in enumerate(plan.null_columns)})
    if error is not None:
        raise error


def scored(lake: EngineModelsContext[FrameT], model: str | ModelVersion, data: object, *, outputs: Outputs,
           on_null: str, auto_cast: bool, batch_size: int | None) -> tuple[FrameT, ModelVersion]:
    """``(frame, model version)``: DATA streamed through the model, lazily, on the lake's engine."""
    from lakeml.scoring.api import batch_size_for, resolve_model

    mv = resolve_model(lake, model)
    frame = lake.frame(data)
    schema = arrow_to_polars_schema(lake.engine.schema(frame))
    spec, plan = bind(mv.manifest, mv.onnx_bytes(), schema, parse_outputs(outputs), on_null=on_null,
                      auto_cast=auto_cast, batch_size=batch_size_for(lake, batch_size), check_collisions=True)
    check_null_counts(lake, frame, plan)
    out = result_schema(lake, plan, frame, schema)
    return lake.engine.map_batches(frame, BatchScorer(spec), schema=arrow_schema(out)), mv


def predict(lake: EngineModelsContext[FrameT], model: str | ModelVersion, data: object, *, outputs: Outputs = None,
            on_null: str = "error", auto_cast: bool = False, batch_size: int | None = None) -> FrameT:
    """DATA's columns then the outputs, as the engine's (lazy) frame."""
    return scored(lake, model, data, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                  batch_size=batch_size)[0]


def score(lake: EngineModelsContext[FrameT], model: str | ModelVersion, source: object, target: str, *,
          outputs: Outputs = None, on_null: str = "error", auto_cast: bool = False, batch_size: int | None = None,
          mode: str = "error", format: str = "parquet",
          progress: Callable[[int], None] | None = None) -> ScoreResult:
    """Score ``source`` into lake table ``target``; lakeml's log commits what the engine wrote.

    The engine's workers score the batches, so ``progress`` hears of the rows once, when they are
    committed (``Capabilities.batch_progress`` is False).
    """
    from lakeml.query.names import TABLES_DIR
    from lakeml.query.parquet_table import latest_version
    from lakeml.scoring.api import ScoreResult, score_target

    t0 = time.perf_counter()
    if score_target(target) is not None and not lake.engine.capabilities.file_targets:
        unsupported(lake.engine.name, f"Scoring into a file ({safe_uri(target)!r})",
                    hint="Score into a table name; its files are under <lake>/tables/<name>/.")
    frame, mv = scored(lake, model, source, outputs=outputs, on_null=on_null, auto_cast=auto_cast,
                       batch_size=batch_size)
    folder = f"{TABLES_DIR}/{target}"
    before = latest_version(lake.storage, folder) if mode == "append" else None
    written = lake.write(target, frame, mode=mode, format=format)
    if written.rows_inserted is not None:  # the commit's own count (a Delta table has no lakeml log)
        rows = written.rows_inserted
    else:
        after = latest_version(lake.storage, folder)
        rows = (after.num_rows if after is not None else 0) - (before.num_rows if before is not None else 0)
    if progress is not None:
        progress(rows)
    return ScoreResult(rows, time.perf_counter() - t0, target, f"{mv.name}:{mv.version}")
