"""``lakeml pipeline ...``: validate, store, run and inspect pipelines.

The click group :data:`pipeline` is shared: the trigger commands (``serve``, ``backfill``) add
themselves to it from their own module.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from lakeml.errors import ConfigError, PipelineValidationError

if TYPE_CHECKING:
    from lakeml.pipeline.definition import Activity


@click.group("pipeline")
def pipeline() -> None:
    """Data pipelines: the cloud's pipeline JSON (or YAML) run on this lake."""


@pipeline.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_cmd(file: str) -> None:
    """Check the pipeline FILE (JSON or YAML) and list every problem with its JSON path (exit 1 if any)."""
    from lakeml.pipeline.load import load_pipeline

    try:
        loaded = load_pipeline(file)
    except PipelineValidationError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    count = sum(1 for _ in _walk(loaded.activities))
    click.echo(f"{loaded.name}: valid ({count} activities)")


@contextlib.contextmanager
def _listing_problems() -> Iterator[None]:
    """Print a validation error with one problem per line (the generic handler joins lines)."""
    try:
        yield
    except PipelineValidationError as exc:
        click.echo(f"error: {exc.message}", err=True)
        raise SystemExit(1) from None


def _handle_for(ctx: click.Context) -> Any:
    from lakeml.cli.context import get_lake

    return get_lake(ctx).pipelines


def _params(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--param {pair!r} is not of the form name=value.",
                              hint="Write e.g. --param day=2013-01-01.")
        out[key.strip()] = value
    return out


@pipeline.command("create")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def create_cmd(ctx: click.Context, file: str) -> None:
    """Validate FILE and store it in the lake (replacing a pipeline of the same name)."""
    with _listing_problems():
        stored = _handle_for(ctx).create(file)
    click.echo(f"stored pipeline {stored.name!r}")


@pipeline.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """The pipelines stored in the lake."""
    names = _handle_for(ctx).list()
    if not names:
        click.echo("no pipelines yet (store one with: lakeml pipeline create FILE)")
    for name in names:
        click.echo(name)


@pipeline.command("run")
@click.argument("pipeline_ref", metavar="NAME|FILE")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A parameter value (repeatable), converted to the declared type.")
@click.pass_context
def run_cmd(ctx: click.Context, pipeline_ref: str, params: tuple[str, ...]) -> None:
    """Run NAME|FILE: a stored pipeline or a definition file. Shows live status on a terminal, then the
    activity tree; exit 0 if the run succeeded, else 1."""
    from lakeml.pipeline.show import format_tree

    pipelines = _handle_for(ctx)
    with _listing_problems():
        handle = pipelines.run(pipeline_ref, _params(params), wait=False)
    if sys.stdout.isatty():
        _live(handle)
    result = handle.wait()
    click.echo(format_tree(pipelines.get(result.run_id)))
    raise SystemExit(0 if result.status == "Succeeded" else 1)


def _live(handle: Any) -> None:
    from rich.live import Live

    from lakeml.pipeline.show import format_tree

    def snapshot() -> str:
        document = {"run": vars(handle.recorder.run), "activities": [vars(a) for a in handle.activities()]}
        return format_tree(document)

    with Live(snapshot(), refresh_per_second=4, transient=True) as live:
        while not handle.done.wait(0.25):
            live.update(snapshot())


@pipeline.command("runs")
@click.argument("name", required=False)
@click.pass_context
def runs_cmd(ctx: click.Context, name: str | None) -> None:
    """Recent pipeline runs (of NAME), newest first."""
    from lakeml.cli.output import render_table

    frame = _handle_for(ctx).runs(name)
    if frame.is_empty():
        click.echo("no pipeline runs yet")
        return
    render_table(frame.select("runId", "pipelineName", "status", "runStart", "durationInMs", "invokedBy", "message"))


@pipeline.command("show")
@click.argument("run_id")
@click.pass_context
def show_cmd(ctx: click.Context, run_id: str) -> None:
    """The activity tree of run RUN_ID: status, attempt, duration and error of each activity."""
    click.echo(_handle_for(ctx).show(run_id))


@pipeline.command("rerun")
@click.argument("run_id")
@click.option("--from-failure", is_flag=True, help="Rerun only what failed, was cancelled or skipped; reuse the rest.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Override a parameter (secureString parameters must be given again).")
@click.pass_context
def rerun_cmd(ctx: click.Context, run_id: str, from_failure: bool, params: tuple[str, ...]) -> None:
    """Run the pipeline of run RUN_ID again with its parameters; exit 0 if it succeeded, else 1."""
    pipelines = _handle_for(ctx)
    with _listing_problems():
        handle = pipelines.rerun(run_id, from_failure=from_failure, parameters=_params(params), wait=False)
    if sys.stdout.isatty():
        _live(handle)
    result = handle.wait()
    click.echo(pipelines.show(result.run_id))
    raise SystemExit(0 if result.status == "Succeeded" else 1)


@pipeline.command("cancel")
@click.argument("run_id")
@click.pass_context
def cancel_cmd(ctx: click.Context, run_id: str) -> None:
    """Ask the running pipeline run RUN_ID to stop (no new activity starts; waits end)."""
    _handle_for(ctx).cancel(run_id)
    click.echo(f"asked run {run_id} to stop")


def _walk(activities: tuple[Activity, ...]) -> Iterator[Activity]:
    for activity in activities:
        yield activity
        for children in activity.children.values():
            yield from _walk(children)


def register(cli: click.Group) -> None:
    """Add the ``pipeline`` group to the CLI."""
    cli.add_command(pipeline)
