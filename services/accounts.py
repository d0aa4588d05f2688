"""Accounts: creation with a one-time enrollment link, roles, deactivation, and dual-control recovery.

Run from the `flask users …` commands (the city's administrators) — there is no default account and
no self-service recovery. Every change is one transaction with its audit entry.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from peewee import IntegrityError

from extensions import db
from models.base import utcnow
from models.security import ROLES, Credential, EnrollmentLink, Office, RecoveryRequest, User
from services import auth, sessions
from services.auth import AccountError

ROLE_CODES = tuple(code for code, _ in ROLES)
LOGIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

DEMO_OFFICER_LOGIN = "demo-officer"
DEMO_OFFICER_NAME = "川崎 一郎"


def _record(action: str, ctx: dict | None, **fields) -> None:
    from services import audit

    merged = {"actor": None, "session_ref": None, "ip": None, **(ctx or {})}
    merged.update(fields)
    audit.record(action, **merged)


def clean_name(value: str) -> str:
    """A person's name as stored: NFKC, single spaces, no control characters, 1-100 characters."""
    text = unicodedata.normalize("NFKC", value or "")
    if _CONTROL.search(text):
        raise AccountError("氏名に制御文字は使えません。")
    text = " ".join(text.split())
    if not 1 <= len(text) <= 100:
        raise AccountError("氏名は1〜100文字で入力してください。")
    return text


def clean_login_id(value: str) -> str:
    """A login ID: 2-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit."""
    text = (value or "").strip()
    if not LOGIN_ID.fullmatch(text):
        raise AccountError("ユーザIDは英数字と . _ - の2〜64文字で、英数字で始めてください。")
    return text


def _role(value: str) -> str:
    if value not in ROLE_CODES:
        raise AccountError(f"役割は {', '.join(ROLE_CODES)} のいずれかです。")
    return value


def _office(code: str | None, role: str) -> Office | None:
    if role == "contractor":
        if not code:
            raise AccountError("公社職員には --office (事務所コード) が必要です。")
        office = Office.get_or_none(Office.code == code)
        if office is None:
            raise AccountError(f"事務所コード {code} が見つかりません。")
        return office
    if code:
        raise AccountError("事務所を指定できるのは公社職員 (contractor) だけです。")
    return None


def get_user(login_id: str) -> User:
    """The account with this login ID, or AccountError."""
    user = User.get_or_none(User.login_id == (login_id or "").strip())
    if user is None:
        raise AccountError(f"ユーザID {login_id} は登録されていません。")
    return user


def create_user(
    login_id: str,
    display_name: str,
    role: str,
    ctx: dict | None = None,
    *,
    office_code: str | None = None,
    contract_end: dt.date | None = None,
) -> tuple[User, str]:
    """Create an account and its first enrollment link; returns the user and the link's token."""
    login_id = clean_login_id(login_id)
    display_name = clean_name(display_name)
    role = _role(role)
    office = _office(office_code, role)
    try:
        with db.atomic():
            user = User.create(
                login_id=login_id,
                display_name=display_name,
                role=role,
                office=office,
                contract_end_date=contract_end,
            )
            _record(
                "account.created",
                ctx,
                target_table="user",
                target_ids=[user.id],
                changes={
                    "login_id": [None, login_id],
                    "role": [None, role],
                    "office": [None, office.code if office else None],
                    "contract_end_date": [None, contract_end.isoformat() if contract_end else None],
                },
            )
            _, token = auth.issue_link(user, ctx)
    except IntegrityError:
        raise AccountError(f"ユーザID {login_id} は既に使われています。") from None
    return user, token


def new_link(login_id: str, ctx: dict | None = None) -> tuple[User, str]:
    """A fresh enrollment link for an existing, active account (earlier unused links revoked)."""
    user = get_user(login_id)
    refusal = sessions.account_refusal(user)
    if refusal:
        raise AccountError(f"ユーザID {user.login_id} は利用できない状態です ({refusal})。")
    _, token = auth.issue_link(user, ctx)
    return user, token


