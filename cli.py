"""Admin commands (`flask …`): the city runs its administrative tasks from the command line.

Every command honours DATABASE_URL. Commands are thin: they parse arguments and call services/.
"""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from extensions import db

db_cli = AppGroup("db", help="データベースのスキーマ (migrations).")
seed_cli = AppGroup("seed", help="デモデータ.")
users_cli = AppGroup("users", help="利用者アカウント.")


@db_cli.command("upgrade")
@click.option("--target", default=None, help="Stop after this migration.")
def db_upgrade(target):
    """Apply pending migrations."""
    from services import schema

    with db.connection_context():
        applied = schema.upgrade(target)
    for name in applied:
        click.echo(f"applied: {name}")
    if not applied:
        click.echo("schema is up to date.")


@db_cli.command("status")
def db_status():
    """List migrations and whether each is applied (exit 1 when any is pending)."""
    from services import schema

    with db.connection_context():
        rows = schema.status()
    for name, applied in rows:
        mark = "x" if applied else " "
        when = f"  {applied:%Y-%m-%d %H:%M:%S}" if applied else ""
        click.echo(f"[{mark}] {name}{when}")
    if any(applied is None for _, applied in rows):
        sys.exit(1)


@users_cli.command("demo-officer")
def users_demo_officer():
    """The demo officer's enrollment link (printed by `make run`)."""
    click.echo("ログイン機能(WebAuthn)はまだ組み込まれていません。画面は閲覧のみです。")
    click.echo("Login (WebAuthn) is not part of this build yet; the pages can be browsed without signing in.")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
