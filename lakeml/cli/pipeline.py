"""``lakeml pipeline ...``: validate, store, run and inspect pipelines.

The click group :data:`pipeline` is shared: the trigger commands (``serve``, ``backfill``) add
themselves to it from their own module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from lakeml.errors import PipelineValidationError

if TYPE_CHECKING:
    from lakeml.pipeline.definition import Activity


@click.group("pipeline")
def pipeline() -> None:
    """Data pipelines: the cloud's pipeline JSON (or YAML) run on this lake."""


@pipeline.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_cmd(file: str) -> None:
    """Check a pipeline file and list every problem with its JSON path (exit 1 if any)."""
    from lakeml.pipeline.load import load_pipeline

    try:
        loaded = load_pipeline(file)
    except PipelineValidationError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    count = sum(1 for _ in _walk(loaded.activities))
    click.echo(f"{loaded.name}: valid ({count} activities)")


def _walk(activities: tuple[Activity, ...]) -> Iterator[Activity]:
    for activity in activities:
        yield activity
        for children in activity.children.values():
            yield from _walk(children)


def register(cli: click.Group) -> None:
    """Add the ``pipeline`` group to the CLI."""
    cli.add_command(pipeline)