def deactivate(login_id: str, ctx: dict | None = None) -> tuple[User, int]:
    """Block an account (kept for the audit trail): ends all its sessions and unused links at once."""
    user = get_user(login_id)
    now = utcnow()
    with db.atomic():
        changed = (
            User.update(active=False, deactivated_at=now, updated_at=now, version=User.version + 1)
            .where((User.id == user.id) & (User.active == True))  # noqa: E712 - SQL comparison
            .execute()
        )
        if not changed:
            raise AccountError(f"ユーザID {user.login_id} は既に無効です。")
        ended = sessions.revoke_all(user, sessions.DEACTIVATED)
        EnrollmentLink.update(revoked_at=now, updated_at=now).where(
            (EnrollmentLink.user == user)
            & EnrollmentLink.used_at.is_null()
            & EnrollmentLink.revoked_at.is_null()
        ).execute()
        _record(
            "account.deactivated",
            ctx,
            target_table="user",
            target_ids=[user.id],
            changes={"active": [True, False]},
            reason=f"{len(ended)} session(s) ended",
        )
    return user, len(ended)


def set_role(login_id: str, role: str, ctx: dict | None = None, *, office_code: str | None = None) -> User:
    """Change an account's role (applies at its next request: the role is read on every request)."""
    user = get_user(login_id)
    role = _role(role)
    if office_code is None and role == "contractor" and user.office_id:
        office = user.office
    else:
        office = _office(office_code, role)
    before = (user.role, user.office.code if user.office_id else None)
    with db.atomic():
        User.update(role=role, office=office, updated_at=utcnow(), version=User.version + 1).where(
            User.id == user.id
        ).execute()
        _record(
            "account.role_changed",
            ctx,
            target_table="user",
            target_ids=[user.id],
            changes={"role": [before[0], role], "office": [before[1], office.code if office else None]},
        )
    user.role, user.office = role, office
    return user


def end_sessions(login_id: str, ctx: dict | None = None) -> int:
    """End every session of an account (an officer's or an administrator's decision)."""
    user = get_user(login_id)
    return sessions.end_all(user, sessions.ENDED_BY_ADMIN, **(ctx or {}))


@dataclass
class UserRow:
    """One line of `flask users list`."""

    user: User
    authenticators: int
    live_sessions: int


def list_users() -> list[UserRow]:
    """Every account with its number of authenticators and live sessions, by login ID."""
    users = list(User.select().order_by(User.login_id))
    counts = {}
    for cred in Credential.select(Credential.user).where(Credential.revoked_at.is_null()):
        counts[cred.user_id] = counts.get(cred.user_id, 0) + 1
    live = {}
    for row in sessions.UserSession.select(sessions.UserSession.user).where(
        sessions.UserSession.revoked_at.is_null()
    ):
        live[row.user_id] = live.get(row.user_id, 0) + 1
    return [UserRow(u, counts.get(u.id, 0), live.get(u.id, 0)) for u in users]


@dataclass
class DemoOfficer:
    """What `flask users demo-officer` did."""

    user: User
    created: bool
    has_authenticators: bool
    token: str | None


def demo_officer(ctx: dict | None = None, *, new_link: bool = False) -> DemoOfficer:
    """Create the demo officer if missing; a fresh link unless it already enrolled (then only on request)."""
    user = User.get_or_none(User.login_id == DEMO_OFFICER_LOGIN)
    created = False
    token = None
    if user is None:
        user, token = create_user(DEMO_OFFICER_LOGIN, DEMO_OFFICER_NAME, "officer", ctx)
        created = True
    has = auth.live_credentials(user).exists()
    if not created and (new_link or not has):
        if sessions.account_refusal(user):
            raise AccountError(f"ユーザID {user.login_id} は無効になっています。")
        _, token = auth.issue_link(user, ctx)
    return DemoOfficer(user, created, has, token)


# --- recovery (dual control) ------------------------------------------------------------------------------


def _officer(login_id: str, subject: User, what: str) -> User:
    officer = get_user(login_id)
    if officer.role != "officer" or sessions.account_refusal(officer):
        raise AccountError(f"{what}は有効な保護責任者 (officer) でなければなりません。")
    if officer.id == subject.id:
        raise AccountError(f"本人は{what}になれません。")
    return officer


