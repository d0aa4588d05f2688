"""The audit trail: append-only entries chained by HMAC-SHA-256 with a key kept outside the database.

Every entry's hmac is ``HMAC-SHA-256(key, prev_hmac + "\\n" + canonical(entry))`` where prev_hmac is
the hmac of the entry before it (64 zeros for the first) and ``canonical`` is the entry's columns
except id and hmac as sorted-key JSON without whitespace (ASCII, ``at`` as an ISO string with
microseconds). Order is by id: appends take a lock (SQLite: the transaction begins IMMEDIATE;
PostgreSQL: a transaction-level advisory lock) before reading the last hmac, so concurrent writers
never fork the chain. ``verify`` walks the trail and names the first entry that was modified,
deleted or moved; ``head`` gives the last entry to anchor outside the system, against which
``verify`` also detects a truncated tail.

What never goes in: a My Number (record refuses any 12-digit number that passes the check digit) and
a clear search term (callers pass a hash of the term, or nothing, in ``reason``/``changes``).
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from flask import current_app, has_app_context
from peewee import PeeweeException

from extensions import db, is_sqlite
from models.audit import OUTCOMES, AuditEntry
from models.base import utcnow
from models.classification import classify, columns_of_level
from rules import mynumber
from services.vault import KeyringError, _decode, _ensure_dir, _read_key_file, _write_new_key

AUDIT_KEY_FILE = "audit.key"
ENV_AUDIT_KEY = "AUDIT_HMAC_KEY"
GENESIS = "0" * 64  # the prev_hmac of the first entry
# pg_advisory_xact_lock key serialising appends on PostgreSQL ("audit" in ASCII).
PG_LOCK_ID = 0x6175646974
VERIFY_BATCH = 5000  # rows fetched per query by verify (keyset pagination: memory stays flat)

# The columns the hmac covers, in the model's order; a new column must be added here on purpose
# (older entries were chained without it), which tests/test_audit.py enforces.
CANONICAL_FIELDS = (
    "at",
    "actor_id",
    "actor_login",
    "actor_role",
    "office_id",
    "session_ref",
    "action",
    "target_table",
    "target_ids",
    "fields",
    "changes",
    "purpose",
    "outcome",
    "reason",
    "ip",
    "prev_hmac",
)

KINDS = {
    "modified": ("内容の改ざん", "an entry's content no longer matches its HMAC"),
    "deleted": ("記録の削除（欠落）", "entries before this one are missing"),
    "reordered": ("記録の入れ替え", "this entry does not follow the one before it"),
    "truncated": ("末尾の切り詰め", "the anchored head is missing or differs: the tail was cut"),
}

_ACTION = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_OUTCOME_CODES = frozenset(code for code, _ in OUTCOMES)
# A 12-digit run, digits optionally separated by the separators rules.mynumber accepts, not part of
# a longer run. Inside a lookahead so that overlapping candidates are all examined.
_SEPARATOR = r"[\s\-\u2010-\u2015\u2212\u30FC\uFF70]"
_CANDIDATE = re.compile(rf"(?<![0-9])(?=([0-9](?:{_SEPARATOR}?[0-9]){{11}})(?![0-9]))")
_C3_COLUMNS = frozenset(column for _, column in columns_of_level("C3"))


# A change entered by one person and applied by another (the 公社's entry approved by the city): the
# entries written while it is applied carry, after their reason, a note naming both (on_behalf).
ON_BEHALF_SEPARATOR = " / "
_on_behalf: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_on_behalf", default=None)


@contextlib.contextmanager
def on_behalf(note: str) -> Iterator[None]:
    """Entries recorded inside carry note after their reason ("<reason> / <note>"): the services that
    apply an approved change write their usual entries, and each names who entered it as well."""
    token = _on_behalf.set(note)
    try:
        yield
    finally:
        _on_behalf.reset(token)


def on_behalf_note(reason: str | None) -> str | None:
    """The note on_behalf added to an entry's reason, or None."""
    if not reason or ON_BEHALF_SEPARATOR not in reason:
        return None
    return reason.partition(ON_BEHALF_SEPARATOR)[2] or None


