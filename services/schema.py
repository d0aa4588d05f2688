"""Schema migrations: versioned files in migrations/, applied in order by `flask db upgrade`."""

from __future__ import annotations

from pathlib import Path

from playhouse.migrations import Runner

from extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def runner() -> Runner:
    """The peewee migration runner on the current database (history in schema_migration)."""
    return Runner(db.obj, directory=str(MIGRATIONS), table_name="schema_migration")


def upgrade(target: str | None = None) -> list[str]:
    """Apply pending migrations (each in its own transaction); returns the names applied."""
    return runner().up(target)


def status() -> list[tuple[str, object]]:
    """(name, applied-at or None) for every migration, in order."""
    return [(m.name, m.applied) for m in runner().status()]


def pending() -> list[str]:
    """Names of migrations not yet applied."""
    return [name for name, applied in status() if not applied]
