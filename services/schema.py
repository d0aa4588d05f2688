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


# Indexes of the initial schema that only one engine needs. PostgreSQL's LIKE 'prefix%' uses a b-tree
# index only with the pattern operator class when the collation is not C; SQLite's GLOB uses the plain one.
INITIAL_EXTRAS = {
    "postgresql": [
        'CREATE INDEX "person_kana_key_pattern" ON "person" ("kana_key" text_pattern_ops)',
        'CREATE INDEX "estate_name_kana_pattern" ON "estate" ("name_kana" text_pattern_ops)',
    ],
    "sqlite": [],
}
EXTRA_INDEX_NAMES = {"person_kana_key_pattern", "estate_name_kana_pattern", "audit_entry_single_target"}


def engine_name(database) -> str:
    """'sqlite' or 'postgresql'."""
    from peewee import PostgresqlDatabase, SqliteDatabase

    if isinstance(database, SqliteDatabase):
        return "sqlite"
    if isinstance(database, PostgresqlDatabase):
        return "postgresql"
    raise ValueError(f"unsupported database {type(database).__name__}")


def model_ddl(database, models, extras=None) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements for models, as this engine would run them.

    Used once to freeze a migration's DDL into migrations/sql/; a frozen file never changes afterwards.
    """
    statements = []
    originals = {model: model._meta.database for model in models}
    try:
        for model in models:
            model._meta.set_database(database)
        for model in models:
            for node in [model._schema._create_table(safe=False), *model._schema._create_indexes(safe=False)]:
                sql, params = database.get_sql_context().sql(node).query()
                if params:
                    raise ValueError(f"DDL for {model.__name__} has parameters; write the clause with SQL(…)")
                statements.append(sql)
    finally:
        for model, original in originals.items():
            model._meta.set_database(original)
    return statements + list((extras or {}).get(engine_name(database), []))


def freeze(name: str, models, extras=None) -> list[Path]:
    """Write migrations/sql/<name>.<engine>.sql for both engines (development tool)."""
    from peewee import PostgresqlDatabase, SqliteDatabase

    out = MIGRATIONS / "sql"
    out.mkdir(exist_ok=True)
    written = []
    for database in (SqliteDatabase(":memory:"), PostgresqlDatabase("frozen")):
        path = out / f"{name}.{engine_name(database)}.sql"
        path.write_text(";\n".join(model_ddl(database, models, extras)) + ";\n", encoding="utf-8")
        written.append(path)
    return written


def run_sql_file(database, name: str) -> None:
    """Execute a frozen DDL file for this engine, statement by statement (inside the migration's transaction)."""
    path = MIGRATIONS / "sql" / f"{name}.{engine_name(database)}.sql"
    for statement in path.read_text(encoding="utf-8").split(";\n"):
        if statement.strip():
            database.execute_sql(statement)
