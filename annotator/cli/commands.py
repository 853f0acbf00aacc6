"""The list of subcommands; each lives in its own module."""

from __future__ import annotations

import click

from annotator.cli.db_cmds import db_group
from annotator.cli.detect_cmds import DETECT_COMMANDS
from annotator.cli.export_cmd import export_cmd
from annotator.cli.import_cmd import import_cmd
from annotator.cli.lead_cmds import LEAD_COMMANDS
from annotator.cli.project_cmds import init_cmd, projects_cmd, stats_cmd

COMMANDS: list[click.Command] = []
COMMANDS += [init_cmd, projects_cmd, stats_cmd, import_cmd, db_group]
COMMANDS += [export_cmd]
COMMANDS += LEAD_COMMANDS
COMMANDS += DETECT_COMMANDS
