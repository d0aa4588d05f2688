"""`flask rent …`: the rent engine from the command line (a quote for a household, the yearly run).

The commands live beside the screens that do the same work and are attached to this group here.
"""

from __future__ import annotations

from flask.cli import AppGroup

from blueprints.staff.rent_quote import quote_command
from blueprints.staff.rent_run_commands import run_command

rent_cli = AppGroup("rent", help="家賃 (rent): quotes and the yearly rent run.")
rent_cli.add_command(run_command)
rent_cli.add_command(quote_command)
