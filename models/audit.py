"""The audit trail: one append-only table, every row chained to the previous one by an HMAC."""

from __future__ import annotations

from peewee import BigAutoField, CharField, DateTimeField, IntegerField, TextField

from models.base import BaseModel, CodeField, utcnow

OUTCOMES = (("allowed", "許可"), ("denied", "拒否"), ("failed", "失敗"))


class AuditEntry(BaseModel):
    """Who did what to which records, when, from which session, and whether it was allowed.

    Never holds a My Number or a clear search term. UPDATE and DELETE are refused by triggers; the
    hmac column chains each row to the previous one with a key kept outside the database.
    """

    id = BigAutoField()
    at = DateTimeField(default=utcnow, index=True, verbose_name="日時(UTC)")
    actor_id = IntegerField(null=True, index=True, verbose_name="利用者ID")  # no FK: the trail outlives rows
    actor_login = CharField(max_length=64, null=True, verbose_name="ユーザID")
    actor_role = CharField(max_length=20, null=True, verbose_name="役割")
    office_id = IntegerField(null=True, verbose_name="事務所ID")
    session_ref = CharField(max_length=16, null=True, verbose_name="セッション参照")
    action = CharField(max_length=60, index=True, verbose_name="操作")
    target_table = CharField(max_length=40, null=True, verbose_name="対象")
    target_ids = TextField(null=True, verbose_name="対象ID")  # JSON list
    fields = TextField(null=True, verbose_name="項目")  # JSON list of field names
    changes = TextField(null=True, verbose_name="変更内容")  # JSON {field: [before, after]}, non-C3 only
    purpose = CharField(max_length=40, null=True, verbose_name="利用目的")
    outcome = CodeField(OUTCOMES, default="allowed", verbose_name="結果")
    reason = CharField(max_length=200, null=True, verbose_name="理由")
    ip = CharField(max_length=45, null=True, verbose_name="接続元")
    prev_hmac = CharField(max_length=64, verbose_name="前の行のHMAC")
    hmac = CharField(max_length=64, unique=True, verbose_name="HMAC")

    class Meta:
        # Per-user reports and the read budget look up one actor's recent entries.
        indexes = ((("actor_id", "at"), False),)
