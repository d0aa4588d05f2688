"""支援措置 (DV/stalking support): which staff are assigned to a protected household."""

from services.schema import run_sql_file


def up(migrator, db):
    run_sql_file(db, "0004_support_assignment")
