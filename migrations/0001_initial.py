"""The whole data model: tables, constraints and indexes, frozen as DDL per engine in migrations/sql/."""

from services.schema import run_sql_file


def up(migrator, db):
    run_sql_file(db, "0001_initial")
