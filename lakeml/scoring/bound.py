"""The bound-model form of PREDICT: ``PREDICT('alias', c1, c2)`` in SQL and ``m.expr(...)`` in Polars."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any, Protocol

import polars as pl

from lakeml.context import FrameT
from lakeml.errors import PredictError
from lakeml.registry.context import EngineModelsContext, ModelsContext
from lakeml.registry.refs import validate_alias
from lakeml.registry.registry import ModelVersion
from lakeml.scoring.api import build_plan
from lakeml.scoring.plan import _NATURAL, ScoringPlan
from lakeml.scoring.types import OutputDecl, parse_sql_type

_OUTPUT = re.compile(r"^\s*([^\[\]\s]+)\s*(?:\[\s*(\d+)\s*\])?\s*$")
_RESULT = "__lakeml_predict"


class BoundModelsContext(Protocol):
    """Only the models bound on a lake (they live on the session, not in a global)."""

    @property
    def bound_models(self) -> MutableMapping[str, BoundModel]:
        """Bound models by lower-cased alias."""
        ...


class EngineScoringContext(EngineModelsContext[FrameT], BoundModelsContext, Protocol[FrameT]):
    """A lake with frames of the engine's type ``FrameT``, its registry and the models bound on it."""


class ScoringContext(ModelsContext, BoundModelsContext, Protocol):
    """A lake with its registry and the models bound on it (they live on the session, not in a global)."""


class BoundModel:
    """A model version bound to an alias, one output (or one element of it) and a return type.

    Rules 11-13: arguments bind by position in the model's input order (or feature-list order);
    each call yields one column of ``dtype``, row for row.
    """

    def __init__(self, lake: ModelsContext, mv: ModelVersion, *, alias: str, dtype: pl.DataType,
                 output: str, index: int | None, on_null: str, auto_cast: bool) -> None:
        self.lake = lake
        self.model = mv
        self.alias = alias
        self.dtype = dtype
        self.output = output
        self.index = index
        self.on_null = on_null
        self.auto_cast = auto_cast
        m = mv.manifest
        self.inputs: tuple[str, ...] = (m.features if m.features is not None and len(m.inputs) == 1
                                        else tuple(i.name for i in m.inputs))
        self._plans: dict[tuple[Any, ...], ScoringPlan] = {}

    def __repr__(self) -> str:
        elem = f"[{self.index}]" if self.index is not None else ""
        return f"BoundModel({self.alias!r} -> {self.model.ref} {self.output}{elem} as {self.dtype})"

    def check_arity(self, n: int) -> None:
        """Rule 11: the argument count must equal the number of model inputs."""
        if n != len(self.inputs):
            raise PredictError(
                f"PREDICT('{self.alias}', ...) got {n} argument(s) but model {self.model.ref} takes "
                f"{len(self.inputs)}: {list(self.inputs)} (in this order).",
                hint="Pass one column per model input, in that order, or use PREDICT('alias', *).")

    def expr(self, *columns: str | pl.Expr) -> pl.Expr:
        """A Polars expression scoring ``columns`` (by position) into one column of ``dtype``.

        >>> frame.with_columns(m.expr("tenure", "monthly", "plan").alias("score"))  # doctest: +SKIP
        """
        self.check_arity(len(columns))
        exprs = [pl.col(c) if isinstance(c, str) else c for c in columns]
        packed = pl.struct([e.alias(name) for e, name in zip(exprs, self.inputs, strict=True)])
        return packed.map_batches(self._score_struct, return_dtype=self.dtype, is_elementwise=True)

    def _plan(self, schema: pl.Schema) -> ScoringPlan:
        key = tuple(schema.items())
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(self.lake, self.model, schema, [OutputDecl(self.output, None)], on_null=self.on_null,
                              auto_cast=self.auto_cast, rename=lambda _n: _RESULT, element=self.index,
                              check_collisions=False)
            self._plans[key] = plan
        return plan

    def _score_struct(self, s: pl.Series) -> pl.Series:
        df = s.struct.unnest()
        out = self._plan(df.schema).score_frame(df).get_column(_RESULT)
        if out.dtype != self.dtype:
            from lakeml.scoring.types import safe_cast

            out = safe_cast(out, self.dtype, what=f"PREDICT('{self.alias}') result")
        return out.rename(s.name)


def bind_model(lake: ScoringContext, mv: ModelVersion, *, alias: str, return_type: str | None = None,
               output: str | None = None, on_null: str = "error", auto_cast: bool = False) -> BoundModel:
    """Create a :class:`BoundModel` and make ``alias`` callable as ``PREDICT('alias', ...)`` in SQL."""
    validate_alias(alias)
    outs = list(mv.manifest.outputs)
    if output is None:
        name, index = outs[0].name, None
    else:
        m = _OUTPUT.match(output)
        if not m:
            raise PredictError(f"output={output!r} is not an output name (optionally with [index]).",
                               hint="e.g. output='probabilities[1]' or output='label'.")
        name, index = m.group(1), (int(m.group(2)) if m.group(2) is not None else None)
    spec = next((o for o in outs if o.name == name), None) or next(
        (o for o in outs if o.name.lower() == name.lower()), None)
    if spec is None:
        listing = ", ".join(f"{o.name} ({o.sql_type or o.onnx_type})" for o in outs)
        raise PredictError(f"Model {mv.ref} has no output {name!r}. Its outputs: {listing}.",
                           hint="Pass output= one of those names, e.g. output='probabilities[1]'.")
    if not spec.is_tensor:
        raise PredictError(f"Output {spec.name!r} of model {mv.ref} is a ZipMap ({spec.onnx_type}).",
                           hint="Export the classifier with zipmap disabled (skl2onnx options={'zipmap': False}).")
    if index is None and spec.width not in (None, 1):
        raise PredictError(f"Output {spec.name!r} has {spec.width} values per row; pick one element.",
                           hint=f"Use output='{spec.name}[1]' (elements count from 0).")
    if index is not None and spec.width is not None and index >= spec.width:
        raise PredictError(f"Output {spec.name!r} has {spec.width} values per row; [{index}] does not exist.",
                           hint=f"Use an index from 0 to {spec.width - 1}.")
    dtype = parse_sql_type(return_type) if return_type else _NATURAL.get(spec.elem_type or "", pl.Float64())
    if isinstance(dtype, pl.Array | pl.List):
        raise PredictError(f"return_type={return_type!r}: PREDICT(...) returns one scalar per row.",
                           hint="Pick one element with output='name[i]' and a scalar return_type.")
    bound = BoundModel(lake, mv, alias=alias, dtype=dtype, output=spec.name, index=index, on_null=on_null,
                       auto_cast=auto_cast)
    lake.bound_models[alias.lower()] = bound
    return bound


def bound_model(lake: BoundModelsContext, alias: str) -> BoundModel:
    """The model bound to ``alias`` on this lake (case-insensitive).

    Raises:
        PredictError: nothing is bound to that alias.
    """
    found = lake.bound_models.get(alias.lower())
    if found is None:
        known = sorted(b.alias for b in lake.bound_models.values())
        raise PredictError(f"No model is bound to alias {alias!r}" + (f" (bound: {known})." if known else "."),
                           hint=f"[[Bind one first: lake.models.bind('name:version', alias='{alias}').|On the "
                                "command line, score with FROM PREDICT(MODEL = 'name:version', DATA = t) AS p "
                                "instead.]]")
    return found
