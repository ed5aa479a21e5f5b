"""Scoring on Spark: ``DataFrame.mapInArrow`` through lakeml's engine-neutral Arrow batch executor.

The driver binds the model to the DataFrame's schema with :class:`~lakeml.scoring.plan.ScoringPlan`
(so every binding, type and output error of docs/predict.md is raised before a task runs); each
Python worker rebuilds the same plan once, keeping one ONNX Runtime session per model sha256 (the
scoring session cache), and scores the Arrow batches Spark hands it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from lakeml import errors
from lakeml.errors import LakeMLError, PredictError
from lakeml.registry.manifest import Manifest
from lakeml.scoring.plan import ScoringPlan
from lakeml.scoring.session import get_session
from lakeml.scoring.types import OutputDecl

# A LakeMLError raised in a worker crosses to the driver as text inside Spark's PythonException.
_MARK = "__lakeml_error__"
_MARKED = re.compile(re.escape(_MARK) + r"(\{.*?\})" + re.escape(_MARK), re.DOTALL)
#: ONNX Runtime threads per Python worker: Spark's task slots are the parallelism.
WORKER_THREADS = 1
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
    rename: tuple[tuple[str, str], ...]
    element: int | None
    check_collisions: bool = False

    def key(self) -> tuple[Any, ...]:
        """The worker-side cache key: same model bytes and binding, same plan."""
        return (self.manifest.sha256, tuple((n, str(d)) for n, d in self.schema), repr(self.decls), self.on_null,
                self.auto_cast, self.batch_size, self.rename, self.element, self.check_collisions)

    def plan(self, *, threads: int = WORKER_THREADS) -> ScoringPlan:
        """The plan for this spec, built once per process."""
        key = self.key()
        cached = _plans.get(key)
        if cached is None:
            session = get_session(self.model, threads=threads, sha256=self.manifest.sha256)
            names = dict(self.rename)
            cached = ScoringPlan(self.manifest, session, pl.Schema(dict(self.schema)),
                                 list(self.decls) if self.decls is not None else None, on_null=self.on_null,
                                 auto_cast=self.auto_cast, batch_size=self.batch_size,
                                 rename=(lambda n: names.get(n, n)) if names else None, element=self.element,
                                 check_collisions=self.check_collisions)
            _plans[key] = cached
        return cached


class BatchScorer:
    """The function ``mapInArrow`` runs: Arrow batches in, the same rows plus output columns out."""

    def __init__(self, spec: PlanSpec, target: Any, keep: list[str] | None = None) -> None:
        self.spec = spec
        self.target = target  # the Arrow schema Spark expects back
        self.keep = keep

    def __call__(self, batches: Iterator[Any]) -> Iterator[Any]:
        try:
            plan = self.spec.plan()
            for batch in batches:
                frame = pl.from_arrow(batch)
                assert isinstance(frame, pl.DataFrame)
                scored = plan.score_frame(frame)
                if self.keep is not None:
                    scored = scored.select(self.keep)
                yield from scored.to_arrow().cast(self.target).to_batches()
        except LakeMLError as exc:
            raise marked(exc) from None


def marked(exc: LakeMLError) -> RuntimeError:
    """A worker's LakeMLError as text that survives the trip to the driver (see :func:`lakeml_error`)."""
    payload = json.dumps({"kind": type(exc).__name__, "message": exc.message_source, "hint": exc.hint_source or ""})
    return RuntimeError(f"{_MARK}{payload}{_MARK}")


def lakeml_error(exc: BaseException) -> LakeMLError | None:
    """The LakeMLError a worker raised, rebuilt from the text of Spark's exception (None if there is none)."""
    found = _MARKED.search(str(exc))
    if found is None:
        return None
    data = json.loads(found.group(1))
    cls = getattr(errors, str(data.get("kind")), None)
    if not (isinstance(cls, type) and issubclass(cls, LakeMLError)):
        cls = PredictError
    return cls(str(data["message"]), hint=str(data.get("hint") or "") or None)


def map_scored(frame: Any, spec: PlanSpec, out_schema: pl.Schema, keep: list[str] | None = None) -> Any:
    """``frame`` streamed through the model: a Spark DataFrame with ``out_schema``'s columns."""
    from lakeml.engines.spark.types import arrow_schema, spark_schema

    struct = spark_schema(out_schema)
    return frame.mapInArrow(BatchScorer(spec, arrow_schema(struct), keep), struct)


def result_schema(plan: ScoringPlan, frame: Any, data_schema: pl.Schema) -> pl.Schema:
    """DATA's columns then the outputs; an output whose width only scoring tells is probed on a few rows."""
    static: dict[str, pl.DataType | None] = plan.output_schema()
    if any(dtype is None for dtype in static.values()):
        head = pl.from_arrow(frame.limit(64).toArrow())
        assert isinstance(head, pl.DataFrame)
        probe = plan.score_frame(head)
        static = {c: probe.schema[c] for c in static}
    merged: dict[str, Any] = {**dict(data_schema), **static}
    return pl.Schema(merged)


def check_null_counts(frame: Any, plan: ScoringPlan) -> None:
    """Rule 10 before any row is scored: count nulls of the inputs ``on_null`` governs, in one Spark job."""
    if plan.on_null == "propagate" or not plan.null_columns:
        return
    from pyspark.sql import functions as F

    row = frame.select([F.sum(F.col(c).isNull().cast("long")).alias(c) for c in plan.null_columns]).first()
    counts = {c: int(row[c] or 0) for c in plan.null_columns}
    error = plan.null_error(counts)
    if error is not None:
        raise error


def bind(manifest: Manifest, model: bytes, schema: pl.Schema, decls: list[OutputDecl] | None, *,
         on_null: str, auto_cast: bool, batch_size: int, rename: dict[str, str] | None = None,
         element: int | None = None, check_collisions: bool = False,
         threads: int = WORKER_THREADS) -> tuple[PlanSpec, ScoringPlan]:
    """The worker spec and the driver's own plan (which raises every binding error now)."""
    spec = PlanSpec(manifest, model, tuple(schema.items()), tuple(decls) if decls is not None else None, on_null,
                    auto_cast, batch_size, tuple((rename or {}).items()), element, check_collisions)
    return spec, spec.plan(threads=threads)
