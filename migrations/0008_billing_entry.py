"""Day-to-day billing records: the next step of an arrears contact, and a note on a payment.

An arrears contact (督促, 催告, 電話, 訪問, 納付相談 …) names the day of its next step (次回対応予定日), so
the follow-ups can be listed; a payment carries a note (備考): the reason a wrong payment was reversed
(取消) or what the counter recorded with it. Same DDL on SQLite and PostgreSQL.
"""


def up(migrator, db):
    db.execute_sql('ALTER TABLE "arrears_action" ADD COLUMN "next_action_date" DATE')
    db.execute_sql('ALTER TABLE "payment" ADD COLUMN "note" TEXT')
