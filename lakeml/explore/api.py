"""Public entry points of data exploration: ``Lake.profile`` and ``Lake.chart`` delegate here."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from lakeml.errors import (
    ColumnNotFoundError,
    ConfigError,
    DataFormatError,
    LakeMLError,
    choices_hint,
    did_you_mean,
)
from lakeml.explore.chart import Chart
from lakeml.explore.columns import column_kind, physical
from lakeml.explore.engine import DEFAULT_MEMORY_BUDGET, ProfileOptions, compute_profile, format_physical
from lakeml.explore.figures import query_figure
from lakeml.explore.profile import Profile

if TYPE_CHECKING:
    from lakeml.context import LakeContext
    from lakeml.engines.base import Engine

ChartKind = Literal["bar", "line", "scatter", "hist"]
CHART_KINDS: tuple[str, ...] = ("bar", "line", "scatter", "hist")
_ROW = "\x1frow"
_MIN_BUDGET = 64 * 2**20


def _describe_source(data: Any) -> str:
    if isinstance(data, str):
        text = " ".join(data.split())
        return text if len(text) <= 80 else text[:77] + "..."
    return type(data).__name__


def _sample(lf: pl.LazyFrame, sample: int | float, *, seed: int = 42) -> tuple[pl.LazyFrame, str]:
    """A deterministic, streaming row sample: rows whose hashed position falls under the fraction."""
    _check_sample(sample)
    if isinstance(sample, float):
        fraction, cap = sample, None
    else:
        total = int(lf.select(pl.len()).collect(engine="streaming").item())
        if total <= sample:
            return lf, f"all {total:,} rows (sample of {sample:,} requested)"
        fraction, cap = sample / total, sample
    threshold = int(fraction * 2**32)
    out = (lf.with_row_index(_ROW).filter((pl.col(_ROW).hash(seed) % 2**32) < threshold).drop(_ROW))
    if cap is not None:
        return out.head(cap), f"random sample of ~{cap:,} rows"
    return out, f"random sample of {fraction:.1%} of rows"


def _check_sample(sample: object) -> None:
    if isinstance(sample, bool) or not isinstance(sample, int | float) or sample <= 0 or (
            isinstance(sample, float) and sample > 1):
        raise ConfigError(f"Invalid sample {sample!r}.",
                          hint="Pass a number of rows (e.g. [[sample=100000]]) or a fraction (e.g. [[sample=0.1]]).")


def _engine_sample(sx: Any, frame: Any, sample: int | float, *, seed: int = 42) -> tuple[Any, str]:
    """Spark's seeded Bernoulli sample of a fraction, or of about ``sample`` rows (other rows than Polars')."""
    _check_sample(sample)
    if isinstance(sample, float):
        return sx.sample_fraction(frame, sample, seed=seed), f"random sample of {sample:.1%} of rows"
    total = sx.count_rows(frame)
    if total <= sample:
        return frame, f"all {total:,} rows (sample of {sample:,} requested)"
    return sx.sample_fraction(frame, sample / total, seed=seed, limit=sample), f"random sample of ~{sample:,} rows"


def _wrap(exc: pl.exceptions.PolarsError, what: str) -> LakeMLError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, pl.exceptions.ColumnNotFoundError):
        return ColumnNotFoundError(f"{what} failed: a column was not found ({first}).",
                                   hint="Check the column names in the query.")
    return DataFormatError(f"{what} failed: {first}",
                           hint="Check that the table or query reads correctly, e.g. with "
                                "[[lake.sql(query).head().collect()|lakeml sql 'QUERY LIMIT 5']].")


def profile(lake: LakeContext[pl.LazyFrame], data: Any, *, target: str | None = None, sample: int | float | None = None,
            bins: int = 20, top_k: int = 10, progress: Callable[[str], None] | None = None,
            memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Profile:
    """Profile a table, SQL query or frame with streaming Polars aggregations (two passes).

    Args:
        lake: the lake that resolves table names and SQL.
        data: table name, SQL query text, Polars/pandas frame or Arrow table.
        target: optional learning target; adds its distribution and each feature's association.
        sample: profile a deterministic random sample instead: a row count (int) or a fraction (float).
        bins: histogram bins per numeric/temporal column.
        top_k: most frequent values kept per column.
        progress: optional callback receiving a message per pass (the CLI shows it on a terminal).
        memory_budget: bytes of working memory profiling may use (default 1 GiB), whatever the
            table's width: columns are processed in groups that fit it, and quantiles above
            ``memory_budget / 16`` rows come from a sample. At least 64 MiB.

    Returns:
        A :class:`~lakeml.explore.profile.Profile`; ``to_html(path)``, ``to_json()``, frames.

    Raises:
        TableNotFoundError / SQLError: ``data`` does not resolve.
        ColumnNotFoundError: ``target`` is not a column.
        ConfigError: invalid ``sample``, ``bins``, ``top_k`` or ``memory_budget``.

    Example:
        >>> p = lake.profile("flights", target="arr_delay")   # doctest: +SKIP
        >>> p.to_html("flights_profile.html")                 # doctest: +SKIP
    """
    if not isinstance(bins, int) or not 1 <= bins <= 500:
        raise ConfigError(f"Invalid bins={bins!r}.", hint="Use an integer between 1 and 500.")
    if not isinstance(top_k, int) or not 1 <= top_k <= 1000:
        raise ConfigError(f"Invalid top_k={top_k!r}.", hint="Use an integer between 1 and 1000.")
    if isinstance(memory_budget, bool) or not isinstance(memory_budget, int) or memory_budget < _MIN_BUDGET:
        raise ConfigError(f"Invalid memory_budget={memory_budget!r}.",
                          hint=f"Use a number of bytes of at least {_MIN_BUDGET:,} (64 MiB), e.g. 2**30.")
    started = time.perf_counter()
    lf = lake.frame(data)
    note = None
    options = ProfileOptions(bins=bins, top_k=top_k, memory_budget=memory_budget)
    if not isinstance(lf, pl.LazyFrame):  # another engine's frame: its own aggregations
        from lakeml.explore.distributed import compute_profile as compute_on_engine
        from lakeml.explore.distributed import spark_module

        frame = lf
        if sample is not None:
            frame, note = _engine_sample(spark_module(lake.engine), frame, sample)
        result = compute_on_engine(lake.engine, frame, target=target, options=options, on_stage=progress)
        return Profile(result, source=_describe_source(data), sample=note, seconds=time.perf_counter() - started)
    try:
        if sample is not None:
            lf, note = _sample(lf, sample)
        result = compute_profile(lf, target=target, options=options, on_stage=progress)
    except pl.exceptions.PolarsError as exc:
        raise _wrap(exc, "Profiling") from exc
    return Profile(result, source=_describe_source(data), sample=note, seconds=time.perf_counter() - started)


def _columns(y: str | Sequence[str] | None) -> list[str]:
    if y is None:
        return []
    return [y] if isinstance(y, str) else list(y)


def _check_columns(schema: pl.Schema, names: list[str]) -> None:
    for name in names:
        if name not in schema:
            raise ColumnNotFoundError(f"Column '{name}' is not in the query result.",
                                      hint=choices_hint(name, schema.names(), kind="column"))


def _histogram(lf: pl.LazyFrame, column: str, dtype: pl.DataType, bins: int) -> pl.DataFrame:
    x = physical(column, dtype)
    lo, hi = lf.select(x.min().alias("lo"), x.max().alias("hi")).collect(engine="streaming").row(0)

    def counts(low: float, width: float, n: int) -> dict[int, int]:
        key = ((x - low) / width).floor().clip(0, n - 1).cast(pl.Int32).alias("bin")
        found = lf.group_by(key).agg(pl.len().alias("count")).drop_nulls("bin").collect(engine="streaming")
        return dict(zip(found["bin"].to_list(), found["count"].to_list(), strict=True))

    return _histogram_frame(column, dtype, bins, lo, hi, counts)


def _histogram_frame(column: str, dtype: pl.DataType, bins: int, lo: float | None, hi: float | None,
                     counts: Callable[[float, float, int], dict[int, int]]) -> pl.DataFrame:
    """Equal-width bins over ``lo .. hi`` (physical values) with the rows ``counts(low, width, n)`` puts in each."""
    if lo is None or hi is None:
        raise ConfigError(f"Column '{column}' has no values to draw a histogram of.",
                          hint="Check the query's WHERE clause, or pick another column.")
    width = (hi - lo) / bins if hi > lo else 1.0
    n = bins if hi > lo else 1
    lookup = counts(lo, width, n)
    lower = [lo + k * width for k in range(n)]
    return pl.DataFrame({"lower": lower, "upper": [v + width for v in lower],
                         "label": [format_physical(v, dtype, width) for v in lower],
                         "count": [int(lookup.get(k, 0)) for k in range(n)]})


class _PolarsRows:
    """What a chart reads from a Polars query: bins, counts, first rows, a reduced set of points."""

    def __init__(self, lf: pl.LazyFrame) -> None:
        self.lf = lf

    def histogram(self, column: str, dtype: pl.DataType, bins: int) -> pl.DataFrame:
        return _histogram(self.lf, column, dtype, bins)

    def count_by(self, x: str, limit: int) -> pl.DataFrame:
        return (self.lf.group_by(x).agg(pl.len().alias("rows")).sort(["rows", x], descending=[True, False])
                .head(limit).collect(engine="streaming"))

    def first_rows(self, columns: list[str], limit: int, sort_by: str | None) -> pl.DataFrame:
        rows = self.lf.select(columns)
        if sort_by is not None:
            rows = rows.sort(sort_by, nulls_last=True, maintain_order=True)
        return rows.head(limit).collect(engine="streaming")

    def reduced(self, columns: list[str], kind: str, max_points: int) -> pl.DataFrame:
        return _reduced(self.lf.select(columns), kind=kind, max_points=max_points)


class _EngineRows:
    """The same reads from another engine's frame: aggregated there (Spark), only the results collected."""

    def __init__(self, engine: Engine[Any], frame: Any) -> None:
        from lakeml.explore.distributed import spark_module

        self.sx, self.frame = spark_module(engine), frame

    def histogram(self, column: str, dtype: pl.DataType, bins: int) -> pl.DataFrame:
        lo, hi = self.sx.value_range(self.frame, column)

        def counts(low: float, width: float, n: int) -> dict[int, int]:
            found = self.sx.bin_counts(self.frame, column, low=low, width=width, bins=n)
            return dict(zip(found.column("key").to_pylist(), found.column("n").to_pylist(), strict=True))

        return _histogram_frame(column, dtype, bins, lo, hi, counts)

    def count_by(self, x: str, limit: int) -> pl.DataFrame:
        return _polars(self.sx.count_by(self.frame, x, limit=limit, alias="rows"))

    def first_rows(self, columns: list[str], limit: int, sort_by: str | None) -> pl.DataFrame:
        return _polars(self.sx.first_rows(self.frame, columns, limit=limit, sort_by=sort_by))

    def reduced(self, columns: list[str], kind: str, max_points: int) -> pl.DataFrame:
        frame = self.first_rows(columns, max_points + 1, None)
        if frame.height <= max_points:
            return frame
        # No row positions on Spark: a seeded sample thins lines and scatters alike (a line is drawn sorted by x).
        total = self.sx.count_rows(self.frame)
        sampled = self.sx.sample_fraction(self.frame, min(1.0, 1.1 * max_points / total), seed=42, limit=max_points)
        return _polars(self.sx.first_rows(sampled, columns, limit=max_points))


