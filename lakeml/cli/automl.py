"""``lakeml automl`` (search under a budget, live progress, leaderboard) and ``lakeml runs``."""

from __future__ import annotations

import time
from typing import Any

import click
import polars as pl

from lakeml.cli.context import get_lake, progress_enabled
from lakeml.cli.output import render_table

_LEADERBOARD_COLUMNS = ("rank", "trial_id", "family", "score", "fit_time_s", "params")


class _Live:
    """The live line: trials done, best score so far, time left (re-rendered several times a second)."""

    def __init__(self, budget: float | None, metric: str | None) -> None:
        self.start = time.monotonic()
        self.budget = budget
        self.metric = metric or "score"
        self.done = 0
        self.best: float | None = None
        self.family: str | None = None
        self.last = ""

    def update(self, progress: Any) -> None:
        self.done = progress.trials_done
        self.best, self.family = progress.best_score, progress.best_family
        if progress.last is not None:
            self.last = f"last: {progress.last.family} {progress.last.status}"

    def __rich__(self) -> str:
        elapsed = time.monotonic() - self.start
        left = f"{max(0.0, self.budget - elapsed):5.1f}s left" if self.budget else f"{elapsed:5.1f}s"
        best = f"{self.best:.5g} ({self.family})" if self.best is not None else "-"
        return (f"[bold]AutoML[/bold]  trials {self.done}  best {self.metric} {best}  {left}  "
                f"[dim]{self.last}[/dim]")


def _print_result(result: Any) -> None:
    click.echo(f"run {result.run_id}: {result.task}, best {result.best_family} "
               f"({result.metric} {result.best_score:.5g} on validation), {result.trials.height} trials, "
               f"stopped by {result.stop_reason}")
    budget = f"{result.time_budget_s:g}s" if result.time_budget_s else "none"
    click.echo(f"wall time {result.wall_time_s:.1f}s, budget {budget}, overrun {result.overrun_s:.1f}s"
               + ("  (deterministic: rerun with the same seed gives the same leaderboard)"
                  if result.deterministic else ""))
    cols = [c for c in _LEADERBOARD_COLUMNS if c in result.leaderboard.columns]
    metric_cols = [c for c in result.leaderboard.columns if c not in cols and c not in ("started_s",)]
    render_table(result.leaderboard.select(*cols[:-1], *metric_cols, cols[-1]), title="leaderboard",
                 max_rows=15)
    render_table(result.guardrails_frame.select("name", "status", "detail"), title="data guardrails")
    if result.ensemble:
        click.echo("ensemble: " + ", ".join(f"{m['family']} (trial {m['trial_id']}, weight {m['weight']:g})"
                                            for m in result.ensemble))
    p = result.parity
    click.echo(f"ONNX parity: {'passed' if p.passed else 'FAILED'} (max |diff| {p.max_abs_diff:.2g} "
               f"on {p.n_rows:,} rows)")
    for note in result.notes:
        click.echo(f"note: {note}")


def register(cli: click.Group) -> None:
    """Add the ``automl`` and ``runs`` commands to the CLI."""

    @cli.command()
    @click.option("--data", required=True, metavar="TABLE|QUERY", help="A lake table or a SELECT query.")
    @click.option("--target", required=True, metavar="COL", help="The column to predict.")
    @click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
                  help="classification or regression (default: inferred from the target's values).")
    @click.option("--metric", default=None, help="Primary metric, e.g. auc, log_loss, rmse (default by task).")
    @click.option("--budget", type=float, default=60.0, show_default=True,
                  help="Hard wall-clock budget in seconds for the whole run.")
    @click.option("--max-trials", type=int, default=None, help="Budget in trials (with --seed: deterministic).")
    @click.option("--seed", type=int, default=None, help="Seed for splits, search and models.")
    @click.option("--allow", "allowed", multiple=True, metavar="FAMILY", help="Only these families (repeatable).")
    @click.option("--block", "blocked", multiple=True, metavar="FAMILY", help="Leave out these families.")
    @click.option("--n-jobs", "n_jobs", type=int, default=None,
                  help="Parallel trials (default: one per core; on --backend spark, one per task slot).")
    @click.option("--no-ensemble", is_flag=True, help="Do not try a voting ensemble of the best trials.")
    @click.option("--register", "register_as", default=None, metavar="NAME",
                  help="Register the best model under this name (when ONNX parity holds).")
    @click.pass_context
    def automl(ctx: click.Context, data: str, target: str, task: str | None, metric: str | None, budget: float,
               max_trials: int | None, seed: int | None, allowed: tuple[str, ...], blocked: tuple[str, ...],
               n_jobs: int | None, no_ensemble: bool, register_as: str | None) -> None:
        """Search model families and hyperparameters within a time budget; print the leaderboard."""
        from lakeml.boundary import boundary
        from lakeml.ml.automl.api import automl as automl_call
        from lakeml.ml.automl.budget import command_start, end_command_now

        run_automl = boundary(automl_call)  # engine errors translated as on Lake.automl
        lake = get_lake(ctx)
        # The budget covers the whole command: it started with this process, not with the search.
        kwargs: dict[str, Any] = {
            "target": target, "task": task, "metric": metric, "time_budget": budget, "max_trials": max_trials,
            "seed": seed, "allowed": list(allowed) or None, "blocked": list(blocked) or None,
            "n_jobs": n_jobs, "ensemble": not no_ensemble, "started_at": command_start()}
        if progress_enabled():
            from rich.console import Console
            from rich.live import Live

            live_line = _Live(budget, metric)
            with Live(live_line, console=Console(stderr=True), refresh_per_second=4, transient=True):
                result = run_automl(lake, data, progress=live_line.update, **kwargs)
        else:
            result = run_automl(lake, data, **kwargs)
        _print_result(result)
        if register_as:
            version = result.register(register_as)
            click.echo(f"registered {version.ref}")
        end_command_now()  # the budget runs to the command's exit: skip the interpreter's slow teardown

    @cli.command()
    @click.argument("run_id", required=False)
    @click.option("--limit", type=int, default=20, show_default=True,
                  help="Runs to list (with RUN_ID: leaderboard rows to show).")
    @click.pass_context
    def runs(ctx: click.Context, run_id: str | None, limit: int) -> None:
        """List AutoML runs; with RUN_ID (a run_id from the list), show that run's leaderboard and guardrails."""
        from lakeml.ml import runs as run_tables

        lake = get_lake(ctx)
        if run_id is None:
            frame = run_tables.list_runs(lake)
            keep = [c for c in ("run_id", "source", "task", "metric", "best_family", "best_score", "n_trials",
                                "wall_time_s", "time_budget_s", "registered_model") if c in frame.columns]
            render_table(frame.select(keep).head(limit), title="AutoML runs")
            return
        board = run_tables.read_run_table(lake, run_id, "leaderboard").collect()
        cols = [c for c in _LEADERBOARD_COLUMNS if c in board.columns]
        render_table(board.select(cols), title=f"leaderboard of {run_id}", max_rows=limit)
        guards = run_tables.read_run_table(lake, run_id, "guardrails").collect()
        render_table(guards.select(pl.col("name"), pl.col("status"), pl.col("detail")), title="data guardrails")
