"""WebAuthn ceremonies (py_webauthn): enrollment links, registration, login, step-up, authenticators.

Every ceremony's challenge is 32 random bytes kept in the browser's session and, hashed, in a
single-use server-side row that lives five minutes; verification deletes that row first and goes on
only if exactly one row was deleted, so a captured cookie and assertion cannot be used twice. User
verification is asked for in the options and enforced on both verify calls. Every refusal is one
CeremonyError for the caller (who answers a generic 400) and an audit entry with the real reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from peewee import IntegrityError
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json,
    parse_attestation_object,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from extensions import db
from models.base import utcnow
from models.security import Credential, EnrollmentLink, RecoveryRequest, User, UserSession, WebAuthnChallenge
from services import sessions

CHALLENGE_BYTES = 32
CHALLENGE_TTL = dt.timedelta(seconds=300)
LINK_TOKEN_BYTES = 32
LINK_TTL = dt.timedelta(hours=24)
BROWSER_TIMEOUT_MS = 120_000
NICKNAME_MAX = 60
# ES256 first: what security keys and platform authenticators make.
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]

LOGIN, STEP_UP, REGISTER = "login", "step_up", "register"


class CeremonyError(Exception):
    """A ceremony was refused. The caller shows one generic message; reason goes to the audit trail."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class AccountError(ValueError):
    """An account operation cannot be done as asked (message for the operator, in Japanese)."""


# --- settings ---------------------------------------------------------------------------------------


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(item).strip() for item in value if str(item).strip()]


@dataclass(frozen=True)
class Settings:
    """The relying party as configured (never taken from the request's Host header)."""

    rp_id: str
    rp_name: str
    origins: list[str]
    allow_zero_counter: bool
    require_attestation: bool
    aaguid_allowlist: frozenset[str]
    attestation_roots: list[bytes]


def settings() -> Settings:
    """WebAuthn settings of the current app; production defaults are the strict ones."""
    config = current_app.config
    production = config["APP_ENV"] == "production"
    roots = []
    for item in _list(config.get("WEBAUTHN_ATTESTATION_ROOTS")):
        roots.append(item.encode() if item.startswith("-----BEGIN") else Path(item).read_bytes())
    return Settings(
        rp_id=config["WEBAUTHN_RP_ID"],
        rp_name=config["WEBAUTHN_RP_NAME"],
        origins=list(config["WEBAUTHN_ORIGINS"]),
        # Counters that stay 0 (synced passkeys, some platform authenticators) cannot show a clone.
        allow_zero_counter=(
            not production
            if config.get("WEBAUTHN_ALLOW_ZERO_COUNTER") is None
            else _flag(config["WEBAUTHN_ALLOW_ZERO_COUNTER"])
        ),
        require_attestation=_flag(config.get("WEBAUTHN_REQUIRE_ATTESTATION", False)),
        aaguid_allowlist=frozenset(a.lower() for a in _list(config.get("WEBAUTHN_AAGUID_ALLOWLIST"))),
        attestation_roots=roots,
    )


# --- hashes and handles -------------------------------------------------------------------------------


