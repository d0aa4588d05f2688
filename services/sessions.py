"""Server-side sessions: the cookie carries a random token, the user_session row its SHA-256.

A request is signed in only while its row is live: not revoked, used within the idle timeout, younger
than the absolute limit, and its user still active (and, for a contractor, within the contract). Any
other state ends the row with a reason and the request is anonymous, whatever the cookie says.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import current_app

from models.base import utcnow
from models.security import User, UserSession

TOKEN_BYTES = 32
# last_seen_at is written at most this often: no write on every request.
TOUCH_INTERVAL = dt.timedelta(minutes=1)
STEP_UP_MINUTES = 5

# Why a session ended (user_session.revoked_reason, and the audit entry's reason).
LOGOUT = "logout"
LOGOUT_EVERYWHERE = "logout_everywhere"
ENDED_BY_USER = "ended_by_user"
ENDED_BY_OFFICER = "ended_by_officer"
ENDED_BY_ADMIN = "ended_by_admin"
IDLE = "idle_timeout"
ABSOLUTE = "absolute_timeout"
DEACTIVATED = "deactivated"
CONTRACT_ENDED = "contract_ended"
CREDENTIAL_REMOVED = "credential_removed"
RECOVERY = "recovery"


def hash_token(token: str) -> str:
    """The hex SHA-256 stored for a session token."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def ref_of(token_hash: str) -> str:
    """The short reference the audit trail records for a session (never the token)."""
    return token_hash[:16]


def session_ref(row: UserSession) -> str:
    """The audit reference of a session row."""
    return ref_of(row.token_hash)


def new_token() -> str:
    """32 random bytes, URL-safe. A token whose audit reference would read as a valid 12-digit My
    Number (about 1 in 2,500 hex prefixes) is drawn again: the audit trail refuses such text, and a
    session whose every entry is refused could do nothing."""
    from services.audit import contains_my_number

    while True:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        if not contains_my_number(ref_of(hash_token(token))):
            return token


def _limits() -> tuple[dt.timedelta, dt.timedelta]:
    config = current_app.config
    return (
        dt.timedelta(minutes=int(config["SESSION_IDLE_MINUTES"])),
        dt.timedelta(hours=int(config["SESSION_ABSOLUTE_HOURS"])),
    )


def contract_ended(user: User, today: dt.date | None = None) -> bool:
    """True once a contractor's contract end date (its last day, in Japan) has passed."""
    if user.contract_end_date is None:
        return False
    from rules.filters import today_tokyo

    return (today or today_tokyo()) > user.contract_end_date


def account_refusal(user: User) -> str | None:
    """Why this account may not be signed in now (None when it may)."""
    if not user.active:
        return DEACTIVATED
    if contract_ended(user):
        return CONTRACT_ENDED
    return None


def create(user: User, *, credential=None, user_agent: str | None = None) -> tuple[UserSession, str]:
    """A new session row for user; returns it with the token for the cookie (shown once, stored hashed)."""
    _, absolute = _limits()
    token = new_token()
    now = utcnow()
    row = UserSession.create(
        token_hash=hash_token(token),
        user=user,
        credential=credential,
        created_at=now,
        last_seen_at=now,
        expires_at=now + absolute,
        user_agent=(user_agent or "")[:200] or None,
    )
    return row, token


def rotate(row: UserSession, *, stepped_up: bool = False) -> str:
    """Give a live session a new token (step-up, privilege change); returns the new token."""
    token = new_token()
    now = utcnow()
    data = {UserSession.token_hash: hash_token(token), UserSession.last_seen_at: now}
    if stepped_up:
        data[UserSession.stepped_up_at] = now
    changed = (
        UserSession.update(data)
        .where((UserSession.id == row.id) & UserSession.revoked_at.is_null())
        .execute()
    )
    if changed != 1:
        raise LookupError("the session ended before it could be renewed")
    row.token_hash = data[UserSession.token_hash]
    row.last_seen_at = now
    if stepped_up:
        row.stepped_up_at = now
    return token