class AuditFailure(RuntimeError):
    """The audit entry could not be written (or the trail read): the operation must fail with it."""


# --- the key ----------------------------------------------------------------------------------------

_key_cache: dict[tuple[str, bool, str], bytes] = {}
_key_lock = threading.Lock()


def _load_key(key_dir: Path, env_value: str, create: bool) -> bytes:
    if env_value:
        return _decode(env_value, ENV_AUDIT_KEY)
    path = key_dir / AUDIT_KEY_FILE
    if not path.exists():
        if not create:
            raise KeyringError(f"no {AUDIT_KEY_FILE} in {key_dir} and {ENV_AUDIT_KEY} is not set")
        _ensure_dir(key_dir)
        with contextlib.suppress(FileExistsError):  # another process created it first: use that one
            _write_new_key(path)
    return _read_key_file(path)


def audit_key(app_config: Mapping) -> bytes:
    """The HMAC key: AUDIT_HMAC_KEY (base64) or KEY_DIR/audit.key; created only in development/testing.

    KeyringError when it is missing (in production), malformed or readable by others. Loaded once per
    KEY_DIR (and environment value).
    """
    key_dir = Path(app_config["KEY_DIR"]).resolve()
    create = app_config.get("APP_ENV") in ("development", "testing")
    env_value = os.environ.get(ENV_AUDIT_KEY, "").strip()
    cache_key = (str(key_dir), create, hashlib.sha256(env_value.encode()).hexdigest())
    with _key_lock:
        key = _key_cache.get(cache_key)
        if key is None:
            key = _load_key(key_dir, env_value, create)
            _key_cache[cache_key] = key
        return key


def clear_key_cache() -> None:
    """Forget loaded keys (between tests, or after the operator replaced the key file)."""
    with _key_lock:
        _key_cache.clear()


def _current_key() -> bytes:
    if not has_app_context():
        raise AuditFailure("the audit trail needs an application context (for KEY_DIR)")
    try:
        return audit_key(current_app.config)
    except KeyringError as exc:
        raise AuditFailure(f"audit key unavailable: {exc}") from exc


# --- the chain ----------------------------------------------------------------------------------------


def _iso(value) -> str:
    if isinstance(value, str):  # the stored text, when the driver did not parse it
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value  # not a time at all: it cannot match its hmac, verify reports it modified
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def canonical(values: Mapping) -> str:
    """The text an entry's hmac covers: CANONICAL_FIELDS as sorted-key compact ASCII JSON."""
    data = {name: values[name] for name in CANONICAL_FIELDS}
    data["at"] = _iso(values["at"])
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def compute_hmac(key: bytes, prev_hmac: str, canonical_text: str) -> str:
    """HMAC-SHA-256 (hex) of prev_hmac + "\\n" + canonical_text."""
    message = (prev_hmac + "\n" + canonical_text).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- recording ----------------------------------------------------------------------------------------


def _texts(value) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item)
    else:
        yield str(value)


def my_number_candidates(value) -> set[str]:
    """The 12-digit runs in value (nested lists/dicts included) that pass the My Number check digit."""
    found = set()
    for text in _texts(value):
        normalised = unicodedata.normalize("NFKC", text)
        for match in _CANDIDATE.finditer(normalised):
            if mynumber.is_valid(match[1]):
                found.add(re.sub(r"[^0-9]", "", match[1]))
    return found


def contains_my_number(value) -> bool:
    """True when any text in value (nested lists/dicts included) holds a valid 12-digit My Number."""
    return bool(my_number_candidates(value))


def _json_default(value):
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be recorded in an audit entry")


def _dumps(value) -> str:
    try:
        return json.dumps(
            value,
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
            allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"audit entry: {exc}") from None


def _id_list(values: Iterable | None, name: str) -> str | None:
    if values is None:
        return None
    if isinstance(values, str | bytes):
        raise ValueError(f"{name} must be an iterable of ids, not a single string")
    items = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ValueError(f"{name} holds ints or strings")
        items.append(item)
    return _dumps(items)


def _field_list(values: Iterable[str] | None) -> str | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ValueError("fields must be an iterable of field names, not a single string")
    names = list(values)
    if not all(isinstance(name, str) and name for name in names):
        raise ValueError("fields holds non-empty field names")
    return _dumps(names)


