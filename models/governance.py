"""Keeping the assessment's promises: training, incidents, and records of deletion."""

from __future__ import annotations

from peewee import (
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from models.base import CodeField, EditableModel, TimestampedModel
from models.security import User

COURSES = (
    ("annual", "特定個人情報の適正な取扱いに関する研修(年次)"),
    ("officer", "保護責任者向け安全管理措置研修"),
    ("security", "情報セキュリティ研修"),
)
SEVERITIES = (("low", "軽微"), ("medium", "中"), ("high", "重大"))
INCIDENT_STATUSES = (("open", "対応中"), ("contained", "封じ込め済"), ("closed", "完了"))
DELETION_KINDS = (
    ("my_number", "個人番号の削除"),
    ("household_file", "世帯記録の削除(保存期間満了)"),
    ("audit_trail", "監査記録の削除(保存期間満了)"),
)


class TrainingRecord(EditableModel):
    """A user's completion of a training course in a fiscal year."""

    user = ForeignKeyField(User, backref="training_records", on_delete="RESTRICT", verbose_name="受講者")
    fiscal_year = SmallIntegerField(verbose_name="年度")
    course = CodeField(COURSES, verbose_name="研修")
    completed_on = DateField(verbose_name="受講日")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        indexes = ((("user", "fiscal_year", "course"), True),)


class Incident(EditableModel):
    """An incident (事故) register entry, escalated to the officer at once."""

    occurred_on = DateField(null=True, verbose_name="発生日")
    discovered_at = DateTimeField(verbose_name="発覚日時")
    reported_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="報告者")
    summary = CharField(max_length=200, verbose_name="概要")
    detail = TextField(null=True, verbose_name="内容")
    severity = CodeField(SEVERITIES, default="medium", verbose_name="重大度")
    escalated_to = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="報告先")
    escalated_at = DateTimeField(null=True, verbose_name="報告日時")
    status = CodeField(INCIDENT_STATUSES, default="open", verbose_name="状態")
    measures = TextField(null=True, verbose_name="再発防止策")
    closed_on = DateField(null=True, verbose_name="完了日")


class DeletionRecord(TimestampedModel):
    """A record that personal data was deleted (what, whose record id, why, by whom); not the data itself."""

    kind = CodeField(DELETION_KINDS, verbose_name="種別")
    subject_table = CharField(max_length=40, verbose_name="対象")
    subject_id = IntegerField(verbose_name="対象ID")
    reason = CharField(max_length=200, verbose_name="理由")
    deleted_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="実行者")
