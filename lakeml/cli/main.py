"""The ``lakeml`` command line: one thin command per public function."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from lakeml.boundary import translate
from lakeml.cli import automl, demo, explore, models, pipeline, predict, tables, train, triggers
from lakeml.cli.context import CliState
from lakeml.config import BACKEND_ENV_VAR, DEFAULT_BACKEND, LAKE_ENV_VAR, default_lake_uri
from lakeml.engines import ENGINES
from lakeml.errors import LakeMLError
from lakeml.redaction import redact_text

DEBUG_ENV_VAR = "LAKEML_DEBUG"
DEBUG_FLAG = "--debug"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--lake", "lake_uri", envvar=LAKE_ENV_VAR, default=None, metavar="URI",
              help="Lake root: a folder or an abfss:// / az:// URI. Default: $LAKEML_LAKE or ./lake.")
@click.option("--backend", envvar=BACKEND_ENV_VAR, default=None, type=click.Choice(ENGINES, case_sensitive=False),
              help="Execution engine: polars runs on this machine; spark runs on a Spark session (local[*], or "
                   f"the cluster named by Spark's settings). Default: ${BACKEND_ENV_VAR} or {DEFAULT_BACKEND}.")
@click.option("--debug", is_flag=True,
              help=f"Show full tracebacks on errors (allowed anywhere on the line; or set {DEBUG_ENV_VAR}=1).")
@click.version_option(package_name="lakeml")
@click.pass_context
def cli(ctx: click.Context, lake_uri: str | None, backend: str | None, debug: bool) -> None:
    """lakeml: lake tables, SQL, AutoML, a model registry and SQL PREDICT scoring on one machine."""
    ctx.obj = CliState(lake_uri or default_lake_uri(), debug=debug, backend=backend)


# each noun module adds its commands with register(cli)
for _noun in (tables, models, predict, train, automl, explore, demo, pipeline, triggers):
    _noun.register(cli)


def split_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without its ``--debug`` flags, and whether debugging is on.

    ``--debug`` counts anywhere before a ``--`` (before or after the subcommand), so it is taken out
    here rather than left to click, which only knows it as an option of the top-level group.
    ``$LAKEML_DEBUG`` set to 1/true/yes turns it on too.
    """
    end = argv.index("--") if "--" in argv else len(argv)
    rest = [a for a in argv[:end] if a != DEBUG_FLAG] + argv[end:]
    env = os.environ.get(DEBUG_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")
    return rest, env or len(rest) != len(argv)


def main(argv: list[str] | None = None) -> Any:
    """Entry point: LakeMLError → one line on stderr, exit 1; usage errors exit 2.

    Engine errors (Polars, Arrow, ONNX Runtime, storage) raised while a command collects or writes
    its results are translated by :func:`lakeml.boundary.translate` and printed the same way. Any
    other exception is a lakeml bug: it is also printed as one redacted line (a raw traceback could
    quote a URI with a SAS token), exit 1. ``--debug`` (anywhere) or ``LAKEML_DEBUG=1`` shows tracebacks.
    """
    if argv is None:  # the console script: this process is the command, so a budget counts from its start
        from lakeml.ml.automl.budget import mark_process_is_command

        mark_process_is_command()
    args, debug = split_debug(list(argv if argv is not None else sys.argv[1:]))
    if debug:
        args = [DEBUG_FLAG, *args]
    try:
        return cli.main(args=args, prog_name="lakeml", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except LakeMLError as exc:
        if debug:
            raise
        click.echo(f"error: {exc.one_line('cli')}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        wrapped = translate(exc)
        if wrapped is not None:
            click.echo(f"error: {wrapped.one_line('cli')}", err=True)
            sys.exit(1)
        first = redact_text(" ".join(str(exc).split())[:300]) or type(exc).__name__
        click.echo(f"error: unexpected {type(exc).__name__}: {first} Hint: this is a lakeml bug; rerun with "
                   "--debug for the traceback and report it.", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
