"""Certification follow-up: the 明渡請求's approval, extension and damages, and rent decisions reviewed.

- ``eviction_request``: who prepared it and when an officer approved it (the request is issued only
  then), an extension asked for (date asked, the new deadline asked) and the officer who decided it,
  the 損害賠償金 claim charged after the deadline, and remarks on its course.
- ``rent_review`` (frozen DDL): a 意見申出 against a rent decision or a 更正 of a past year, with the
  officer's answer and the correction decision that replaced the old one.
"""

from peewee import DateField, DateTimeField, ForeignKeyField, Model, TextField

from services.schema import run_sql_file


class _User(Model):
    """A frozen stand-in for the user table (the migration never depends on today's models)."""

    class Meta:
        table_name = "user"


class _DamageClaim(Model):
    """A frozen stand-in for the damage_claim table."""

    class Meta:
        table_name = "damage_claim"


def up(migrator, db):
    run_sql_file(db, "0016_rent_review")
    migrator.migrate(
        migrator.add_column(
            "eviction_request",
            "prepared_by_id",
            ForeignKeyField(_User, null=True, field=_User.id, on_delete="RESTRICT"),
        ),
        migrator.add_column("eviction_request", "approved_at", DateTimeField(null=True)),
        migrator.add_column("eviction_request", "extension_requested_on", DateField(null=True)),
        migrator.add_column("eviction_request", "extension_requested_until", DateField(null=True)),
        migrator.add_column(
            "eviction_request",
            "extension_decided_by_id",
            ForeignKeyField(_User, null=True, field=_User.id, on_delete="RESTRICT"),
        ),
        migrator.add_column(
            "eviction_request",
            "damage_claim_id",
            ForeignKeyField(_DamageClaim, null=True, field=_DamageClaim.id, on_delete="RESTRICT"),
        ),
        migrator.add_column("eviction_request", "note", TextField(null=True)),
    )
