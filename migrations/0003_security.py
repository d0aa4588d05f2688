"""Authentication (authenticators, challenges, enrollment links, recovery, sessions) and the audit trail.

The audit trail is append-only: triggers refuse UPDATE and DELETE on both engines.
"""

from services.schema import engine_name, run_sql_file

SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END",
]

POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END; $$",
    "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
]


def up(migrator, db):
    run_sql_file(db, "0003_security")
    for statement in SQLITE_TRIGGERS if engine_name(db) == "sqlite" else POSTGRES_TRIGGERS:
        db.execute_sql(statement)
