"""The 公社 portal's changes waiting for the city's approval (maker-checker).

- ``pending_change.target_version``: the version of the record the agent changed, as it was when the
  change was submitted. Approval applies the change only if the record is still at that version;
  otherwise the reviewer sees that it changed meanwhile and returns the change.
- ``pending_my_number`` (frozen DDL): a My Number typed on the portal, held encrypted until the change
  that carries it is approved (then stored in personal_number and deleted here) or withdrawn.
"""

from peewee import IntegerField

from services.schema import run_sql_file


def up(migrator, db):
    migrator.migrate(migrator.add_column("pending_change", "target_version", IntegerField(null=True)))
    run_sql_file(db, "0013_pending_my_number")
