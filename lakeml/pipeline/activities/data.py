"""Copy, Script, Lookup and GetMetadata: moving and reading lake data."""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from lakeml.errors import ConfigError, LakeMLError, LakePathNotFoundError, SQLError, TableNotFoundError
from lakeml.pipeline.activities.values import json_value, need
from lakeml.pipeline.runner import ActivityContext, Handler

WATERMARK_KEY = "watermark"


def app_id(pipeline: str, activity: str) -> str:
    """The transaction application id of an incremental Copy (one per pipeline and activity)."""
    return f"pipeline:{pipeline}:{activity}"


def _source_frame(ctx: ActivityContext, source: dict[str, Any]) -> pl.LazyFrame:
    lake, name = ctx.lake, ctx.activity.name
    if "sql" in source:
        return lake.sql(need(source, "sql", name))
    if "table" in source:
        return lake.table(need(source, "table", name))
    path = need(source, "path", name)
    fmt = source.get("format")
    options = dict(source.get("options") or {})
    schema = options.pop("schema", None)
    given = options.pop("null_values", None)
    nulls = [given] if isinstance(given, str) else list(given or [])
    location = resolve_path(ctx, path)
    if fmt == "delta":
        from lakeml.query.formats import scan_uri

        return scan_uri(lake.engine, lake.storage_for(location), location, "delta", is_dir=True)
    from lakeml.query.ingest import read_numbers, scan_source

    frame, found_fmt, _ = scan_source(lake, location, format=fmt, schema=schema, options=options, null_values=nulls)
    if found_fmt == "csv":
        frame, _, _ = read_numbers(frame, schema, nulls)
    return frame


def resolve_path(ctx: ActivityContext, path: str) -> str:
    """A source path as a location: URIs and absolute paths as given, others relative to the lake root."""
    if "://" in path or Path(path).is_absolute():
        return path
    return str(ctx.lake.storage.uri(path))


def _fit(ctx: ActivityContext, frame: pl.LazyFrame, table: str, mode: str) -> pl.LazyFrame:
    if mode not in ("append", "merge") or table not in ctx.lake.tables():
        return frame
    from lakeml.errors import SchemaError
    from lakeml.query.schema_match import conform, fit_append

    existing = ctx.lake.table(table).collect_schema()
    found = frame.collect_schema()
    if list(existing.items()) == list(found.items()):
        return frame
    fit = fit_append(existing, found)
    if not fit.ok:
        raise SchemaError(f"Activity {ctx.activity.name!r} cannot write to {table!r}: {fit.describe()}.",
                          hint="Select matching columns in the source (sql), or use sink mode 'overwrite'.")
    return conform(frame, existing, fit)