def _changes(changes: Mapping | None, target_table: str | None) -> str | None:
    if changes is None:
        return None
    if not isinstance(changes, Mapping):
        raise ValueError("changes must be a dict {field: [before, after]}")
    shaped = {}
    for field, pair in changes.items():
        if not isinstance(field, str) or not field:
            raise ValueError("changes: keys are field names")
        table, _, column = field.rpartition(".")  # "person.name": a column of another table
        if (
            field in _C3_COLUMNS
            or column in _C3_COLUMNS
            or (target_table and classify(target_table, field) == "C3")
            or (table and classify(table, column) == "C3")
        ):
            raise ValueError(f"changes: {field} is C3 (特定個人情報); name it in fields, never its value")
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"changes: {field} must map to [before, after]")
        shaped[field] = list(pair)
    return _dumps(shaped)


def _actor_columns(actor) -> dict:
    if actor is None:
        return {"actor_id": None, "actor_login": None, "actor_role": None, "office_id": None}
    try:
        office_id = actor.office_id
        return {
            "actor_id": int(actor.id),
            "actor_login": str(actor.login_id),
            "actor_role": str(actor.role),
            "office_id": None if office_id is None else int(office_id),
        }
    except (AttributeError, TypeError, ValueError):
        raise ValueError("actor must be a models.User (or None for an anonymous or system event)") from None


def _check_lengths(values: dict) -> None:
    for name, value in values.items():
        max_length = getattr(AuditEntry._meta.fields[name], "max_length", None)
        if max_length is None or value is None or len(value) <= max_length:
            continue
        if name == "reason":  # free text: cut, never refuse (the cut happens before the hmac)
            values[name] = value[: max_length - 1] + "…"
        else:
            raise ValueError(f"audit entry: {name} is longer than {max_length} characters")


def _prepare(
    action, actor, session_ref, ip, target_table, target_ids, fields, changes, purpose, outcome, reason
):
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise ValueError("action must be a dotted lowercase name such as 'household.read'")
    if outcome not in _OUTCOME_CODES:
        raise ValueError(f"outcome must be one of {sorted(_OUTCOME_CODES)}")
    for name, value in (
        ("session_ref", session_ref),
        ("ip", ip),
        ("target_table", target_table),
        ("purpose", purpose),
        ("reason", reason),
    ):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
    values = {
        "action": action,
        **_actor_columns(actor),
        "session_ref": session_ref,
        "ip": ip,
        "target_table": target_table,
        "target_ids": _id_list(target_ids, "target_ids"),
        "fields": _field_list(fields),
        "changes": _changes(changes, target_table),
        "purpose": purpose,
        "outcome": outcome,
        "reason": reason,
    }
    _check_lengths(values)
    # Belt and braces: whatever the caller meant to pass, a My Number never reaches the trail.
    for name in ("reason", "changes", "fields", "target_ids", "target_table", "purpose", "session_ref", "ip"):
        if contains_my_number(values[name]):
            raise ValueError(f"audit entry refused: {name} contains a My Number (個人番号)")
    if contains_my_number(action) or contains_my_number(values["actor_login"]):
        raise ValueError("audit entry refused: it contains a My Number (個人番号)")
    return values


def _lock_and_read_last_hmac() -> str:
    # Inside db.atomic(): on SQLite the transaction began IMMEDIATE (lock_type of the database), so
    # this connection already holds the write lock; on PostgreSQL the advisory lock is held until the
    # transaction ends, so ids are taken and committed in chain order.
    if not is_sqlite():
        cursor = db.execute_sql(
            "SELECT pg_advisory_xact_lock(%s), current_setting('transaction_isolation')", (PG_LOCK_ID,)
        )
        isolation = cursor.fetchone()[1]
        if isolation != "read committed":
            # A snapshot taken before the lock would not see the last committed entry: the chain forks.
            raise AuditFailure(f"audit entries are written in READ COMMITTED transactions, not {isolation}")
    last = AuditEntry.select(AuditEntry.hmac).order_by(AuditEntry.id.desc()).limit(1).scalar()
    return last or GENESIS


