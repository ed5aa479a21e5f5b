"""Every command and every option of the CLI explains itself in ``--help``."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from lakeml.cli.main import cli


def _commands(group: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    if isinstance(group, click.Group):
        for name, command in sorted(group.commands.items()):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "lakeml" for p, _ in COMMANDS])
def test_every_command_and_option_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert (command.help or "").strip(), f"'lakeml {' '.join(path)}' has no help text"
    thin = [p.opts[0] for p in command.params
            if isinstance(p, click.Option) and len((p.help or "").split()) < 3 and p.name not in ("help",)]
    assert not thin, f"'lakeml {' '.join(path)}': options without real help text: {thin}"
    choices = [p for p in command.params if isinstance(p, click.Option) and isinstance(p.type, click.Choice)]
    for option in choices:  # each choice is explained, not only listed
        words = (option.help or "").lower()
        assert all(str(c).lower() in words for c in option.type.choices) or len(option.type.choices) > 4, \
            f"'lakeml {' '.join(path)} {option.opts[0]}' does not say what each choice does"
    for argument in (p for p in command.params if isinstance(p, click.Argument)):
        assert argument.human_readable_name in (command.help or ""), \
            f"'lakeml {' '.join(path)}' help does not say what {argument.human_readable_name} is"
    out = CliRunner().invoke(cli, [*path, "--help"])
    assert out.exit_code == 0 and "Usage:" in out.output
