"""退去時の精算: the repair cost charged at move-out and the deposit's outcome, on the tenancy.

The deposit (敷金) and the day it was settled were already there; the move-out now records what the
household pays for repairs, what is refunded and what it still owes after the deposit, so the refund
and the remaining claim can be acted on (and read back) without parsing the event's text.
"""

COLUMNS = ("repair_cost", "deposit_refund", "settlement_due")


def up(migrator, db):
    for column in COLUMNS:
        # Whole yen, never negative (models.base.YenField); same DDL on SQLite and PostgreSQL.
        db.execute_sql(f'ALTER TABLE "tenancy" ADD COLUMN "{column}" INTEGER CHECK ("{column}" >= 0)')