def record(
    action: str,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    target_table: str | None = None,
    target_ids: Iterable | None = None,
    fields: Iterable[str] | None = None,
    changes: Mapping | None = None,
    purpose: str | None = None,
    outcome: str = "allowed",
    reason: str | None = None,
) -> AuditEntry:
    """Append one entry to the trail and return it.

    action: a dotted lowercase name ("household.read", "auth.login"). actor: the models.User acting,
    or None (anonymous, system). target_ids / fields: iterables stored as JSON lists (a search
    records the ids it returned, never the search term: pass a hash of the term in reason, or
    nothing). changes: {field: [before, after]} for non-C3 fields only. outcome: allowed, denied
    or failed.

    Runs in db.atomic(): inside a caller's transaction it is a savepoint of it, so the business
    change and its entry commit or roll back together. ValueError for a malformed entry or one that
    holds a My Number (nothing is written); AuditFailure when it cannot be written (fail closed).
    """
    note = _on_behalf.get()
    if note:
        reason = f"{reason}{ON_BEHALF_SEPARATOR}{note}" if reason else f"{ON_BEHALF_SEPARATOR}{note}"
    values = _prepare(
        action, actor, session_ref, ip, target_table, target_ids, fields, changes, purpose, outcome, reason
    )
    key = _current_key()
    try:
        with db.atomic():
            values["prev_hmac"] = _lock_and_read_last_hmac()
            values["at"] = utcnow()
            values["hmac"] = compute_hmac(key, values["prev_hmac"], canonical(values))
            entry = AuditEntry(**values)
            entry.save(force_insert=True)
    except PeeweeException as exc:
        raise AuditFailure(f"the audit entry could not be written: {type(exc).__name__}: {exc}") from exc
    return entry


# --- verification -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verify: ok, how many entries checked out, and the first bad one."""

    ok: bool
    count: int  # entries verified (before the first bad one when not ok)
    first_bad_id: int | None = None
    kind: str | None = None  # modified | deleted | reordered | truncated
    detail: str = ""
    last_id: int | None = None  # the last entry that verified
    last_hmac: str = GENESIS

    @property
    def label_ja(self) -> str:
        return KINDS[self.kind][0] if self.kind else ""

    def message(self) -> str:
        """One line in Japanese and English for the CLI and reports."""
        if self.ok:
            return f"OK: {self.count} entries verified（{self.count} 件の監査記録を検証しました）"
        return (
            f"NG: ID {self.first_bad_id} で{self.label_ja}を検出しました。"
            f" / audit trail {self.kind} at id {self.first_bad_id}: {self.detail}"
            f" ({self.count} entries verified before it)"
        )


def parse_head(head) -> tuple[int, str] | None:
    """(id, hmac) of an exported head, None for None; ValueError when it is malformed."""
    if head is None:
        return None
    if not isinstance(head, Mapping):
        raise ValueError('head must look like {"id": N, "hmac": "…"}')
    head_id, head_hmac = head.get("id"), head.get("hmac")
    if isinstance(head_id, bool) or not isinstance(head_id, int) or head_id < 0:
        raise ValueError("head id must be a non-negative integer")
    if not isinstance(head_hmac, str) or not _HEX64.fullmatch(head_hmac):
        raise ValueError("head hmac must be 64 lowercase hex digits")
    return head_id, head_hmac


def _rows(batch: int) -> Iterator[dict]:
    # Keyset pagination rather than one query: a client-side cursor (psycopg2's default) would
    # otherwise hold the whole table in memory. The table is append-only, so pages never shift.
    columns = [AuditEntry.id, AuditEntry.hmac, *(AuditEntry._meta.fields[name] for name in CANONICAL_FIELDS)]
    last_id = None
    while True:
        query = AuditEntry.select(*columns).order_by(AuditEntry.id).limit(batch)
        if last_id is not None:
            query = query.where(AuditEntry.id > last_id)
        fetched = 0
        for row in query.dicts().iterator():
            fetched += 1
            last_id = row["id"]
            yield row
        if fetched < batch:
            return


