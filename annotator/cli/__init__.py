"""The `annotator` command. With no subcommand it opens the GUI; subcommands serve leads and
pipelines. Each command group lives in its own module and is registered below."""

from __future__ import annotations

import sys

import click

from annotator import __version__
from annotator.cli.context import AppContext, CliError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class _LazyGroup(click.Group):
    """Loads the subcommand modules (and with them SQLAlchemy and rich) only when a subcommand or
    the help is asked for: opening the GUI must not pay for them before the first paint."""

    _loaded = False

    def _load(self) -> None:
        if not self._loaded:
            from annotator.cli import commands

            for command in commands.COMMANDS:
                self.add_command(command)
            self._loaded = True

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, invoke_without_command=True, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--db",
    "db_url",
    envvar="ANNOTATOR_DB",
    metavar="URL",
    help="Any SQLAlchemy URL (default: the SQLite file in the data directory). Env: ANNOTATOR_DB.",
)
@click.option(
    "--home",
    envvar="ANNOTATOR_HOME",
    metavar="DIR",
    type=click.Path(file_okay=False),
    help="Keep data, settings and logs in DIR instead of the user directories. Env: ANNOTATOR_HOME.",
)
@click.option(
    "--demo", is_flag=True, help="Open the GUI with the demo project (created on first use)."
)
@click.version_option(__version__, "-V", "--version", prog_name="annotator")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None, home: str | None, demo: bool) -> None:
    """Trace Annotator: label LLM reasoning traces as legitimate use or suspected distillation.

    Run without a command to open the desktop app."""
    ctx.obj = AppContext(db_url=db_url, home=home)
    if ctx.invoked_subcommand is None:
        from annotator.gui.app import run_gui

        sys.exit(run_gui(ctx.obj, demo=demo))


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="annotator", standalone_mode=True)
    except CliError as exc:  # raised outside click's own handling
        click.echo(f"annotator: error: {exc}", err=True)
        sys.exit(exc.exit_code)


def gui_main() -> None:
    """Entry point of the desktop launcher: the GUI only."""
    main([])