def sha256_hex(data: bytes | str) -> str:
    """Hex SHA-256 (challenges, link tokens: stored only hashed)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _handle_keys() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *_list(config.get("SECRET_KEY_FALLBACKS"))]


def user_handle(user: User, key: str | None = None) -> bytes:
    """The WebAuthn user handle of user: HMAC-SHA-256(SECRET_KEY, "user-handle:<id>"), 32 bytes.

    Opaque (no login ID or name on the authenticator), stable, and never reused for another user.
    Derived because the user table has no column for a random one; keys in SECRET_KEY_FALLBACKS are
    accepted when checking, so rotating SECRET_KEY does not lock out existing authenticators.
    """
    key = key or _handle_keys()[0]
    return hmac.new(key.encode(), f"user-handle:{user.id}".encode(), hashlib.sha256).digest()


def handle_matches(user: User, handle: bytes | None) -> bool:
    """True when an assertion's user handle is the one this user's authenticators were given."""
    if not handle:
        return False
    return any(hmac.compare_digest(user_handle(user, key), handle) for key in _handle_keys())


# --- challenges ------------------------------------------------------------------------------------


def new_challenge(purpose: str, user: User | None = None) -> bytes:
    """A fresh challenge, recorded hashed with its purpose, user and five-minute expiry."""
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    now = utcnow()
    # Housekeeping: rows long past their expiry (kept a while so a late verify is logged as expired).
    WebAuthnChallenge.delete().where(WebAuthnChallenge.expires_at < now - dt.timedelta(hours=1)).execute()
    WebAuthnChallenge.create(
        challenge_hash=sha256_hex(challenge),
        purpose=purpose,
        user=user,
        created_at=now,
        expires_at=now + CHALLENGE_TTL,
    )
    return challenge


def consume_challenge(challenge: bytes | None, purpose: str, user: User | None = None) -> None:
    """Delete the challenge's row; go on only if exactly one row was deleted and it had not expired.

    Runs (and commits) before the response is verified: a challenge is used up even by a failure.
    """
    if not challenge:
        raise CeremonyError("challenge missing from the session")
    where = (WebAuthnChallenge.challenge_hash == sha256_hex(challenge)) & (
        WebAuthnChallenge.purpose == purpose
    )
    where &= WebAuthnChallenge.user.is_null() if user is None else (WebAuthnChallenge.user == user)
    row = WebAuthnChallenge.select().where(where).first()
    deleted = WebAuthnChallenge.delete().where(where).execute()
    if row is None or deleted != 1:
        raise CeremonyError("challenge unknown or already used (replay)")
    if utcnow() > row.expires_at:
        raise CeremonyError("challenge expired")


# --- audit helpers ------------------------------------------------------------------------------------


def _record(action: str, ctx: dict, **fields) -> None:
    from services import audit

    merged = {"actor": None, "session_ref": None, "ip": None, **(ctx or {})}
    merged.update(fields)
    audit.record(action, **merged)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Library messages → the reasons the audit trail and the reports use.
_REASONS = (
    ("User verification is required", "uv missing"),
    ("User was not present", "up missing"),
    ("User presence was required", "up missing"),
    ("Unexpected RP ID hash", "rp id mismatch"),
    ("Unexpected client data origin", "origin mismatch"),
    ("challenge was not expected challenge", "challenge mismatch"),
    ("Unexpected client data type", "wrong ceremony type"),
    ("Could not verify authentication signature", "bad signature"),
    ("Attestation", "attestation invalid"),
    ("attestation", "attestation invalid"),
    ("certificate", "attestation invalid"),
    ("Certificate", "attestation invalid"),
    ("(Packed", "attestation invalid"),
)


def classify(exc: Exception) -> str:
    """The audit reason for a library exception: a fixed label. The library's message (which may quote
    what the client sent, such as its origin) goes to the server log only."""
    text = str(exc)
    label = next((label for needle, label in _REASONS if needle in text), "malformed response")
    current_app.logger.info(
        "webauthn verification detail: %s: %s", type(exc).__name__, _CONTROL.sub(" ", text)[:300]
    )
    return label


def _refuse(
    action: str, reason: str, ctx: dict, *, actor=None, credential=None, purpose=None
) -> CeremonyError:
    """Log and audit a refusal, and return the error for the caller to raise."""
    current_app.logger.warning("webauthn %s refused: %s", purpose or action, reason)
    _record(
        action,
        ctx,
        actor=actor if actor is not None else (ctx or {}).get("actor"),
        target_table="credential" if credential is not None else None,
        target_ids=[credential.id] if credential is not None else None,
        outcome="denied",
        reason=reason[:200],
    )
    return CeremonyError(reason)


# --- nicknames -----------------------------------------------------------------------------------------


def clean_nickname(value, default: str) -> str:
    """A display name for an authenticator: NFKC, no control characters, at most 60 characters."""
    text = unicodedata.normalize("NFKC", str(value or "")).strip()
    text = " ".join(_CONTROL.sub(" ", text).split())
    return (text or default)[:NICKNAME_MAX]


def live_credentials(user: User):
    """The user's authenticators that are not removed, oldest first."""
    return (
        Credential.select()
        .where((Credential.user == user) & Credential.revoked_at.is_null())
        .order_by(Credential.created_at, Credential.id)
    )


