"""`flask audit …`: verify the HMAC chain of the audit trail and export its head for anchoring.

Exit codes of `verify`: 0 the trail is intact, 1 tampering detected, 2 it could not be checked
(no key, database unreachable, unreadable head file).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from extensions import db

audit_cli = AppGroup("audit", help="監査証跡 (audit trail): HMAC chain verification and head export.")


def _load_head(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.UsageError(f"--head: cannot read {path}: {exc}") from None


@audit_cli.command("verify")
@click.option(
    "--head",
    "head_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON written earlier by `flask audit head`: also detects a truncated tail.",
)
def audit_verify(head_file):
    """Recompute the HMAC chain; name the first modified, deleted, reordered or missing entry."""
    from services import audit

    anchor = _load_head(head_file) if head_file else None
    try:
        audit.parse_head(anchor)
    except ValueError as exc:
        raise click.UsageError(f"--head: {exc}") from None
    try:
        with db.connection_context():
            result = audit.verify(anchor)
    except audit.AuditFailure as exc:
        click.echo(f"検証できません / cannot verify: {exc}", err=True)
        sys.exit(2)
    if not result.ok:
        click.echo(result.message(), err=True)
        sys.exit(1)
    click.echo(result.message())
    if anchor is not None:
        click.echo(f"head: id {anchor['id']} matches the anchor（アンカーと一致）")


@audit_cli.command("head")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the head to this file instead of printing it.",
)
def audit_head(output):
    """The last entry's id, hmac and time as JSON, to keep outside the system (daily)."""
    from services import audit

    try:
        with db.connection_context():
            current = audit.head()
    except audit.AuditFailure as exc:
        click.echo(f"読み出せません / cannot read the trail: {exc}", err=True)
        sys.exit(2)
    text = json.dumps(current, ensure_ascii=False, sort_keys=True)
    if output is None:
        click.echo(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    click.echo(f"head id {current['id']} written to {output}", err=True)
