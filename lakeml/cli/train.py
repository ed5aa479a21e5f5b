"""``lakeml train``: train one model family on a table or query, optionally register it."""

from __future__ import annotations

import json
from typing import Any

import click
import polars as pl

from lakeml.cli.context import get_lake, progress_enabled
from lakeml.cli.output import render_table
from lakeml.errors import ConfigError


def parse_pairs(pairs: tuple[str, ...], *, option: str) -> dict[str, Any]:
    """``k=v`` options to a dict; values are JSON when they parse (numbers, true, null), else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} {pair!r} is not of the form key=value.",
                              hint=f"Write e.g. {option} n_estimators=200.")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def register(cli: click.Group) -> None:
    """Add the ``train`` command to the CLI."""
    from lakeml.ml.families import FAMILIES

    @cli.command()
    @click.option("--data", required=True, metavar="TABLE|QUERY", help="A lake table or a SELECT query.")
    @click.option("--target", required=True, metavar="COL", help="The column to predict.")
    @click.option("--model", "model", default="lightgbm", show_default=True,
                  type=click.Choice(sorted(FAMILIES)), help="Model family to train.")
    @click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
                  help="A hyperparameter (repeatable), e.g. --param n_estimators=200.")
    @click.option("--role", "roles", multiple=True, metavar="COL=ROLE",
                  help="Featurization override: numeric, categorical, boolean, datetime or drop.")
    @click.option("--task", type=click.Choice(["classification", "regression"]), default=None,
                  help="classification or regression (default: inferred from the target's values).")
    @click.option("--seed", type=int, default=0, show_default=True,
                  help="Random seed: the same seed and data give the same model.")
    @click.option("--n-jobs", "n_jobs", type=int, default=None, help="Cores to use (default: all).")
    @click.option("--register", "register_as", default=None, metavar="NAME",
                  help="Register the model under this name when ONNX parity holds.")
    @click.pass_context
    def train(ctx: click.Context, data: str, target: str, model: str, params: tuple[str, ...],
              roles: tuple[str, ...], task: str | None, seed: int, n_jobs: int | None,
              register_as: str | None) -> None:
        """Train one model family, print validation metrics, parity and feature importances."""
        lake = get_lake(ctx)
        kwargs: dict[str, Any] = {"target": target, "model": model, "params": parse_pairs(params, option="--param"),
                  "roles": {k: str(v) for k, v in parse_pairs(roles, option="--role").items()} or None,
                  "task": task, "seed": seed, "n_jobs": n_jobs}
        if progress_enabled():
            from rich.console import Console

            with Console(stderr=True).status(f"training {model} on {data} ..."):
                result = lake.train(data, **kwargs)
        else:
            result = lake.train(data, **kwargs)
        click.echo(f"{result.family} ({result.task}), {result.lineage['rows']:,} rows, {result.validation}, "
                   f"{result.timings['total']:.1f}s")
        render_table(pl.DataFrame({"metric": list(result.metrics),
                                   "value": [float(v) for v in result.metrics.values()]}),
                     title="validation metrics")
        p = result.parity
        click.echo(f"ONNX parity: {'passed' if p.passed else 'FAILED'} (max |diff| {p.max_abs_diff:.2g} "
                   f"on {p.n_rows:,} rows, label flips {p.label_flips})")
        if result.plan.dropped:
            click.echo("dropped columns: " + "; ".join(f"{d.name} ({d.reason})" for d in result.plan.dropped))
        render_table(result.feature_importances, title="feature importance", max_rows=15)
        if register_as:
            version = result.register(register_as)
            click.echo(f"registered {version.ref}")
