"""減免・徴収猶予 in the charges: a renewal names the reduction it continues, and a postponed charge keeps
its original 納期限.

- rent_reduction.renews_id: a request for the period after a granted reduction (更新) refers to it; the
  officer decides the renewal again (it starts 申請中 like any request).
- charge.original_due_date: 徴収猶予 does not reduce a charge but moves its 納期限 (due_date) to the end
  of the postponement; the 納期限 it had before is kept here (None when never postponed), so the
  overdue lists, the 督促 and the arrears count follow the postponed date while the screen can show both.
"""

from peewee import DateField, ForeignKeyField, Model


class _RentReduction(Model):
    """A frozen stand-in for the rent_reduction table (the migration never depends on today's models)."""

    class Meta:
        table_name = "rent_reduction"


def up(migrator, db):
    migrator.migrate(
        migrator.add_column(
            "rent_reduction",
            "renews_id",
            ForeignKeyField(_RentReduction, null=True, field=_RentReduction.id, on_delete="RESTRICT"),
        ),
        migrator.add_column("charge", "original_due_date", DateField(null=True)),
    )
