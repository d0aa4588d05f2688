"""Background jobs, and what the notice engine keeps about each run.

- ``job``: one row per background job (kind, params, state, progress, result, heartbeat), frozen DDL.
- ``notice_run.job_id``: the job that issued the run, so a job resumed after a crash finds the run it
  already issued instead of issuing (and numbering) the notices twice.
- ``notice_run.file_removed_at``: when the run's PDF was deleted at the end of its retention.
- ``notice.page``: the notice's first page in the run's PDF (to find one household's notice to reprint).
"""

from peewee import DateTimeField, ForeignKeyField, IntegerField, Model

from services.schema import run_sql_file


class _Job(Model):
    """A frozen stand-in for the job table (the migration never depends on today's models)."""

    class Meta:
        table_name = "job"


def up(migrator, db):
    run_sql_file(db, "0010_jobs")
    migrator.migrate(
        migrator.add_column(
            "notice_run",
            "job_id",
            ForeignKeyField(_Job, null=True, field=_Job.id, on_delete="SET NULL"),
        ),
        migrator.add_column("notice_run", "file_removed_at", DateTimeField(null=True)),
        migrator.add_column("notice", "page", IntegerField(null=True)),
    )
