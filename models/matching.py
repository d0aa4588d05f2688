"""Imports of extracts from other city systems and the findings of matching (突合) them with the file."""

from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from models.base import CodeField, EditableModel, TimestampedModel
from models.person import Person
from models.security import User
from models.tenancy import Household

SOURCES = (
    ("resident_registry", "住民基本台帳"),
    ("tax", "市民税"),
    ("welfare", "生活保護"),
)
BATCH_STATES = (("imported", "取込済"), ("matched", "突合済"), ("failed", "失敗"))
FINDING_KINDS = (
    ("member_not_registered", "世帯員が住民登録されていない"),
    ("unregistered_resident", "無断同居の疑い"),
    ("head_deceased", "名義人の死亡"),
    ("member_deceased", "世帯員の死亡"),
    ("income_mismatch", "申告と課税情報の相違"),
    ("welfare_started", "生活保護の開始"),
    ("welfare_ended", "生活保護の廃止"),
    ("other", "その他"),
)
FINDING_STATUSES = (("open", "未処理"), ("resolved", "処理済"), ("dismissed", "対応不要"))


class ImportBatch(TimestampedModel):
    """One extract file imported (idempotent by its hash); rejected rows are reported with their reason."""

    source = CodeField(SOURCES, verbose_name="連携元")
    file_name = CharField(max_length=200, verbose_name="ファイル名")
    file_sha256 = CharField(max_length=64, verbose_name="ファイルハッシュ")
    encoding = CharField(max_length=16, verbose_name="文字コード")
    state = CodeField(BATCH_STATES, default="imported", verbose_name="状態")
    rows_total = IntegerField(default=0, verbose_name="件数")
    rows_rejected = IntegerField(default=0, verbose_name="エラー件数")
    report = TextField(null=True, verbose_name="エラー一覧")  # row numbers and reasons, no personal data
    imported_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="取込者")

    class Meta:
        indexes = ((("source", "file_sha256"), True),)


class MatchFinding(EditableModel):
    """Something the matching found that staff must look at, resolved with a note."""

    batch = ForeignKeyField(ImportBatch, backref="findings", on_delete="RESTRICT", verbose_name="取込")
    kind = CodeField(FINDING_KINDS, verbose_name="種別")
    household = ForeignKeyField(
        Household, null=True, backref="findings", on_delete="RESTRICT", verbose_name="世帯"
    )
    person = ForeignKeyField(
        Person, null=True, backref="findings", on_delete="RESTRICT", verbose_name="世帯員"
    )
    detail = TextField(null=True, verbose_name="内容")  # never a My Number
    status = CodeField(FINDING_STATUSES, default="open", verbose_name="状態")
    resolved_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="処理者")
    resolved_at = DateTimeField(null=True, verbose_name="処理日時")
    resolution_note = TextField(null=True, verbose_name="処理内容")

    class Meta:
        indexes = ((("status", "kind"), False),)
