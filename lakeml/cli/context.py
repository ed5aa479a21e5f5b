"""Shared CLI plumbing: the lake of the current command, and output helpers."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from lakeml.session import Lake


@dataclass
class CliState:
    """What the top-level options decided."""

    lake_uri: str
    debug: bool = False
    backend: str | None = None  # None: $LAKEML_BACKEND or the default engine (lakeml.config.default_backend)
    _lake: Lake | None = field(default=None, repr=False)

    def lake(self) -> Lake:
        """The lake, opened on first use."""
        if self._lake is None:
            from lakeml.session import connect

            self._lake = connect(self.lake_uri, backend=self.backend)
        return self._lake


def get_lake(ctx: click.Context) -> Lake:
    """The lake named by ``--lake`` / ``$LAKEML_LAKE`` / ``./lake``."""
    state = ctx.find_object(CliState)
    if state is None:  # a command invoked outside the group (tests)
        from lakeml.config import default_lake_uri

        state = CliState(default_lake_uri())
        ctx.obj = state
    return state.lake()


def console(*, stderr: bool = False) -> Any:
    """A rich console; plain output when not a terminal."""
    from rich.console import Console

    return Console(stderr=stderr, soft_wrap=True)


def progress_enabled() -> bool:
    """Progress bars only when stderr is a terminal."""
    return sys.stderr.isatty()
