"""Commands for the lake itself: init, ingest, tables, describe, register, sql, drop, vacuum."""

from __future__ import annotations

import json
import sys

import click

from lakeml.cli.context import get_lake, progress_enabled
from lakeml.cli.output import render_table, type_name, write_result
from lakeml.errors import ConfigError, LakePathNotFoundError
from lakeml.query.vacuum import DEFAULT_RETENTION_HOURS
from lakeml.storage.uri import safe_uri


def _parse_params(values: tuple[str, ...]) -> dict[str, object]:
    params: dict[str, object] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE.", param_hint="--param")
        key, raw = item.split("=", 1)
        params[key.strip().lstrip("@")] = _coerce(raw)
    return params


def _coerce(raw: str) -> object:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if raw.lower() == "null":
        return None
    return raw


def register(cli: click.Group) -> None:
    """Add the lake commands to the CLI."""

    @cli.command()
    @click.pass_context
    def init(ctx: click.Context) -> None:
        """Create the lake (folder or Azure container) if it does not exist."""
        lake = get_lake(ctx)
        lake.storage.ensure_root()
        click.echo(f"lake ready at {lake.root}")

    @cli.command()
    @click.argument("source")
    @click.argument("table")
    @click.option("--format", "fmt", type=click.Choice(["csv", "ndjson", "parquet"]), default=None,
                  help="Source format: csv, ndjson or parquet (default: guessed from the file names).")
    @click.option("--mode", type=click.Choice(["error", "append", "overwrite"]), default="error", show_default=True,
                  help="When TABLE exists: error: refuse (the default); append: add the rows; "
                       "overwrite: replace its rows. A missing TABLE is created.")
    @click.option("--partition-by", "partition_by", multiple=True, metavar="COL", help="Partition column (repeatable).")
    @click.option("--schema", "schema", multiple=True, metavar="COL=TYPE",
                  help="Explicit column type, e.g. arr_delay=float64 or zip=str (repeatable).")
    @click.option("--null-value", "null_values", multiple=True, metavar="TOKEN",
                  help="CSV cell to read as missing in every column (repeatable); NA, NaN, NULL and empty cells "
                       "always are in numeric columns.")
    @click.pass_context
    def ingest(ctx: click.Context, source: str, table: str, fmt: str | None, mode: str,
               partition_by: tuple[str, ...], schema: tuple[str, ...], null_values: tuple[str, ...]) -> None:
        """Copy SOURCE (a file, folder or glob of CSV, NDJSON or Parquet; a path or URI) into lake table TABLE."""
        import warnings

        from lakeml.errors import render_for
        from lakeml.query.ingest import TextColumnWarning

        types = {}
        for item in schema:
            if "=" not in item:
                raise click.BadParameter(f"{item!r} is not COL=TYPE.", param_hint="--schema")
            col, dtype = item.split("=", 1)
            types[col] = dtype
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", TextColumnWarning)
            rows = get_lake(ctx).ingest(source, table, format=fmt, mode=mode,
                                        partition_by=list(partition_by) or None, schema=types or None,
                                        null_values=list(null_values), progress=progress_enabled())
        for warning in caught:
            if isinstance(warning.message, TextColumnWarning):
                click.echo(f"warning: {render_for(str(warning.message.args[0]), 'cli')}", err=True)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        click.echo(f"ingested {rows:,} rows into {table}")

    @cli.command("tables")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
    @click.pass_context
    def tables_cmd(ctx: click.Context, as_json: bool) -> None:
        """List the tables of the lake."""
        import polars as pl

        lake = get_lake(ctx)
        if lake.storage.root.is_local and not lake.storage.exists(""):
            raise LakePathNotFoundError(f"There is no lake at {lake.root!r}: the folder does not exist.",
                                        hint="Check --lake (or LAKEML_LAKE); 'lakeml init' creates an empty lake, "
                                             "'lakeml ingest FILE TABLE' one with a first table.")
        infos = [lake.catalog.info(name) for name in lake.tables()]
        rows = [{"name": i.name, "format": i.format, "managed": i.managed, "location": i.location} for i in infos]
        if as_json:
            click.echo(json.dumps(rows, indent=1))
        elif not rows:
            click.echo("no tables yet: try 'lakeml ingest FILE TABLE'", err=True)
        else:
            render_table(pl.DataFrame(rows), title=f"tables in {lake.root}")

    @cli.command()
    @click.argument("table")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text and a table.")
    @click.pass_context
    def describe(ctx: click.Context, table: str, as_json: bool) -> None:
        """Show TABLE's format, location, row count and schema."""
        import polars as pl

        desc = get_lake(ctx).describe(table)
        if as_json:
            click.echo(json.dumps(desc.to_dict(), indent=1))
            return
        click.echo(f"table     {desc.name}\nformat    {desc.format}{' (managed)' if desc.managed else ' (external)'}")
        click.echo(f"location  {desc.location}")
        click.echo(f"rows      {desc.num_rows:,}" if desc.num_rows is not None else "rows      (not counted)")
        if desc.partition_by:
            click.echo(f"partition {', '.join(desc.partition_by)}")
        if desc.version is not None:
            click.echo(f"version   {desc.version}")
        render_table(pl.DataFrame({"column": list(desc.dtypes), "type": [type_name(t) for t in desc.dtypes.values()]}))

    @cli.command("register")
    @click.argument("name")
    @click.argument("uri")
    @click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "ndjson", "delta"]), default=None,
                  help="Format of the files at URI: parquet, csv, ndjson or delta (default: from the file names).")
    @click.option("--replace", is_flag=True, help="Re-point an existing registration.")
    @click.pass_context
    def register_cmd(ctx: click.Context, name: str, uri: str, fmt: str | None, replace: bool) -> None:
        """Register files at URI (a file, glob or folder) as table NAME; lakeml reads them, never writes them."""
        info = get_lake(ctx).register_table(name, uri, format=fmt, replace=replace)
        click.echo(f"registered {info.name} ({info.format}) -> {safe_uri(info.location)}")

    @cli.command()
    @click.argument("query")
    @click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Bind @NAME (repeatable).")
    @click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]), default="table",
                  show_default=True, help="table (on the terminal), csv, json (an array of row objects) or "
                                          "parquet (needs --output).")
    @click.option("--output", "-o", default=None, metavar="PATH", help="Write the result to a file.")
    @click.pass_context
    def sql(ctx: click.Context, query: str, params: tuple[str, ...], fmt: str, output: str | None) -> None:
        """Run a SQL QUERY over the lake's tables and files ('-' reads the query from stdin).

        Statements that write (CREATE TABLE ... AS, SELECT ... INTO, INSERT, DROP TABLE, MERGE) commit
        atomically and print rows_affected.
        """
        text = sys.stdin.read() if query == "-" else query
        if not text.strip():
            raise ConfigError("The SQL query is empty.", hint="Pass a query, or '-' and the query on stdin.")
        lake = get_lake(ctx)
        frame = lake.sql(text, params=_parse_params(params) or None)
        write_result(frame, fmt=fmt, output=output, lake=lake)  # type: ignore[arg-type]

    @cli.command()
    @click.argument("table")
    @click.pass_context
    def drop(ctx: click.Context, table: str) -> None:
        """Delete managed table TABLE and its files (also a folder left by a write that never committed)."""
        get_lake(ctx).drop(table)
        click.echo(f"dropped {table}")

    @cli.command()
    @click.option("--retention-hours", type=click.FloatRange(min=0), default=DEFAULT_RETENTION_HOURS,
                  show_default=True,
                  help="Only remove files older than this; 0 is safe only while no writer is running.")
    @click.option("--dry-run", is_flag=True, help="List what would be removed; delete nothing.")
    @click.pass_context
    def vacuum(ctx: click.Context, retention_hours: float, dry_run: bool) -> None:
        """Remove files no committed version needs: data of killed or superseded writes, folders of
        first writes that never committed, unfinished model registrations, temporary files."""
        report = get_lake(ctx).vacuum(retention_hours=retention_hours, dry_run=dry_run)
        for path in report.removed:
            click.echo(path)
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {len(report)} path(s) older than {retention_hours:g} hours")