def _polars(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def chart(lake: LakeContext[pl.LazyFrame], query: Any, *, kind: ChartKind, x: str | None = None,
          y: str | Sequence[str] | None = None, output: str | Path | None = None, title: str | None = None,
          bins: int = 30, max_points: int = 50_000, max_bars: int = 50) -> Chart:
    """Chart any query result: ``bar``, ``line``, ``scatter`` or ``hist``; optionally save PNG/SVG.

    Big results are reduced in Polars before drawing: histograms are binned lazily, bar charts
    without ``y`` count rows per ``x`` value (largest ``max_bars``), scatter plots draw a random sample of
    ``max_points`` rows and line charts keep every k-th point.

    Args:
        lake: the lake that resolves table names and SQL.
        query: SQL text, a table name, or a frame.
        kind: ``"bar"``, ``"line"``, ``"scatter"`` or ``"hist"``.
        x: the x column (``hist``: the column to bin, or give it as ``y``). Bars come in the query's
            ORDER BY (or a frame's row order); without one, sorted by x.
        y: one or more numeric y columns.
        output: local ``.png`` or ``.svg`` path to write.
        title: chart title (default: derived from the columns).

    Raises:
        ConfigError: unknown kind, missing x/y, non-numeric y, or an empty result.
        ColumnNotFoundError: x or y is not a column of the result.

    Example:
        >>> lake.chart("SELECT month, AVG(dep_delay) AS delay FROM flights GROUP BY 1 ORDER BY 1",
        ...            kind="line", x="month", y="delay", output="delays.png")   # doctest: +SKIP
    """
    if kind not in CHART_KINDS:
        suggestion = did_you_mean(str(kind), CHART_KINDS)
        raise ConfigError(f"Unknown chart kind '{kind}'.",
                          hint=(suggestion + " " if suggestion else "") + "Use one of: " + ", ".join(CHART_KINDS) + ".")
    ys = _columns(y)
    lf = lake.frame(query)
    try:
        rows: _PolarsRows | _EngineRows
        if isinstance(lf, pl.LazyFrame):
            schema, rows = lf.collect_schema(), _PolarsRows(lf)
        else:  # another engine's frame: aggregated there, drawn here
            from lakeml.explore.distributed import frame_schema

            schema, rows = frame_schema(lake.engine, lf), _EngineRows(lake.engine, lf)
        _check_columns(schema, ([x] if x else []) + ys)
        figure = _chart_figure(rows, schema, kind=kind, x=x, ys=ys, title=title, bins=bins,
                               max_points=max_points, max_bars=max_bars, sort_x=not _has_order(query))
    except pl.exceptions.PolarsError as exc:
        raise _wrap(exc, "Charting the query") from exc
    result = Chart(figure, title=title or kind, tight=True)
    if output is not None:
        result.save(output)
    return result


def _has_order(query: Any) -> bool:
    """Whether the rows of ``query`` come in an order someone chose: an ORDER BY, or a frame's own order.

    A table, or a query without a top-level ORDER BY, has no order (SQL promises none; a GROUP BY
    result comes out differently from run to run), so charts sort its x values.
    """
    if not isinstance(query, str):
        return True
    if not any(ch.isspace() for ch in query.strip()):
        return False  # a table name
    from lakeml.sql.parse import parse_query

    return parse_query(query).args.get("order") is not None


def _chart_figure(rows: _PolarsRows | _EngineRows, schema: pl.Schema, *, kind: str, x: str | None, ys: list[str],
                  title: str | None, bins: int, max_points: int, max_bars: int, sort_x: bool = False) -> Any:
    if kind == "hist":
        targets = ([x] if x else []) + ys
        if len(targets) != 1:
            raise ConfigError("A histogram needs exactly one column.", hint="Pass it as [[x='column']].")
        column = targets[0]
        if column_kind(schema[column]) not in ("numeric", "datetime"):
            raise ConfigError(f"Column '{column}' is {schema[column]}, not numeric: no histogram.",
                              hint="Use [[kind='bar']] to count its values, or CAST it to a number in SQL.")
        hist = rows.histogram(column, schema[column], bins)
        return query_figure(hist, kind="hist", x=column, ys=[], title=title or f"Distribution of {column}",
                            hist=hist)
    if kind in ("line", "scatter") and not ys:
        raise ConfigError(f"A {kind} chart needs y.", hint="Pass [[y='column']] (and usually [[x='column']]).")
    if kind in ("scatter", "bar") and x is None:
        raise ConfigError(f"A {kind} chart needs x.", hint="Pass [[x='column']].")
    for name in ys:
        if column_kind(schema[name]) not in ("numeric", "boolean"):
            raise ConfigError(f"Column '{name}' is {schema[name]}, not numeric: it cannot be a y value.",
                              hint="Choose a numeric y, or aggregate it in SQL (e.g. COUNT(*) AS n).")
    note = ""
    if kind == "bar" and not ys:
        assert x is not None
        frame = rows.count_by(x, max_bars)
        ys = ["rows"]
    elif kind == "bar":
        assert x is not None
        frame = rows.first_rows([x, *ys], max_bars + 1, x if sort_x else None)
        if frame.height > max_bars:
            frame, note = frame.head(max_bars), f" (first {max_bars} rows)"
    else:
        frame = rows.reduced([*([x] if x else []), *ys], kind, max_points)
        if x is not None and kind == "line":
            frame = frame.sort(x)
    if frame.height == 0:
        raise ConfigError("The query returned no rows: nothing to chart.",
                          hint="Check the query's filters, e.g. with "
                               "[[lake.sql(query).head().collect()|lakeml sql 'QUERY LIMIT 5']].")
    default = f"{', '.join(ys)} by {x}" if x else ", ".join(ys)
    return query_figure(frame, kind=kind, x=x, ys=ys, title=(title or default) + note)


def _reduced(lf: pl.LazyFrame, *, kind: str, max_points: int) -> pl.DataFrame:
    frame = lf.head(max_points + 1).collect(engine="streaming")
    if frame.height <= max_points:
        return frame
    if kind == "line":
        total = int(lf.select(pl.len()).collect(engine="streaming").item())
        return lf.gather_every(max(1, -(-total // max_points))).collect(engine="streaming")
    sampled, _ = _sample(lf, max_points)
    return sampled.collect(engine="streaming")
