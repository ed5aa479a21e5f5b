"""``lakeml demo``: the end-to-end demo on the local lake."""

from __future__ import annotations

import click

from lakeml.cli.context import console, get_lake


def register(cli: click.Group) -> None:
    """Add the demo command."""

    @cli.command()
    @click.option("--csv-to", "csv_to", default=None, metavar="DIR",
                  help="Only write the demo's CSV files (flights, airlines, airports) into DIR, e.g. '.', and exit.")
    @click.pass_context
    def demo(ctx: click.Context, csv_to: str | None) -> None:
        """Ingest NYC flights 2013 (shipped in a package), explore it with SQL, train, register and score."""
        if csv_to is not None:
            from lakeml.demo import extract_csv

            for path in extract_csv(csv_to):
                click.echo(f"wrote {path}")
            return
        from lakeml.demo import run_demo

        run_demo(get_lake(ctx), console())
