"""Parking: an officer's approval of a household's additional space (駐車場の2区画目).

A household uses one parking space. A second active contract needs an officer's approval, recorded on
that contract (who approved, and why). The rule is checked by services/parking.py under a lock on the
household, not by an index: households that already hold two spaces keep them.
"""

from peewee import CharField, ForeignKeyField, Model


class _User(Model):
    """A frozen stand-in for the user table (the migration never depends on today's models)."""

    class Meta:
        table_name = "user"


def up(migrator, db):
    migrator.migrate(
        migrator.add_column(
            "parking_contract",
            "extra_space_approved_by_id",
            ForeignKeyField(_User, null=True, field=_User.id, on_delete="RESTRICT"),
        ),
        migrator.add_column("parking_contract", "extra_space_reason", CharField(max_length=200, null=True)),
    )
