"""Scoring kernels: which code runs a model's batches, chosen in one place for every caller.

- :func:`get_kernel` (bytes -> an object with ``run(outputs, feeds)``): a compiled tree kernel when
  one is cached, verified and faster, else the model's ONNX Runtime session. ``lake.predict``,
  ``lake.score`` and SQL ``PREDICT`` (both forms) all get their kernel here.
- :func:`kernel_for` (model + Arrow schema -> ``Callable[[pa.RecordBatch], pa.RecordBatch]``): the
  engine-neutral entry for engines that move Arrow batches (Spark's ``mapInArrow``): the same
  binding rules (docs/predict.md) and the same kernel choice, picklable to ship to workers.

See :mod:`lakeml.scoring.kernels.choice` for the policy (``LAKEML_KERNEL``, the local cache,
background builds, fallbacks) and docs/scoring.md for the measurements behind it.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeml.scoring.kernels.choice import Choice, choice_of, forget, get_kernel, kernel_mode, wait_for_builds

if TYPE_CHECKING:
    import polars as pl

    from lakeml.registry.manifest import Manifest
    from lakeml.scoring.plan import ScoringPlan
    from lakeml.scoring.types import OutputDecl

__all__ = ["BatchKernel", "Choice", "choice_of", "forget", "get_kernel", "kernel_for", "kernel_mode", "plan_on_kernel",
           "wait_for_builds"]


def plan_on_kernel(manifest: Manifest, onnx_bytes: bytes, schema: pl.Schema, decls: list[OutputDecl] | None, *,
                   threads: int, **options: Any) -> ScoringPlan:
    """A :class:`~lakeml.scoring.plan.ScoringPlan` of the model bound to ``schema``, on its chosen kernel.

    The one place a scoring path gets its kernel (:func:`get_kernel`: a compiled tree kernel or the
    ONNX Runtime session with ``threads`` intra-op threads) and binds it; ``options`` are the plan's
    (``on_null``, ``auto_cast``, ``batch_size``, ``rename``, ...). Every binding error is raised here.
    """
    from lakeml.scoring.plan import ScoringPlan

    kernel = get_kernel(onnx_bytes, threads=threads, sha256=manifest.sha256)
    return ScoringPlan(manifest, kernel, schema, decls, **options)


@dataclass(eq=False, repr=False)  # identity equality and the object repr: the bytes are large
class BatchKernel:
    """Scores Arrow record batches: DATA columns in, DATA columns plus the output columns out.

    Built by :func:`kernel_for`. Holds the ONNX bytes and the manifest (never a lake handle), so it
    pickles to an engine's workers; each process builds its plan, and asks :func:`get_kernel`
    for the kernel, on its first batch.
    """

    onnx_bytes: bytes
    manifest: Any
    schema: pa.Schema
    _: KW_ONLY
    outputs: Any = None
    on_null: str = "error"
    auto_cast: bool = False
    threads: int | None = None
    batch_size: int | None = None
    _plan: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.plan()  # every binding error is raised here, before any batch

    def plan(self) -> Any:
        """The :class:`~lakeml.scoring.plan.ScoringPlan` for this schema (built once per process)."""
        if self._plan is None:
            import polars as pl

            from lakeml.config import DEFAULT_BATCH_SIZE
            from lakeml.scoring.session import default_threads
            from lakeml.scoring.types import parse_outputs

            schema = pl.from_arrow(self.schema.empty_table()).schema  # type: ignore[union-attr]
            self._plan = plan_on_kernel(self.manifest, self.onnx_bytes, schema, parse_outputs(self.outputs),
                                        threads=self.threads or default_threads(), on_null=self.on_null,
                                        auto_cast=self.auto_cast, batch_size=self.batch_size or DEFAULT_BATCH_SIZE)
        return self._plan

    def output_schema(self) -> pa.Schema:
        """The Arrow schema of the batches this kernel returns (for ``mapInArrow``'s schema)."""
        return self(pa.RecordBatch.from_pylist([], self.schema)).schema

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """Score one batch; the result has one row per input row, in order."""
        import polars as pl

        df = pl.from_arrow(batch)
        assert isinstance(df, pl.DataFrame)
        table = self.plan().score_frame(df).to_arrow()
        if table.num_rows == 0:
            return pa.RecordBatch.from_pylist([], table.schema)
        return table.combine_chunks().to_batches()[0]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_plan"] = None  # sessions and compiled libraries do not cross processes
        return state


def kernel_for(model: Any, schema: pa.Schema, *, outputs: Any = None, on_null: str = "error",
               auto_cast: bool = False, threads: int | None = None, batch_size: int | None = None) -> BatchKernel:
    """An engine-neutral scoring function for ``model`` over batches of ``schema``.

    Args:
        model: a :class:`~lakeml.registry.registry.ModelVersion` (``lake.models.get(ref)``).
        schema: the Arrow schema of the batches to score.
        outputs: what a WITH clause says (as for ``lake.predict``); None for every output.
        threads: kernel threads per process (default: ``lakeml.config.default_ort_threads``); an
            engine running several tasks per machine should pass 1.

    Returns:
        A picklable ``Callable[[pa.RecordBatch], pa.RecordBatch]``; ``.output_schema()`` gives the
        result's Arrow schema.

    Raises:
        PredictError: the schema does not bind to the model (docs/predict.md rules 1-8).

    >>> fn = kernel_for(lake.models.get("churn:3"), batch.schema)  # doctest: +SKIP
    >>> scored = fn(batch)  # doctest: +SKIP
    """
    return BatchKernel(model.onnx_bytes(), model.manifest, schema, outputs=outputs, on_null=on_null,
                       auto_cast=auto_cast, threads=threads, batch_size=batch_size)
