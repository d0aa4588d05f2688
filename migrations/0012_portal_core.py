"""The 公社 portal's records: one move-in and one move-out record per tenancy; the city's list of
applications waiting for a decision.

- ``move_procedure (tenancy_id, kind)`` unique: a second record of the same kind for a tenancy is
  refused by the database (the portal then edits the first), never decided by a check-then-insert.
- ``household_application (state, office_id)``: the staff list of applications 承認待ち, and each
  office's open items on the portal home.

Same DDL on SQLite and PostgreSQL.
"""


def up(migrator, db):
    db.execute_sql(
        'CREATE UNIQUE INDEX "move_procedure_tenancy_id_kind" ON "move_procedure" ("tenancy_id", "kind")'
    )
    db.execute_sql(
        'CREATE INDEX "household_application_state_office_id" '
        'ON "household_application" ("state", "office_id")'
    )
