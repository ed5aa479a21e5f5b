"""``lakeml demo``: the end-to-end demo on the local lake."""

from __future__ import annotations

import click

from lakeml.cli.context import console, get_lake


def register(cli: click.Group) -> None:
    """Add the demo command."""

    @cli.command()
    @click.pass_context
    def demo(ctx: click.Context) -> None:
        """Ingest NYC flights 2013 (shipped in a package), explore it with SQL, train, register and score."""
        from lakeml.demo import run_demo

        run_demo(get_lake(ctx), console())
