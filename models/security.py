"""People who use the system: accounts with their role, and the 公社 offices contractors belong to."""

from __future__ import annotations

from peewee import (
    SQL,
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    TextField,
)

from models.base import BaseModel, CodeField, EditableModel, TimestampedModel, utcnow

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


CHALLENGE_PURPOSES = (("register", "登録"), ("login", "ログイン"), ("step_up", "再認証"))
RECOVERY_STATES = (
    ("pending", "承認待ち"),
    ("approved", "承認済"),
    ("used", "使用済"),
    ("cancelled", "取消"),
)


class Credential(TimestampedModel):
    """A WebAuthn authenticator registered to a user (two per person: one is the spare)."""

    user = ForeignKeyField(User, backref="credentials", on_delete="RESTRICT", verbose_name="利用者")
    credential_id = CharField(max_length=1400, unique=True, verbose_name="認証器ID")  # base64url
    public_key = BlobField(verbose_name="公開鍵")
    sign_count = BigIntegerField(default=0, verbose_name="署名カウンタ")
    transports = CharField(max_length=200, null=True, verbose_name="通信方式")
    aaguid = CharField(max_length=36, null=True, verbose_name="AAGUID")
    device_type = CharField(max_length=20, null=True, verbose_name="種別")
    backed_up = BooleanField(default=False, verbose_name="同期済")
    nickname = CharField(max_length=60, verbose_name="名前")
    last_used_at = DateTimeField(null=True, verbose_name="最終使用日時")
    revoked_at = DateTimeField(null=True, verbose_name="削除日時")


class WebAuthnChallenge(BaseModel):
    """A ceremony challenge kept server-side: single use (deleted before verification), 5-minute life."""

    challenge_hash = CharField(max_length=64, unique=True, verbose_name="チャレンジ(ハッシュ)")
    purpose = CodeField(CHALLENGE_PURPOSES, verbose_name="用途")
    user = ForeignKeyField(User, null=True, backref="+", on_delete="CASCADE", verbose_name="利用者")
    created_at = DateTimeField(default=utcnow, verbose_name="作成日時")
    expires_at = DateTimeField(index=True, verbose_name="有効期限")

    class Meta:
        table_name = "webauthn_challenge"


class EnrollmentLink(TimestampedModel):
    """A one-time link to register a first authenticator: stored hashed, single use, expires in 24 hours."""

    user = ForeignKeyField(User, backref="enrollment_links", on_delete="RESTRICT", verbose_name="利用者")
    token_hash = CharField(max_length=64, unique=True, verbose_name="トークン(ハッシュ)")
    expires_at = DateTimeField(verbose_name="有効期限")
    used_at = DateTimeField(null=True, verbose_name="使用日時")
    revoked_at = DateTimeField(null=True, verbose_name="無効化日時")
    issued_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="発行者")


class RecoveryRequest(EditableModel):
    """Dual control for a person who lost every authenticator: two officers approve a new link."""

    user = ForeignKeyField(User, backref="recovery_requests", on_delete="RESTRICT", verbose_name="対象者")
    requested_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="申請受付者")
    identity_check = TextField(verbose_name="本人確認の方法")
    first_approver = ForeignKeyField(
        User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者1"
    )
    second_approver = ForeignKeyField(
        User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者2"
    )
    state = CodeField(RECOVERY_STATES, default="pending", verbose_name="状態")
    link = ForeignKeyField(
        EnrollmentLink, null=True, backref="+", on_delete="RESTRICT", verbose_name="登録リンク"
    )

    class Meta:
        constraints = [
            SQL(
                "CHECK (first_approver_id IS NULL OR second_approver_id IS NULL OR first_approver_id <> second_approver_id)"
            ),
            SQL("CHECK (first_approver_id IS NULL OR first_approver_id <> user_id)"),
            SQL("CHECK (second_approver_id IS NULL OR second_approver_id <> user_id)"),
        ]


class UserSession(BaseModel):
    """A server-side session: the cookie carries a random token, the row its hash. Checked on every request."""

    token_hash = CharField(max_length=64, unique=True, verbose_name="セッション(ハッシュ)")
    user = ForeignKeyField(User, backref="sessions", on_delete="RESTRICT", verbose_name="利用者")
    credential = ForeignKeyField(
        Credential, null=True, backref="sessions", on_delete="RESTRICT", verbose_name="認証器"
    )
    created_at = DateTimeField(default=utcnow, verbose_name="開始日時")
    last_seen_at = DateTimeField(default=utcnow, verbose_name="最終操作日時")
    expires_at = DateTimeField(verbose_name="絶対期限")
    stepped_up_at = DateTimeField(null=True, verbose_name="再認証日時")
    revoked_at = DateTimeField(null=True, verbose_name="終了日時")
    revoked_reason = CharField(max_length=40, null=True, verbose_name="終了理由")
    user_agent = CharField(max_length=200, null=True, verbose_name="ブラウザ")

    class Meta:
        indexes = ((("user", "revoked_at"), False),)
