"""An index for the history of one record: audit entries about a single target (one household, one unit).

The household file reads the changes filed under the household (target_table 'household', target_ids
'[7]'). Entries naming many records (a search's results, a yearly run) can be long, so the index
holds only single-target entries: length(target_ids) < 32, a condition the query repeats so that
both engines use it. Same DDL on SQLite and PostgreSQL.
"""


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX "audit_entry_single_target" ON "audit_entry" ("target_table", "target_ids", "id") '
        'WHERE length("target_ids") < 32'
    )
