"""People who use the system: accounts with their role, and the 公社 offices contractors belong to."""

from __future__ import annotations

from peewee import BooleanField, CharField, DateField, DateTimeField, ForeignKeyField

from models.base import CodeField, EditableModel

ROLES = (
    ("staff", "担当職員"),
    ("officer", "保護責任者"),
    ("contractor", "公社職員"),
    ("auditor", "監査"),
    ("sysadmin", "運用保守"),
)


class Office(EditableModel):
    """An office (事務所) of the housing corporation 公社; it manages the estates of a set of wards."""

    code = CharField(max_length=16, unique=True, verbose_name="事務所コード")
    name = CharField(max_length=100, verbose_name="事務所名")
    postal_code = CharField(max_length=7, null=True, verbose_name="郵便番号")
    address = CharField(max_length=200, null=True, verbose_name="所在地")
    phone = CharField(max_length=15, null=True, verbose_name="電話番号")


class User(EditableModel):
    """A personal account (no shared IDs). A leaver is deactivated, never deleted: the audit trail names it."""

    login_id = CharField(max_length=64, unique=True, verbose_name="ユーザID")
    display_name = CharField(max_length=100, verbose_name="氏名")
    role = CodeField(ROLES, verbose_name="役割")
    office = ForeignKeyField(
        Office, null=True, backref="users", on_delete="RESTRICT", verbose_name="所属事務所"
    )
    active = BooleanField(default=True, verbose_name="有効")
    deactivated_at = DateTimeField(null=True, verbose_name="無効化日時")
    contract_end_date = DateField(null=True, verbose_name="契約終了日")
    last_login_at = DateTimeField(null=True, verbose_name="最終ログイン日時")