def end_reason(row: UserSession, now: dt.datetime | None = None) -> str | None:
    """Why a not-yet-revoked row is no longer valid (None while it is)."""
    now = now or utcnow()
    refusal = account_refusal(row.user)
    if refusal:
        return refusal
    idle, _ = _limits()
    if now > row.expires_at:
        return ABSOLUTE
    if now - row.last_seen_at > idle:
        return IDLE
    return None


def resolve(token: str | None, *, ip: str | None = None) -> UserSession | None:
    """The live session for a cookie token, or None. A row found dead is ended here and audited."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return None
    row = (
        UserSession.select(UserSession, User)
        .join(User, on=(UserSession.user == User.id))
        .where(UserSession.token_hash == hash_token(token))
        .first()
    )
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    reason = end_reason(row, now)
    if reason:
        if revoke(row, reason, now=now):
            _audit_end(row, "auth.session.expired", reason, actor=row.user, ip=ip)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        UserSession.update(last_seen_at=now).where(
            (UserSession.id == row.id) & UserSession.revoked_at.is_null()
        ).execute()
        row.last_seen_at = now
    return row


def revoke(row: UserSession, reason: str, *, now: dt.datetime | None = None) -> bool:
    """End one session; False when it had already ended."""
    now = now or utcnow()
    changed = (
        UserSession.update(revoked_at=now, revoked_reason=reason)
        .where((UserSession.id == row.id) & UserSession.revoked_at.is_null())
        .execute()
    )
    if changed:
        row.revoked_at, row.revoked_reason = now, reason
    return changed == 1


def live_rows(user: User):
    """The user's sessions that are not revoked (some may be past a limit until next used)."""
    return (
        UserSession.select()
        .where((UserSession.user == user) & UserSession.revoked_at.is_null())
        .order_by(UserSession.last_seen_at.desc())
    )


def revoke_all(user: User, reason: str, *, keep: UserSession | None = None, credential=None) -> list[int]:
    """End every live session of user (all but keep; only those made with credential when given)."""
    query = UserSession.select(UserSession.id).where(
        (UserSession.user == user) & UserSession.revoked_at.is_null()
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    if credential is not None:
        query = query.where(UserSession.credential == credential)
    ids = [row.id for row in query]
    if ids:
        UserSession.update(revoked_at=utcnow(), revoked_reason=reason).where(
            UserSession.id.in_(ids) & UserSession.revoked_at.is_null()
        ).execute()
    return ids


def recently_stepped_up(row: UserSession | None, minutes: int = STEP_UP_MINUTES) -> bool:
    """True when the session made a WebAuthn assertion within the last `minutes` minutes."""
    if row is None or row.stepped_up_at is None:
        return False
    return utcnow() - row.stepped_up_at <= dt.timedelta(minutes=minutes)


def _audit_end(row: UserSession, action: str, reason: str, *, actor=None, ip=None) -> None:
    from services import audit

    audit.record(
        action,
        actor=actor,
        session_ref=session_ref(row),
        ip=ip,
        target_table="user_session",
        target_ids=[row.id],
        reason=reason,
    )


def end(row: UserSession, reason: str, *, actor=None, ip=None, session_ref_of_actor=None) -> bool:
    """End one session and audit it (logout, ended by its user or by an officer)."""
    from extensions import db
    from services import audit

    with db.atomic():
        if not revoke(row, reason):
            return False
        audit.record(
            "auth.logout" if reason == LOGOUT else "auth.session.revoked",
            actor=actor,
            session_ref=session_ref_of_actor or session_ref(row),
            ip=ip,
            target_table="user_session",
            target_ids=[row.id],
            reason=reason,
        )
    return True


def end_all(user: User, reason: str, *, actor=None, ip=None, session_ref=None, keep=None) -> int:
    """End all of user's sessions (except keep) in one transaction with its audit entry."""
    from extensions import db
    from services import audit

    with db.atomic():
        ids = revoke_all(user, reason, keep=keep)
        audit.record(
            "auth.session.revoked",
            actor=actor,
            session_ref=session_ref,
            ip=ip,
            target_table="user_session",
            target_ids=ids,
            reason=f"{reason}: {user.login_id}",
        )
    return len(ids)
