"""Admin commands (`flask …`): the city runs its administrative tasks from the command line.

Every command honours DATABASE_URL. Commands are thin: they parse arguments and call services/.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from blueprints.audit.commands import audit_cli
from blueprints.auth.commands import users_cli
from blueprints.staff.billing_commands import billing_cli
from blueprints.staff.certifications_commands import evictions_cli
from blueprints.staff.jobs_commands import jobs_cli, notices_cli
from blueprints.staff.rent_commands import rent_cli
from extensions import db

db_cli = AppGroup("db", help="データベースのスキーマ (migrations).")
seed_cli = AppGroup("seed", help="デモデータ.")
keys_cli = AppGroup("keys", help="個人番号の暗号鍵 (vault keys).")


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


@seed_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Seed only when there are no estates (what `make run` uses).")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The demo's today (default: today in Japan); charges, 車検 and arrears are dated from it.",
)
def seed_demo(if_empty, as_of):
    """Build the demo city (about 20 estates, 600 households); does nothing when it is already there."""
    from flask import current_app

    from services import demo
    from services.vault import keyring_for

    keyring = keyring_for(current_app.config)
    with db.connection_context():
        result = demo.seed_demo(keyring, if_empty=if_empty, as_of=as_of.date() if as_of else None)
    click.echo(result.message())
    if not result.ok:
        sys.exit(1)


@keys_cli.command("new")
def keys_new():
    """Create a new data key; it encrypts from now on (run `flask keys rotate` to re-encrypt)."""
    from flask import current_app

    from services import vault

    key_dir = current_app.config["KEY_DIR"]
    key_id = vault.create_data_key(Path(key_dir))
    vault.clear_cache()
    click.echo(f"新しい鍵 {key_id} を作成しました / created data key {key_id} in {key_dir}")


@keys_cli.command("rotate")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
def keys_rotate(batch_size):
    """Re-encrypt every My Number (stored or held for a pending change) not under the newest key
    (idempotent, resumable)."""
    from flask import current_app
    from tqdm import tqdm

    from services import mynumber, vault

    keyring = vault.keyring_for(current_app.config)
    with db.connection_context():
        pending = mynumber.to_rotate(keyring)  # the vault's numbers and those held for pending changes
        with tqdm(total=pending, unit="件", disable=pending == 0) as bar:
            done = mynumber.rotate(keyring, batch_size=batch_size, progress=bar.update)
    click.echo(f"{done} 件を鍵 {keyring.active_key_id} で再暗号化しました / re-encrypted {done} values")


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    app.cli.add_command(db_cli)
    app.cli.add_command(seed_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(keys_cli)
    app.cli.add_command(billing_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(notices_cli)
    app.cli.add_command(rent_cli)
    app.cli.add_command(evictions_cli)
