"""Background jobs (一括処理): long runs (notices for every household, the yearly rent run) kept as rows.

A row is the job's whole state: what to run (kind and params), where it stands (state, done/total,
message), what it produced (a record named by table and id, e.g. a notice_run) and, for a failed job,
the message shown to staff. The runner (services.jobs) claims rows with one conditional UPDATE, so
any number of workers (the web process's thread, `flask jobs work`) share the table safely.
"""

from __future__ import annotations

from peewee import SQL, CharField, DateTimeField, ForeignKeyField, IntegerField, SmallIntegerField, TextField

from models.base import CodeField, TimestampedModel
from models.security import User

JOB_STATES = (
    ("queued", "待機中"),
    ("running", "実行中"),
    ("done", "完了"),
    ("failed", "失敗"),
)


class Job(TimestampedModel):
    """One background job. params and message never hold personal data (ids and figures only)."""

    kind = CharField(max_length=40, verbose_name="処理")
    params = TextField(default="{}", verbose_name="条件")  # JSON object
    state = CodeField(JOB_STATES, default="queued", verbose_name="状態")
    done = IntegerField(default=0, verbose_name="処理済み件数")
    total = IntegerField(default=0, verbose_name="件数")
    message = CharField(max_length=200, null=True, verbose_name="経過")
    error = CharField(max_length=200, null=True, verbose_name="失敗の理由")
    result_table = CharField(max_length=40, null=True, verbose_name="結果の記録")
    result_id = IntegerField(null=True, verbose_name="結果の記録ID")
    attempts = SmallIntegerField(default=0, verbose_name="実行回数")
    created_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="依頼者")
    started_at = DateTimeField(null=True, verbose_name="開始日時")
    finished_at = DateTimeField(null=True, verbose_name="終了日時")
    heartbeat_at = DateTimeField(null=True, verbose_name="最終応答日時")

    class Meta:
        indexes = ((("state", "id"), False),)
        constraints = [SQL("CHECK (done >= 0 AND total >= 0)")]
