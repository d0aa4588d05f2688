"""Admin commands (`flask …`): the city runs its administrative tasks from the command line."""

from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