# --- enrollment links -------------------------------------------------------------------------------------


def issue_link(
    user: User, ctx: dict | None = None, *, issued_by: User | None = None
) -> tuple[EnrollmentLink, str]:
    """A one-time enrollment link for user (24 h); earlier unused links are revoked. Returns the token."""
    token = secrets.token_urlsafe(LINK_TOKEN_BYTES)
    now = utcnow()
    with db.atomic():
        revoked = (
            EnrollmentLink.update(revoked_at=now, updated_at=now)
            .where(
                (EnrollmentLink.user == user)
                & EnrollmentLink.used_at.is_null()
                & EnrollmentLink.revoked_at.is_null()
            )
            .execute()
        )
        link = EnrollmentLink.create(
            user=user,
            token_hash=sha256_hex(token),
            created_at=now,
            updated_at=now,
            expires_at=now + LINK_TTL,
            issued_by=issued_by,
        )
        _record(
            "auth.enrollment_link.issued",
            ctx or {},
            target_table="enrollment_link",
            target_ids=[link.id],
            reason=f"for {user.login_id}" + (f"; {revoked} earlier link(s) revoked" if revoked else ""),
        )
    return link, token


def enrollment_url(token: str) -> str:
    """The link to hand to the person: the first configured origin, /enroll/<token>."""
    return f"{settings().origins[0].rstrip('/')}/enroll/{token}"


def link_refusal(link: EnrollmentLink | None, now: dt.datetime | None = None) -> str | None:
    """Why an enrollment link cannot be used (None when it can)."""
    now = now or utcnow()
    if link is None:
        return "enrollment link unknown"
    if link.used_at is not None:
        return "enrollment link already used"
    if link.revoked_at is not None:
        return "enrollment link revoked"
    if now > link.expires_at:
        return "enrollment link expired"
    if sessions.account_refusal(link.user):
        return f"enrollment link of a blocked account ({sessions.account_refusal(link.user)})"
    return None


def find_link(token: str, ctx: dict) -> EnrollmentLink:
    """The usable enrollment link for token, or CeremonyError (refusals audited)."""
    if not token or len(token) > 100:
        raise _refuse("auth.enrollment_link.refused", "enrollment link unknown", ctx)
    link = (
        EnrollmentLink.select(EnrollmentLink, User)
        .join(User, on=(EnrollmentLink.user == User.id))
        .where(EnrollmentLink.token_hash == sha256_hex(token))
        .first()
    )
    reason = link_refusal(link)
    if reason:
        refused = _refuse(
            "auth.enrollment_link.refused", reason, ctx, actor=link.user if link is not None else None
        )
        raise refused
    return link


# --- registration ---------------------------------------------------------------------------------------