def request_recovery(login_id: str, by: str, identity_check: str, ctx: dict | None = None) -> RecoveryRequest:
    """Record that an officer checked in person the identity of someone who lost every authenticator."""
    subject = get_user(login_id)
    if not subject.active:
        raise AccountError(f"ユーザID {subject.login_id} は無効です。")
    officer = _officer(by, subject, "受付者")
    check = " ".join(unicodedata.normalize("NFKC", identity_check or "").split())
    if len(check) < 2 or _CONTROL.search(check):
        raise AccountError("本人確認の方法を記入してください (例: 運転免許証で確認)。")
    with db.atomic():
        pending = RecoveryRequest.select().where(
            (RecoveryRequest.user == subject) & (RecoveryRequest.state == "pending")
        )
        RecoveryRequest.update(
            state="cancelled", updated_at=utcnow(), version=RecoveryRequest.version + 1
        ).where(RecoveryRequest.id.in_([r.id for r in pending])).execute()
        request = RecoveryRequest.create(user=subject, requested_by=officer, identity_check=check[:500])
        _record(
            "auth.recovery.requested",
            {**(ctx or {}), "actor": officer},
            target_table="recovery_request",
            target_ids=[request.id],
            reason=f"for {subject.login_id}; identity checked by {officer.login_id}: {check}"[:200],
        )
    return request


def approve_recovery(request_id: int, by: str, ctx: dict | None = None) -> tuple[RecoveryRequest, str | None]:
    """One officer's approval. The second (a different officer, neither the subject) revokes every
    authenticator and session of the subject and returns a new enrollment link's token.

    The approver must have stepped up (a WebAuthn assertion in the browser) within the last five
    minutes: the approval is bound to that officer's authenticator, not only to a name typed here.
    """
    request = RecoveryRequest.get_or_none(RecoveryRequest.id == request_id)
    if request is None or request.state != "pending":
        raise AccountError(f"承認待ちの回復申請 {request_id} はありません。")
    subject = request.user
    officer = _officer(by, subject, "承認者")
    if not any(
        sessions.recently_stepped_up(row) and not sessions.end_reason(row)
        for row in sessions.live_rows(officer)
    ):
        raise AccountError(
            "承認する保護責任者は、5分以内にブラウザで再認証 (/step-up) を済ませてから実行してください。"
        )
    actor_ctx = {**(ctx or {}), "actor": officer}
    now = utcnow()
    with db.atomic():
        if request.first_approver_id is None:
            RecoveryRequest.update(
                first_approver=officer, updated_at=now, version=RecoveryRequest.version + 1
            ).where((RecoveryRequest.id == request.id) & RecoveryRequest.first_approver.is_null()).execute()
            _record(
                "auth.recovery.approved",
                actor_ctx,
                target_table="recovery_request",
                target_ids=[request.id],
                reason=f"first approval for {subject.login_id} by {officer.login_id}",
            )
            request.first_approver = officer
            return request, None
        first = request.first_approver
        if first.id == officer.id:
            raise AccountError("2人目の承認者は1人目と別の保護責任者でなければなりません。")
        Credential.update(revoked_at=now, updated_at=now).where(
            (Credential.user == subject) & Credential.revoked_at.is_null()
        ).execute()
        ended = sessions.revoke_all(subject, sessions.RECOVERY)
        link, token = auth.issue_link(subject, actor_ctx, issued_by=officer)
        RecoveryRequest.update(
            second_approver=officer,
            state="approved",
            link=link,
            updated_at=now,
            version=RecoveryRequest.version + 1,
        ).where((RecoveryRequest.id == request.id) & (RecoveryRequest.state == "pending")).execute()
        _record(
            "auth.recovery.approved",
            actor_ctx,
            target_table="recovery_request",
            target_ids=[request.id],
            reason=(
                f"recovery of {subject.login_id} approved by {first.login_id} and {officer.login_id}; "
                f"authenticators revoked, {len(ended)} session(s) ended, new enrollment link issued"
            ),
        )
        request.second_approver, request.state, request.link = officer, "approved", link
    return request, token
