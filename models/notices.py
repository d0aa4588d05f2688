"""Notices (帳票) issued: each run produces one PDF; each notice is logged (who, what, for whom)."""

from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, IntegerField, SmallIntegerField

from models.base import CodeField, TimestampedModel
from models.jobs import Job
from models.person import Person
from models.security import User
from models.tenancy import Household

NOTICE_KINDS = (
    ("income_declaration", "収入申告書"),
    ("declaration_reminder", "収入申告督促状"),
    ("rent_decision", "家賃決定通知書"),
    ("over_income", "収入超過者認定通知書"),
    ("high_income", "高額所得者認定通知書"),
    ("eviction", "明渡請求書"),
    ("demand", "督促状"),
    ("urge", "催告書"),
    ("transfer_failure", "口座振替不能のお知らせ"),
    ("disclosure_decision", "開示決定通知書"),
)


class NoticeRun(TimestampedModel):
    """One batch of notices printed together (one PDF file, a page per household)."""

    kind = CodeField(NOTICE_KINDS, verbose_name="帳票")
    fiscal_year = SmallIntegerField(null=True, verbose_name="年度")
    created_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="作成者")
    pages = IntegerField(default=0, verbose_name="枚数")
    file_sha256 = CharField(max_length=64, null=True, verbose_name="ファイルハッシュ")
    # migration 0010: the job that issued the run (a resumed job finds it), and when its file was
    # deleted at the end of its retention (the Notice rows stay).
    job = ForeignKeyField(Job, null=True, backref="+", on_delete="SET NULL", verbose_name="一括処理")
    file_removed_at = DateTimeField(null=True, verbose_name="ファイル削除日時")


class Notice(TimestampedModel):
    """A notice issued to a household (or a person), with the record it is about."""

    run = ForeignKeyField(
        NoticeRun, null=True, backref="notices", on_delete="RESTRICT", verbose_name="発行単位"
    )
    kind = CodeField(NOTICE_KINDS, verbose_name="帳票")
    household = ForeignKeyField(
        Household, null=True, backref="notices", on_delete="RESTRICT", verbose_name="世帯"
    )
    person = ForeignKeyField(Person, null=True, backref="notices", on_delete="RESTRICT", verbose_name="宛先")
    fiscal_year = SmallIntegerField(null=True, verbose_name="年度")
    document_no = CharField(max_length=30, unique=True, verbose_name="文書番号")
    issued_on = DateField(verbose_name="発行日")
    issued_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="発行者")
    subject_table = CharField(max_length=40, null=True, verbose_name="根拠の記録")
    subject_id = IntegerField(null=True, verbose_name="根拠の記録ID")
    page = IntegerField(null=True, verbose_name="ページ")  # migration 0010: its first page in the run's PDF

    class Meta:
        indexes = ((("household", "kind"), False),)
