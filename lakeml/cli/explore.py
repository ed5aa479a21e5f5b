"""``lakeml profile`` and ``lakeml chart``: data exploration from the command line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from lakeml.cli.context import console, get_lake, progress_enabled

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@contextmanager
def _status(label: str) -> Iterator[Any]:
    """A spinner on stderr when it is a terminal; the yielded callback updates its message."""
    if not progress_enabled():
        yield None
        return
    with console(stderr=True).status(label) as status:
        yield lambda message: status.update(f"{label}: {message}")


def register(cli: click.Group) -> None:
    """Add the ``profile`` and ``chart`` commands."""

    @cli.command("profile")
    @click.argument("data")
    @click.option("--target", default=None, help="Target column: adds its distribution and feature relations.")
    @click.option("--sample", default=None, help="Profile a random sample: a row count (100000) or fraction (0.1).")
    @click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
                  help="HTML report to write. Default: <table>_profile.html (or profile.html for a query).")
    @click.option("--json", "json_path", default=None, type=click.Path(dir_okay=False),
                  help="Also write the numbers as JSON to this file.")
    @click.option("--bins", default=20, show_default=True, help="Histogram bins per numeric column.")
    @click.pass_context
    def profile_cmd(ctx: click.Context, data: str, target: str | None, sample: str | None, output: str | None,
                    json_path: str | None, bins: int) -> None:
        """Profile DATA (a table name or a SQL query) into a self-contained HTML report."""
        from lakeml.explore.api import profile

        lake = get_lake(ctx)
        with _status("profiling") as update:
            result = profile(lake, data, target=target, sample=_parse_sample(sample), bins=bins, progress=update)
            path = Path(output or (f"{data}_profile.html" if _NAME.match(data) else "profile.html"))
            result.to_html(path)
            if json_path:
                result.to_json(json_path)
        o = result.overview
        out = console()
        out.print(f"{o['rows']:,} rows x {o['columns']} columns, {o['missing_share']:.1%} missing cells, "
                  f"{o['duplicate_rows']:,} duplicate rows, {result.alerts.height} alerts "
                  f"({o['seconds']:.2f}s)")
        for message in result.alerts.head(8).iter_rows(named=True):
            where = message["column"] or "table"
            out.print(f"  [yellow]{message['severity']}[/yellow] {where}: {message['message']}", highlight=False)
        out.print(f"report: {path.resolve()}" + (f"\njson: {Path(json_path).resolve()}" if json_path else ""),
                  highlight=False, soft_wrap=True)

    @cli.command("chart")
    @click.argument("query")
    @click.option("--kind", required=True, type=click.Choice(["bar", "line", "scatter", "hist"]),
                  help="bar (a bar per x value, or rows per x without --y), line, scatter, or hist "
                       "(a histogram of --x).")
    @click.option("--x", "x", default=None, help="x column (hist: the column to bin).")
    @click.option("--y", "y", multiple=True, help="y column; repeat for several series.")
    @click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
                  help="Image to write: .png or .svg.")
    @click.option("--title", default=None, help="Chart title (default: the y and x column names).")
    @click.pass_context
    def chart_cmd(ctx: click.Context, query: str, kind: str, x: str | None, y: tuple[str, ...], output: str,
                  title: str | None) -> None:
        """Chart the result of QUERY (a SQL query or a table name) as PNG or SVG; without ORDER BY, x is sorted."""
        from lakeml.explore.api import chart

        lake = get_lake(ctx)
        with _status("charting"):
            chart(lake, query, kind=kind, x=x, y=list(y) or None, output=output,  # type: ignore[arg-type]
                  title=title)
        console().print(f"chart: {Path(output).resolve()}", highlight=False, soft_wrap=True)


def _parse_sample(raw: str | None) -> int | float | None:
    if raw is None:
        return None
    from lakeml.errors import ConfigError

    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"Invalid --sample {raw!r}.",
                          hint="Use a row count (e.g. 100000) or a fraction (e.g. 0.1).") from None
