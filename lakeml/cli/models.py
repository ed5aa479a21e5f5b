"""``lakeml models``: register, list, show and alias models in the lake's registry."""

from __future__ import annotations

import json

import click

from lakeml.cli.context import get_lake
from lakeml.cli.output import render_table


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE.", param_hint=option)
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def register(cli: click.Group) -> None:
    """Add the ``models`` command group to the CLI."""

    @cli.group()
    def models() -> None:
        """The model registry: ONNX models, immutable versions, aliases."""

    @models.command("register")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--name", required=True, help="Model name (a new version is added if it exists).")
    @click.option("--description", default=None, help="Free-text description, shown by 'lakeml models list'.")
    @click.option("--features", default=None, metavar="A,B,C",
                  help="Ordered column list, for a model with one [N,F] input.")
    @click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
    @click.option("--alias", default=None, help="Also point this alias (e.g. champion) at the new version.")
    @click.pass_context
    def register_cmd(ctx: click.Context, path: str, name: str, description: str | None, features: str | None,
                     tags: tuple[str, ...], alias: str | None) -> None:
        """Register the ONNX file PATH as a new version of model NAME."""
        lake = get_lake(ctx)
        feats = [f.strip() for f in features.split(",") if f.strip()] if features else None
        mv = lake.models.register(path, name=name, description=description, features=feats,
                                  tags=_pairs(tags, "--tag"))
        if alias:
            lake.models.set_alias(name, mv.version, alias)
        click.echo(f"registered {mv.ref} (sha256 {mv.sha256[:12]})" + (f", alias {alias}" if alias else ""))

    @models.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
    @click.pass_context
    def list_cmd(ctx: click.Context, as_json: bool) -> None:
        """List every model version."""
        frame = get_lake(ctx).models.list()
        if as_json:
            for row in frame.iter_rows(named=True):
                click.echo(json.dumps(row, default=str))
            return
        render_table(frame.select("name", "version", "aliases", "created", "description", "inputs", "outputs"),
                     title="models")

    @models.command("show")
    @click.argument("ref")
    @click.option("--json", "as_json", is_flag=True, help="Print the structured description as JSON.")
    @click.pass_context
    def show(ctx: click.Context, ref: str, as_json: bool) -> None:
        """Show a model's inputs and outputs with the SQL types to write in WITH (REF: name, name:3, name@alias)."""
        lake = get_lake(ctx)
        if as_json:
            click.echo(json.dumps(lake.models.describe_dict(ref), indent=2, default=str))
        else:
            click.echo(lake.models.describe(ref))

    @models.command("alias")
    @click.argument("name")
    @click.argument("version", type=int, required=False)
    @click.argument("alias", required=False)
    @click.option("--delete", "delete", default=None, metavar="ALIAS",
                  help="Remove this alias of model NAME instead (its version stays registered).")
    @click.pass_context
    def alias_cmd(ctx: click.Context, name: str, version: int | None, alias: str | None, delete: str | None) -> None:
        """Point ALIAS of model NAME at VERSION (creating or moving it), or remove an alias with --delete.

        \b
        lakeml models alias churn 3 champion
        lakeml models alias churn --delete champion
        """
        if delete is not None:
            if version is not None or alias is not None:
                raise click.UsageError("Give either VERSION ALIAS or --delete ALIAS, not both.")
            get_lake(ctx).models.delete_alias(name, delete)
            click.echo(f"deleted {name}@{delete}")
            return
        if version is None or alias is None:
            raise click.UsageError("Missing VERSION and ALIAS (or --delete ALIAS).")
        get_lake(ctx).models.set_alias(name, version, alias)
        click.echo(f"{name}@{alias} -> {name}:{version}")