def registration_options(user: User) -> tuple[str, bytes]:
    """Options for navigator.credentials.create() as JSON, and the challenge (for the session)."""
    s = settings()
    challenge = new_challenge(REGISTER, user)
    exclude = [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(cred.credential_id),
            transports=[AuthenticatorTransport(t) for t in _transports(cred.transports)],
        )
        for cred in live_credentials(user)
    ]
    options = generate_registration_options(
        rp_id=s.rp_id,
        rp_name=s.rp_name,
        user_id=user_handle(user),
        user_name=user.login_id,
        user_display_name=user.display_name,
        challenge=challenge,
        timeout=BROWSER_TIMEOUT_MS,
        attestation=(
            AttestationConveyancePreference.DIRECT
            if s.require_attestation
            else AttestationConveyancePreference.NONE
        ),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=exclude,
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json(options), challenge


def _transports(stored: str | None) -> list[str]:
    known = {t.value for t in AuthenticatorTransport}
    return [t for t in (stored or "").split(",") if t in known]


def _attestation_refusal(verified, s: Settings) -> str | None:
    if s.require_attestation:
        if verified.fmt == AttestationFormat.NONE:
            return "attestation required (none given)"
        statement = parse_attestation_object(verified.attestation_object).att_stmt
        if not statement.x5c:
            return "attestation required (self attestation given)"
        if not s.attestation_roots:
            return "attestation required but no trusted roots are configured"
    if s.aaguid_allowlist and verified.aaguid.lower() not in s.aaguid_allowlist:
        current_app.logger.warning(
            "webauthn registration: AAGUID %s is not in the allowlist", verified.aaguid
        )
        return "aaguid not allowed"
    return None


def finish_registration(
    user: User,
    credential_json,
    challenge: bytes | None,
    nickname,
    ctx: dict,
    *,
    link: EnrollmentLink | None = None,
) -> Credential:
    """Verify a new authenticator for user and store it (consuming the enrollment link when given)."""
    s = settings()
    actor = ctx.get("actor") or user
    try:
        consume_challenge(challenge, REGISTER, user)
    except CeremonyError as exc:
        raise _refuse("auth.registration.failed", exc.reason, ctx, actor=actor, purpose=REGISTER) from None
    roots = s.attestation_roots
    try:
        parsed = parse_registration_credential_json(credential_json)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=s.rp_id,
            expected_origin=s.origins,
            require_user_verification=True,
            supported_pub_key_algs=ALGORITHMS,
            pem_root_certs_bytes_by_fmt={fmt: roots for fmt in AttestationFormat} if roots else None,
        )
    except Exception as exc:  # any parse or verify failure is one refusal
        raise _refuse("auth.registration.failed", classify(exc), ctx, actor=actor, purpose=REGISTER) from None
    refusal = _attestation_refusal(verified, s)
    if refusal:
        raise _refuse("auth.registration.failed", refusal, ctx, actor=actor, purpose=REGISTER)
    count = live_credentials(user).count()
    default_name = f"認証器{count + 1}"
    transports = ",".join(t.value for t in (parsed.response.transports or []))
    now = utcnow()
    try:
        with db.atomic():
            if link is not None:
                used = (
                    EnrollmentLink.update(used_at=now, updated_at=now)
                    .where(
                        (EnrollmentLink.id == link.id)
                        & EnrollmentLink.used_at.is_null()
                        & EnrollmentLink.revoked_at.is_null()
                        & (EnrollmentLink.expires_at >= now)
                    )
                    .execute()
                )
                if used != 1:
                    raise CeremonyError("enrollment link used or revoked during the ceremony")
                RecoveryRequest.update(state="used", updated_at=now).where(
                    (RecoveryRequest.link == link) & (RecoveryRequest.state == "approved")
                ).execute()
            credential = Credential.create(
                user=user,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=transports[:200] or None,
                aaguid=verified.aaguid,
                device_type=str(
                    getattr(verified.credential_device_type, "value", verified.credential_device_type)
                ),
                backed_up=verified.credential_backed_up,
                nickname=clean_nickname(nickname, default_name),
            )
            if link is not None:
                _record(
                    "auth.enrollment_link.used",
                    ctx,
                    actor=actor,
                    target_table="enrollment_link",
                    target_ids=[link.id],
                )
            _record(
                "auth.credential.added",
                ctx,
                actor=actor,
                target_table="credential",
                target_ids=[credential.id],
                # The AAGUID stays on the credential row: hex with hyphens can look like a 12-digit number.
                reason=f"for {user.login_id}; attestation {getattr(verified.fmt, 'value', verified.fmt)}",
            )
    except CeremonyError as exc:
        raise _refuse("auth.registration.failed", exc.reason, ctx, actor=actor, purpose=REGISTER) from None
    except IntegrityError:
        raise _refuse(
            "auth.registration.failed", "credential id already registered", ctx, actor=actor, purpose=REGISTER
        ) from None
    return credential


# --- authentication -------------------------------------------------------------------------------------


def authentication_options(purpose: str, user: User | None = None) -> tuple[str, bytes]:
    """Options for navigator.credentials.get() as JSON, and the challenge.

    Login is usernameless (discoverable credentials, empty allowCredentials): the answer is the same
    for everyone, so it tells nothing about which accounts exist. Step-up names the user's own keys.
    """
    s = settings()
    challenge = new_challenge(purpose, user)
    allow = []
    if purpose == STEP_UP and user is not None:
        allow = [
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(cred.credential_id),
                transports=[AuthenticatorTransport(t) for t in _transports(cred.transports)],
            )
            for cred in live_credentials(user)
        ]
    options = generate_authentication_options(
        rp_id=s.rp_id,
        challenge=challenge,
        timeout=BROWSER_TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), challenge