def copy(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Copy a path, table or query into a table; with ``watermark.column`` exactly once per row."""
    from lakeml.query.transactions import Transaction

    name = ctx.activity.name
    source = need(props, "source", name, dict)
    sink = need(props, "sink", name, dict)
    table = need(sink, "table", name)
    mode = sink.get("mode", "append")
    keys = sink.get("keys")
    frame = _source_frame(ctx, source)
    watermark = props.get("watermark")
    transaction: Transaction | None = None
    marks: dict[str, Any] | None = None
    if watermark:
        column = need(watermark, "column", name)
        if column not in frame.collect_schema():
            from lakeml.errors import ColumnNotFoundError

            raise ColumnNotFoundError(f"Activity {name!r}: the watermark column {column!r} is not in the source.",
                                      hint=f"Columns: {', '.join(frame.collect_schema().names())}.")
        app = app_id(ctx.run.pipeline.name, name)
        last = ctx.lake.last_transaction(table, app) if table in ctx.lake.tables() else None
        old = last.metadata.get(WATERMARK_KEY) if last is not None else None
        dtype = frame.collect_schema()[column]
        if old is not None:
            frame = frame.filter(pl.col(column) > _literal(old, dtype))
        new = frame.select(pl.col(column).max()).collect().item()
        if new is None:
            return {"rowsRead": 0, "rowsCopied": 0, "table": table, "watermark": {"old": old, "new": old}}
        # the upper bound keeps rows that arrive between the two reads for the next run
        frame = frame.filter(pl.col(column) <= _literal(json_value(new), dtype))
        marks = {"old": old, "new": json_value(new)}
        version = (last.version + 1) if last is not None else 0
        transaction = Transaction(app, version, {WATERMARK_KEY: marks["new"]})
    data = _fit(ctx, frame, table, mode).collect()
    result = ctx.lake.write(table, data, mode=mode, keys=keys, format=sink.get("format", "parquet"),
                            transaction=transaction)
    if marks is None:
        return {"rowsRead": data.height, "rowsCopied": data.height, "table": table, "version": result.version}
    copied = data.height if result.committed else 0  # a rerun of a committed window copies nothing
    return {"rowsRead": data.height, "rowsCopied": copied, "table": table, "watermark": marks}


def _literal(value: Any, dtype: pl.DataType) -> pl.Expr:
    if isinstance(value, str) and dtype.is_temporal():
        return pl.lit(value).str.to_datetime(time_zone=getattr(dtype, "time_zone", None)).cast(dtype) \
            if isinstance(dtype, pl.Datetime) else pl.lit(value).cast(pl.String).str.to_date().cast(dtype)
    return pl.lit(value).cast(dtype)


def _statements(ctx: ActivityContext, props: dict[str, Any]) -> list[str]:
    name = ctx.activity.name
    if "scripts" in props:
        scripts = need(props, "scripts", name, list)
        out = []
        for i, script in enumerate(scripts):
            if not isinstance(script, dict) or not isinstance(script.get("text"), str):
                raise ConfigError(f"Activity {name!r}: scripts[{i}] must be an object with 'text'.",
                                  hint="Write scripts as [{\"type\": \"NonQuery\", \"text\": \"...\"}].")
            out.append(script["text"])
        return out
    sql = props.get("sql")
    statements = sql if isinstance(sql, list) else [sql]
    if not statements or not all(isinstance(s, str) and s.strip() for s in statements):
        raise ConfigError(f"Activity {name!r}: 'sql' must be a statement or a list of statements.",
                          hint="Write e.g. \"sql\": [\"DROP TABLE IF EXISTS t\", \"CREATE TABLE t AS SELECT ...\"].")
    return list(statements)


def script(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run SQL statements in order; output ``rowsAffected`` per statement (rows returned for a query)."""
    results = []
    for statement in _statements(ctx, props):
        frame = ctx.lake.sql(statement)
        table = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        results.append({"statement": statement[:200], "rowsAffected": _affected(table)})
    return {"resultSetCount": len(results), "results": results,
            "rowsAffected": [r["rowsAffected"] for r in results]}


def _affected(table: Any) -> int | None:
    if isinstance(table, pl.DataFrame):
        for column in ("rows_affected", "rowsAffected", "rows"):
            if column in table.columns and table.height == 1:
                value = table[column][0]
                return int(value) if value is not None else None
        return table.height
    value = getattr(table, "rows_affected", None)
    return int(value) if value is not None else None


def lookup(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run a query; output ``firstRow`` (the default) or ``count`` and ``value`` (all rows)."""
    sql = need(props, "sql", ctx.activity.name)
    first_only = props.get("firstRowOnly", True)
    frame = ctx.lake.sql(sql)
    if not isinstance(frame, pl.LazyFrame):
        raise SQLError(f"Activity {ctx.activity.name!r}: Lookup runs a query, not {sql[:60]!r}.",
                       hint="Use a Script activity for statements that write.")
    if first_only:
        rows = frame.head(1).collect().to_dicts()
        return {"firstRow": json_value(rows[0]) if rows else {}}
    rows = frame.collect().to_dicts()
    if len(rows) > 5000:
        raise ConfigError(f"Activity {ctx.activity.name!r}: the Lookup returned {len(rows):,} rows; the limit is "
                          "5,000.", hint="Narrow the query, or aggregate it.")
    return {"count": len(rows), "value": json_value(rows)}


def get_metadata(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """The requested fields of a table or a lake path."""
    fields = need(props, "fieldList", ctx.activity.name, list)
    if "table" in props:
        return _table_metadata(ctx, need(props, "table", ctx.activity.name), fields)
    return _path_metadata(ctx, need(props, "path", ctx.activity.name), fields)


def _existence(fields: list[str], exists: bool, missing: type[LakeMLError], message: str) -> dict[str, Any]:
    """The ``exists`` field when it is asked for; ``missing(message)`` when other fields are asked of nothing."""
    if not exists and set(fields) - {"exists"}:
        raise missing(message, hint="Add 'exists' alone to fieldList to test for it.")
    return {"exists": exists} if "exists" in fields else {}


def _table_metadata(ctx: ActivityContext, table: str, fields: list[str]) -> dict[str, Any]:
    lake = ctx.lake
    exists = table in lake.tables()
    out = _existence(fields, exists, TableNotFoundError, f"Activity {ctx.activity.name!r}: no table {table!r}.")
    if not exists:
        return out
    description = lake.describe(table)
    folder = f"tables/{table}"
    times = lake.storage.modified_times(folder) if description.managed else {}
    for field in fields:
        if field == "itemName":
            out[field] = table
        elif field == "itemType":
            out[field] = "Table"
        elif field == "lastModified":
            out[field] = _iso(max(times.values())) if times else None
        elif field == "size":
            out[field] = sum(lake.storage.size(f"{folder}/{f}") for f in times) if times else None
        elif field == "childItems":
            out[field] = [{"name": c, "type": "Column"} for c in description.schema]
        elif field == "columnCount":
            out[field] = len(description.schema)
        elif field == "structure":
            out[field] = [{"name": c, "type": t} for c, t in description.schema.items()]
        elif field == "rowCount":
            rows = description.num_rows
            out[field] = rows if rows is not None else int(lake.table(table).select(pl.len()).collect().item())
    return out


def _path_metadata(ctx: ActivityContext, path: str, fields: list[str]) -> dict[str, Any]:
    location = resolve_path(ctx, path)
    is_lake = not ("://" in path or Path(path).is_absolute())
    storage = ctx.lake.storage if is_lake else ctx.lake.storage_for(location)
    rel = path if is_lake else ""
    if not is_lake and storage.root.is_local:
        from lakeml.storage.lakefs import open_storage

        storage = open_storage(str(Path(location).parent))
        rel = Path(location).name
    times = storage.modified_times(rel)
    exists = bool(times) or storage.exists(rel)
    is_file = set(times) == {""}
    out = _existence(fields, exists, LakePathNotFoundError, f"Activity {ctx.activity.name!r}: nothing at {path!r}.")
    if not exists:
        return out
    frame: pl.LazyFrame | None = None
    for field in fields:
        if field == "itemName":
            out[field] = posixpath.basename(path.rstrip("/"))
        elif field == "itemType":
            out[field] = "File" if is_file else "Folder"
        elif field == "lastModified":
            out[field] = _iso(max(times.values())) if times else None
        elif field == "size":
            out[field] = storage.size(rel) if is_file else sum(storage.size(f"{rel}/{f}" if rel else f) for f in times)
        elif field == "childItems":
            children = storage.list(rel)
            out[field] = [{"name": c, "type": "File" if storage.modified_times(f"{rel}/{c}" if rel else c).keys()
                           == {""} else "Folder"} for c in children]
        elif field in ("columnCount", "structure", "rowCount"):
            if frame is None:
                frame = _source_frame(ctx, {"path": path})
            schema = frame.collect_schema()
            if field == "columnCount":
                out[field] = len(schema)
            elif field == "structure":
                out[field] = [{"name": c, "type": str(t)} for c, t in schema.items()]
            else:
                out[field] = int(frame.select(pl.len()).collect().item())
    return out


def _iso(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat()



HANDLERS: dict[str, Handler] = {"Copy": copy, "Script": script, "Lookup": lookup, "GetMetadata": get_metadata}