def _break_kind(row: dict, prev_id: int | None) -> tuple[str, str]:
    expected_after = "the start of the trail" if prev_id is None else f"id {prev_id}"
    gap = "" if prev_id is None or row["id"] == prev_id + 1 else f" (ids jump from {prev_id} to {row['id']})"
    if row["prev_hmac"] == GENESIS:
        return "reordered", f"the first entry of the trail appears after {expected_after}{gap}"
    predecessor = (
        AuditEntry.select(AuditEntry.id).where(AuditEntry.hmac == row["prev_hmac"]).limit(1).scalar()
    )
    if predecessor is not None:
        return "reordered", f"it follows id {predecessor} in the chain, not {expected_after}{gap}"
    return "deleted", f"the entry it follows is missing after {expected_after}{gap}"


def verify(head: dict | None = None) -> VerifyResult:
    """Walk the trail in id order recomputing the chain; optionally check it reaches an anchored head.

    head: {"id": N, "hmac": "…"} exported earlier by head(); without it a cut tail goes unnoticed.
    Streams the rows (VERIFY_BATCH per query). AuditFailure when the key or the database is not there.
    """
    anchor = parse_head(head)
    key = _current_key()
    count, prev_id, prev_hmac = 0, None, GENESIS
    anchor_seen = anchor is None or anchor[0] == 0

    def bad(row_id: int, kind: str, detail: str) -> VerifyResult:
        return VerifyResult(False, count, row_id, kind, detail, prev_id, prev_hmac)

    try:
        for row in _rows(VERIFY_BATCH):
            expected = compute_hmac(key, row["prev_hmac"], canonical(row))
            if not hmac.compare_digest(expected, row["hmac"]):
                return bad(row["id"], "modified", "its content does not match its HMAC")
            if row["prev_hmac"] != prev_hmac:
                return bad(row["id"], *_break_kind(row, prev_id))
            if anchor is not None and row["id"] == anchor[0]:
                if not hmac.compare_digest(row["hmac"], anchor[1]):
                    return bad(
                        row["id"], "truncated", "the entry with the anchored id is not the anchored one"
                    )
                anchor_seen = True
            count, prev_id, prev_hmac = count + 1, row["id"], row["hmac"]
    except PeeweeException as exc:
        raise AuditFailure(f"the audit trail could not be read: {type(exc).__name__}: {exc}") from exc
    if not anchor_seen:
        last = "the trail is empty" if prev_id is None else f"the trail ends at id {prev_id}"
        return bad(anchor[0], "truncated", f"the anchored head id {anchor[0]} is missing; {last}")
    detail = "" if anchor is None else f"reaches the anchored head id {anchor[0]}"
    return VerifyResult(True, count, detail=detail, last_id=prev_id, last_hmac=prev_hmac)


def head() -> dict:
    """The last entry's id, hmac and time (UTC, ISO 8601) to anchor outside the system; id 0 when empty."""
    try:
        row = (
            AuditEntry.select(AuditEntry.id, AuditEntry.hmac, AuditEntry.at)
            .order_by(AuditEntry.id.desc())
            .limit(1)
            .first()
        )
    except PeeweeException as exc:
        raise AuditFailure(f"the audit trail could not be read: {type(exc).__name__}: {exc}") from exc
    if row is None:
        return {"id": 0, "hmac": GENESIS, "at": None}
    return {"id": row.id, "hmac": row.hmac, "at": _iso(row.at) + "Z"}


# What an officer must hear about (SECURITY.md: changes to someone's authenticators are shown to their
# officer; exceeding the read budget alerts the officer; counter regressions are security events).
OFFICER_NOTICE_ACTIONS = (
    "auth.credential.added",
    "auth.credential.removed",
    "auth.recovery.approved",
    "account.created",
    "account.deactivated",
    "account.role_changed",
    "security.alert",
    "security.counter_regression",
    "access.read_budget_exceeded",
)


def officer_notices(since: dt.datetime, limit: int = 50) -> list[AuditEntry]:
    """The newest security-relevant entries since a time, for the officers' home page."""
    return list(
        AuditEntry.select()
        .where(AuditEntry.action.in_(OFFICER_NOTICE_ACTIONS) & (AuditEntry.at >= since))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