def verify_assertion(
    credential_json, challenge: bytes | None, purpose: str, ctx: dict, *, user: User | None = None
) -> Credential:
    """Check an assertion for login (user None) or step-up (the signed-in user); returns the credential.

    Order: the challenge is consumed first; then the credential must exist and not be removed, the
    user handle must be its owner's, the signature, origin, RP ID and UV flag must verify, the
    counter must advance, and the account must be allowed to sign in.
    """
    s = settings()
    failed = "auth.login.failed" if purpose == LOGIN else "auth.step_up.failed"
    try:
        consume_challenge(challenge, purpose, user)
    except CeremonyError as exc:
        raise _refuse(failed, exc.reason, ctx, actor=user, purpose=purpose) from None
    try:
        parsed = parse_authentication_credential_json(credential_json)
    except Exception as exc:
        raise _refuse(failed, classify(exc), ctx, actor=user, purpose=purpose) from None
    credential = (
        Credential.select(Credential, User)
        .join(User, on=(Credential.user == User.id))
        .where((Credential.credential_id == parsed.id) & Credential.revoked_at.is_null())
        .first()
    )
    if credential is None:
        raise _refuse(failed, "unknown credential", ctx, actor=user, purpose=purpose)
    owner = credential.user
    if user is not None and owner.id != user.id:
        raise _refuse(
            failed, "credential of another user", ctx, actor=user, credential=credential, purpose=purpose
        )
    handle = parsed.response.user_handle
    # Login identifies the user by the handle (required); step-up names the credentials, the handle is optional.
    if (purpose == LOGIN or handle) and not handle_matches(owner, handle):
        raise _refuse(failed, "wrong user handle", ctx, actor=owner, credential=credential, purpose=purpose)
    try:
        # The stored counter is checked below, after the signature: only a genuine assertion with a
        # counter that went backwards is a cloned-authenticator event.
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=s.rp_id,
            expected_origin=s.origins,
            credential_public_key=bytes(credential.public_key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except Exception as exc:
        raise _refuse(
            failed, classify(exc), ctx, actor=owner, credential=credential, purpose=purpose
        ) from None
    new, old = verified.new_sign_count, credential.sign_count
    if new == 0 and old == 0:
        if not s.allow_zero_counter:
            raise _refuse(
                failed,
                "counter not supported (stays 0)",
                ctx,
                actor=owner,
                credential=credential,
                purpose=purpose,
            )
    elif new <= old:
        _counter_regression(credential, old, new, ctx)
        raise _refuse(failed, f"counter regression ({old} -> {new})", ctx, actor=owner, credential=credential)
    refusal = sessions.account_refusal(owner)
    if refusal:
        raise _refuse(
            failed, f"account blocked ({refusal})", ctx, actor=owner, credential=credential, purpose=purpose
        )
    now = utcnow()
    # Conditional update: two assertions racing with the same counter cannot both pass.
    advanced = (
        Credential.update(
            sign_count=new, last_used_at=now, updated_at=now, backed_up=verified.credential_backed_up
        )
        .where(
            (Credential.id == credential.id)
            & Credential.revoked_at.is_null()
            & ((Credential.sign_count < new) | ((Credential.sign_count == 0) & (new == 0)))
        )
        .execute()
    )
    if advanced != 1:
        _counter_regression(credential, old, new, ctx)
        raise _refuse(
            failed,
            f"counter regression ({old} -> {new}, concurrent)",
            ctx,
            actor=owner,
            credential=credential,
        )
    credential.sign_count, credential.last_used_at = new, now
    return credential


def _counter_regression(credential: Credential, old: int, new: int, ctx: dict) -> None:
    """A valid signature with a counter that did not advance: the key may have been cloned."""
    current_app.logger.error(
        "security: sign counter regression on credential %s of user %s (%s -> %s)",
        credential.id,
        credential.user.login_id,
        old,
        new,
    )
    _record(
        "security.counter_regression",
        ctx,
        actor=credential.user,
        target_table="credential",
        target_ids=[credential.id],
        outcome="denied",
        reason=f"sign counter {old} -> {new}: possible cloned authenticator",
    )


@dataclass
class LoginResult:
    """What a successful login hands the view: the user, its new session and the cookie token."""

    user: User
    session: UserSession
    token: str
    authenticators_changed: bool


def login(
    credential_json, challenge: bytes | None, ctx: dict, *, user_agent: str | None = None
) -> LoginResult:
    """Usernameless login: verify the assertion, open a new server-side session, audit it."""
    credential = verify_assertion(credential_json, challenge, LOGIN, ctx)
    user = credential.user
    with db.atomic():
        row, token = sessions.create(user, credential=credential, user_agent=user_agent)
        changed = authenticators_changed_since(user, user.last_login_at)
        User.update(last_login_at=row.created_at).where(User.id == user.id).execute()
        _record(
            "auth.login",
            ctx,
            actor=user,
            session_ref=sessions.session_ref(row),
            target_table="credential",
            target_ids=[credential.id],
        )
    return LoginResult(user, row, token, changed)


def authenticators_changed_since(user: User, since: dt.datetime | None) -> bool:
    """True when an authenticator of user was added or removed after since (the previous login)."""
    if since is None:
        return False
    return (
        Credential.select()
        .where(
            (Credential.user == user) & ((Credential.created_at > since) | (Credential.revoked_at > since))
        )
        .exists()
    )


def step_up(user: User, row: UserSession, credential_json, challenge: bytes | None, ctx: dict) -> str:
    """Re-verify the signed-in user; the session gets a new token and a step-up time. Returns the token."""
    credential = verify_assertion(credential_json, challenge, STEP_UP, ctx, user=user)
    old_ref = sessions.session_ref(row)
    with db.atomic():
        try:
            token = sessions.rotate(row, stepped_up=True)
        except LookupError:
            raise _refuse(
                "auth.step_up.failed", "session ended during the step-up", ctx, actor=user
            ) from None
        _record(
            "auth.step_up",
            ctx,
            actor=user,
            session_ref=sessions.session_ref(row),
            target_table="credential",
            target_ids=[credential.id],
            changes={"session_ref": [old_ref, sessions.session_ref(row)]},
        )
    return token


# --- authenticator management ------------------------------------------------------------------------------


def own_credential(user: User, credential_id: int) -> Credential | None:
    """One of user's live authenticators by row id (None for anyone else's: the caller answers 404)."""
    return (
        Credential.select()
        .where((Credential.id == credential_id) & (Credential.user == user) & Credential.revoked_at.is_null())
        .first()
    )


def rename_credential(credential: Credential, nickname, ctx: dict) -> None:
    """Give an authenticator a new display name."""
    before = credential.nickname
    after = clean_nickname(nickname, before)
    with db.atomic():
        Credential.update(nickname=after, updated_at=utcnow()).where(Credential.id == credential.id).execute()
        _record(
            "auth.credential.renamed",
            ctx,
            target_table="credential",
            target_ids=[credential.id],
            changes={"nickname": [before, after]},
        )
    credential.nickname = after


def remove_credential(user: User, credential: Credential, ctx: dict) -> list[int]:
    """Remove one authenticator (never the last) and end the sessions made with it; returns their ids."""
    now = utcnow()
    with db.atomic():
        if live_credentials(user).count() <= 1:
            raise AccountError("最後の認証器は削除できません。")
        Credential.update(revoked_at=now, updated_at=now).where(
            (Credential.id == credential.id) & Credential.revoked_at.is_null()
        ).execute()
        ended = sessions.revoke_all(user, sessions.CREDENTIAL_REMOVED, credential=credential)
        _record(
            "auth.credential.removed",
            ctx,
            target_table="credential",
            target_ids=[credential.id],
            reason=f"{len(ended)} session(s) made with it ended",
        )
    return ended
