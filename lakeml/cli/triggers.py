"""Trigger commands of ``lakeml pipeline``: ``trigger create/list/show/delete/runs/rerun``, ``backfill``, ``serve``."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from lakeml.cli.context import get_lake
from lakeml.cli.output import render_table
from lakeml.errors import ConfigError, TriggerValidationError

if TYPE_CHECKING:
    from lakeml.pipeline.triggers.definition import Trigger


def _time(value: str, option: str) -> datetime:
    from lakeml.pipeline.triggers.timefmt import parse_instant

    try:
        return parse_instant(value).astimezone(UTC)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def _summary(trigger: Trigger) -> str:
    from lakeml.pipeline.triggers.definition import Recurrence, StorageEvent, TumblingWindow
    from lakeml.pipeline.triggers.timefmt import format_timespan, iso

    s = trigger.settings
    if isinstance(s, TumblingWindow):
        extra = f", delay {format_timespan(s.delay)}" if s.delay else ""
        return (f"{s.interval} {s.frequency.lower()} windows from {iso(s.start)}"
                f"{f' to {iso(s.end)}' if s.end else ''}, maxConcurrency {s.max_concurrency}{extra}")
    if isinstance(s, Recurrence):
        return f"every {s.interval} {s.frequency.lower()} from {s.start.astimezone(s.zone).isoformat()} ({s.zone})"
    assert isinstance(s, StorageEvent)
    return f"new files {s.begins_with or ''}*{s.ends_with}"


def _log(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    click.echo(f"{stamp} {line}", err=True)


def register(cli: click.Group) -> None:
    """Add the trigger commands to the ``pipeline`` group of the CLI."""
    group = cli.commands.get("pipeline")
    if not isinstance(group, click.Group):
        raise RuntimeError("the 'pipeline' command group must be registered before the trigger commands")

    @group.group("trigger")
    def trigger() -> None:
        """Triggers that start pipelines: schedule, tumbling window, storage event."""

    @trigger.command("create")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--replace", is_flag=True, help="Replace a stored trigger of the same name (its window state stays).")
    @click.pass_context
    def create_cmd(ctx: click.Context, file: str, replace: bool) -> None:
        """Validate the trigger definition FILE (JSON or YAML, the cloud's trigger shape) and store it in the lake."""
        try:
            stored = get_lake(ctx).triggers.create(file, replace=replace)
        except TriggerValidationError as exc:
            click.echo(f"error: {exc.message.split(':', 1)[0]}:", err=True)
            for path, message in exc.issues:
                click.echo(f"  {path}: {message}", err=True)
            raise SystemExit(1) from None
        click.echo(f"stored trigger {stored.name} ({stored.cloud_type}: {_summary(stored)})")

    @trigger.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
    @click.pass_context
    def list_cmd(ctx: click.Context, as_json: bool) -> None:
        """List the lake's triggers."""
        import polars as pl

        store = get_lake(ctx).triggers.store
        rows: list[dict[str, Any]] = []
        for name in store.names():
            try:
                t = store.get(name)
            except TriggerValidationError as exc:
                rows.append({"name": name, "type": "?", "state": "invalid", "pipelines": "", "schedule": exc.message})
                continue
            rows.append({"name": t.name, "type": t.cloud_type, "state": "Started" if t.started else "Stopped",
                         "pipelines": ", ".join(p.name for p in t.pipelines), "schedule": _summary(t)})
        if as_json:
            for row in rows:
                click.echo(json.dumps(row))
            return
        frame = pl.DataFrame(rows, schema={k: pl.String for k in ("name", "type", "state", "pipelines", "schedule")})
        render_table(frame, title="triggers")

    @trigger.command("show")
    @click.argument("name")
    @click.pass_context
    def show_cmd(ctx: click.Context, name: str) -> None:
        """Print the definition of stored trigger NAME."""
        click.echo(json.dumps(get_lake(ctx).triggers.get(name).document, indent=2, default=str))

    @trigger.command("delete")
    @click.argument("name")
    @click.pass_context
    def delete_cmd(ctx: click.Context, name: str) -> None:
        """Delete trigger NAME and its window state (its pipeline runs stay in pipeline_runs)."""
        get_lake(ctx).triggers.delete(name)
        click.echo(f"deleted trigger {name}")

    @trigger.command("runs")
    @click.argument("name", required=False)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
    @click.pass_context
    def runs_cmd(ctx: click.Context, name: str | None, as_json: bool) -> None:
        """The trigger_runs table: every window, occurrence or file a trigger ran (of trigger NAME)."""
        table = get_lake(ctx).triggers.runs(name)
        if as_json:
            for row in table.iter_rows(named=True):
                click.echo(json.dumps(row, default=str))
            return
        render_table(table.select("trigger", "windowStart", "scheduledTime", "fileName", "attempt", "status",
                                  "pipeline", "runId", "message"), title="trigger runs")

    @trigger.command("rerun")
    @click.argument("name")
    @click.option("--window", "window", required=True, metavar="START",
                  help="The start of the window to run again (ISO 8601, e.g. 2026-01-01T00:00:00Z).")
    @click.pass_context
    def rerun_cmd(ctx: click.Context, name: str, window: str) -> None:
        """Run one window of tumbling window trigger NAME again (exit 1 unless it succeeds)."""
        fire = get_lake(ctx).triggers.rerun(name, _time(window, "--window"))
        runs = ", ".join(r["runId"] for r in fire.body.get("runs", []) if r.get("runId"))
        click.echo(f"window {fire.body['windowStart']}: {fire.status} (attempt {fire.attempt}, run {runs or '-'})"
                   + (f": {fire.body['message']}" if fire.body.get("message") else ""))
        if fire.status != "Succeeded":
            raise SystemExit(1)

    @group.command("backfill")
    @click.argument("pipeline")
    @click.option("--trigger", "trigger_name", required=True, help="The tumbling window trigger whose windows to run.")
    @click.option("--start", required=True, help="Run windows starting at or after this time (ISO 8601).")
    @click.option("--end", required=True, help="... and before this time.")
    @click.option("--force", is_flag=True, help="Also rerun windows that already succeeded.")
    @click.pass_context
    def backfill_cmd(ctx: click.Context, pipeline: str, trigger_name: str, start: str, end: str,
                     force: bool) -> None:
        """Run the windows of a tumbling window trigger that starts PIPELINE in a time range, oldest first.

        Windows that already succeeded are skipped unless --force; the trigger's maxConcurrency,
        self-dependency and retry policy apply. Exit 1 unless every window succeeds.
        """
        from lakeml.pipeline.triggers.timefmt import iso, stamp

        begin, finish = _time(start, "--start"), _time(end, "--end")
        if finish <= begin:
            raise ConfigError(f"The backfill range ends ({end}) before it starts ({start}).",
                              hint="Give --end after --start.")
        result = get_lake(ctx).triggers.backfill(trigger_name, start=begin, end=finish, pipeline=pipeline,
                                                 force=force)
        for window in result.windows:
            key = stamp(window.start)
            fire = result.fires.get(key)
            state = result.blocked.get(key) or (f"{fire.status} (attempt {fire.attempt})" if fire else "not run")
            click.echo(f"{iso(window.start)}  {state}")
        if not result.succeeded:
            raise SystemExit(1)

    @group.command("serve")
    @click.option("--poll", default=10.0, show_default=True, type=click.FloatRange(min=0.05),
                  help="Seconds between looks at the lake (storage events, new triggers).")
    @click.option("--grace", default=30.0, show_default=True, type=click.FloatRange(min=0),
                  help="On stop, seconds to let runs in progress finish before cancelling them.")
    @click.option("--trigger", "only", multiple=True, metavar="NAME", help="Serve only this trigger (repeatable).")
    @click.pass_context
    def serve_cmd(ctx: click.Context, poll: float, grace: float, only: tuple[str, ...]) -> None:
        """Run the lake's triggers in the foreground until Ctrl-C or SIGTERM.

        On the first signal no new run starts and runs in progress get --grace seconds to finish,
        then they are cancelled (recorded Cancelled; the next serve runs those windows again). A
        second signal cancels at once. A restart picks up missed tumbling windows; no window runs twice.
        """
        lake = get_lake(ctx)
        sched = lake.triggers.scheduler(names=list(only), log=_log)
        signals = {"count": 0}

        def on_signal(signum: int, frame: FrameType | None) -> None:
            signals["count"] += 1
            if signals["count"] == 1:
                _log(f"{signal.Signals(signum).name}: stopping; runs in progress get {grace:g}s to finish")
                sched.request_stop()
            else:
                _log("cancelling runs in progress")
                sched.cancel_running()

        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            names = [t.name for t in sched.triggers()]
            _log(f"serving {len(names)} trigger(s) of {lake.root}: {', '.join(names) or '(none yet)'}; "
                 "stop with Ctrl-C")
            sched.serve(poll=poll, grace=grace)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        _log("stopped" + (f" ({len(sched.errors)} error(s) above)" if sched.errors else ""))
        sys.stdout.flush()

