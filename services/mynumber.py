"""My Number (個人番号) use cases: store through the vault, masked display, audited reveal, lookup,
key rotation and deletion. The clear number exists only in memory, for the moment it is needed.

Callers pass the request context (actor, session_ref, ip) for the audit trail; this module never
reads the request itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from extensions import db
from models import DeletionRecord, PendingMyNumber, Person, PersonalNumber, utcnow
from rules import mynumber
from services import audit
from services.vault import Keyring

TABLE, COLUMN = "personal_number", "ciphertext"
HELD_TABLE = "pending_my_number"  # numbers typed on the portal, held until the city approves them
REVEAL_ROLES = frozenset({"staff", "officer"})
STEP_UP_WINDOW = dt.timedelta(minutes=5)

# The seven purposes of use (使用目的) of the assessment: a reveal must name one.
PURPOSES = (
    ("eligibility", "入居資格確認(所得要件・在住要件等)"),
    ("rent_deposit", "家賃決定・敷金決定"),
    ("income_inquiry", "収入申告書の提出・各種所得情報の照会"),
    ("annual_rent", "毎年度ごとの使用料の決定と通知"),
    ("over_income", "収入超過者に対する認定と通知"),
    ("high_income", "高額所得者に対する認定と明渡請求"),
    ("other", "その他(不正入居の検出、世帯情報の変更確認、滞納世帯の所得把握)"),
)
PURPOSE_CODES = frozenset(code for code, _ in PURPOSES)


class MyNumberError(ValueError):
    """The number cannot be accepted (message in Japanese, never containing the number)."""


class RevealRefused(PermissionError):
    """A reveal that the rules do not allow; the refusal is in the audit trail."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def encrypt_for(keyring: Keyring, number: str, person_id: int) -> tuple[bytes, str]:
    """Encrypt a (validated) number for one member. The associated data binds the ciphertext to the
    member (personal_number|ciphertext|person id|key id): moved to another row, it does not decrypt."""
    return keyring.encrypt(number, table=TABLE, column=COLUMN, row_id=person_id)


def decrypt_row(row: PersonalNumber, keyring: Keyring) -> str:
    """The clear number of a vault row (in memory only)."""
    return keyring.decrypt(
        bytes(row.ciphertext), row.key_id, table=TABLE, column=COLUMN, row_id=row.person_id
    )


def store(
    person: Person,
    raw_number: str,
    *,
    checked_against_document: bool,
    keyring: Keyring,
    actor=None,
    **context,
) -> PersonalNumber:
    """Validate (check digit), encrypt and save a member's number; audited without the number."""
    try:
        number = mynumber.normalize(raw_number)
    except ValueError as exc:
        raise MyNumberError(str(exc)) from None
    if not checked_against_document:
        # The check digit misses about 1.6% of single-digit typos: the clerk confirms against the card.
        raise MyNumberError("個人番号カード等の書類と照合したことを確認してください。")
    blob, key_id = encrypt_for(keyring, number, person.id)
    index = keyring.blind_index(number)
    with db.atomic():
        row = PersonalNumber.get_or_none(PersonalNumber.person == person.id)
        action = "my_number.replace" if row else "my_number.store"
        if row is None:
            row = PersonalNumber(person=person.id)
        row.ciphertext, row.key_id, row.blind_index = blob, key_id, index
        row.checked_against_document = True
        row.entered_by = actor.id if actor is not None else None
        row.updated_at = utcnow()
        row.save()
        audit.record(
            action, actor=actor, target_table="person", target_ids=[person.id], fields=["個人番号"], **context
        )
    return row


def encrypt_held(keyring: Keyring, number: str, change_id: int, person_id: int) -> tuple[bytes, str]:
    """Encrypt a number typed on the portal for one member of one pending change: the associated data
    (pending_my_number|ciphertext|<change id>:<person id>|key id) binds it to both."""
    return keyring.encrypt(number, table=HELD_TABLE, column=COLUMN, row_id=f"{change_id}:{person_id}")


def decrypt_held(row: PendingMyNumber, keyring: Keyring) -> str:
    """The clear number of a held row (in memory only); VaultError when it does not decrypt."""
    return keyring.decrypt(
        bytes(row.ciphertext),
        row.key_id,
        table=HELD_TABLE,
        column=COLUMN,
        row_id=f"{row.change_id}:{row.person_id}",
    )


def _clear(row: PersonalNumber, keyring: Keyring) -> str:
    return keyring.decrypt(
        bytes(row.ciphertext), row.key_id, table=TABLE, column=COLUMN, row_id=row.person_id
    )


def masked(person_id: int, keyring: Keyring) -> str | None:
    """`********1234` for a member with a number, None without one (SPEC §6: at most the last four)."""
    row = PersonalNumber.get_or_none(PersonalNumber.person == person_id)
    return mynumber.mask(decrypt_row(row, keyring)) if row else None


def masked_many(person_ids, keyring: Keyring) -> dict[int, str]:
    """{person id: `********1234`} for the members with a number, in one query (a household's page)."""
    ids = list(person_ids)
    if not ids:
        return {}
    rows = PersonalNumber.select().where(PersonalNumber.person.in_(ids))
    return {row.person_id: mynumber.mask(decrypt_row(row, keyring)) for row in rows}


def reveal(
    person_id: int,
    *,
    purpose: str,
    stepped_up_at: dt.datetime | None,
    keyring: Keyring,
    actor,
    now: dt.datetime | None = None,
    **context,
) -> str:
    """The full number for an authorised user: staff/officer role, one of the seven purposes, a WebAuthn
    re-authentication within five minutes. Every attempt is audited, refused ones included."""
    now = now or utcnow()
    reason = None
    if actor is None or actor.role not in REVEAL_ROLES:
        reason = "role"
    elif purpose not in PURPOSE_CODES:
        reason = "purpose"
    elif stepped_up_at is None or now - stepped_up_at > STEP_UP_WINDOW:
        reason = "step-up"
    row = PersonalNumber.get_or_none(PersonalNumber.person == person_id) if reason is None else None
    if reason is None and row is None:
        reason = "no number"
    if reason is not None:
        with db.atomic():
            audit.record(
                "my_number.reveal",
                actor=actor,
                target_table="person",
                target_ids=[person_id],
                purpose=purpose if purpose in PURPOSE_CODES else None,
                outcome="denied",
                reason=reason,
                **context,
            )
        raise RevealRefused(reason)
    with db.atomic():
        audit.record(
            "my_number.reveal",
            actor=actor,
            target_table="person",
            target_ids=[person_id],
            fields=["個人番号"],
            purpose=purpose,
            **context,
        )
    return decrypt_row(row, keyring)


def find_person_ids(raw_number: str, keyring: Keyring) -> list[int]:
    """Members whose number matches exactly (blind index): for imports and matching."""
    number = mynumber.normalize(raw_number)
    index = keyring.blind_index(number)
    return [
        r.person_id
        for r in PersonalNumber.select(PersonalNumber.person).where(PersonalNumber.blind_index == index)
    ]


# The tables holding My Numbers under a data key: the vault, and the numbers held for pending changes
# (a key is retired only once both are re-encrypted, or approving a held number would fail).
_ENCRYPTED = (
    (PersonalNumber, decrypt_row, lambda keyring, number, row: encrypt_for(keyring, number, row.person_id)),
    (
        PendingMyNumber,
        decrypt_held,
        lambda keyring, number, row: encrypt_held(keyring, number, row.change_id, row.person_id),
    ),
)


def to_rotate(keyring: Keyring) -> int:
    """How many values are not under the active key (what rotate() has left to do)."""
    return sum(
        model.select().where(model.key_id != keyring.active_key_id).count() for model, _d, _e in _ENCRYPTED
    )


def rotate(keyring: Keyring, batch_size: int = 500, progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every value not under the active key (vault and held numbers), a batch per transaction.

    Idempotent and resumable: rows already under the active key are skipped, so a run stopped half-way
    (even by kill -9) is finished by running it again. Returns how many rows were re-encrypted.
    """
    active = keyring.active_key_id
    done = 0
    for model, decrypt, encrypt in _ENCRYPTED:
        while True:
            with db.atomic():
                rows = list(model.select().where(model.key_id != active).order_by(model.id).limit(batch_size))
                for row in rows:
                    blob, key_id = encrypt(keyring, decrypt(row, keyring), row)
                    model.update(ciphertext=blob, key_id=key_id, updated_at=utcnow()).where(
                        model.id == row.id
                    ).execute()
                if rows:
                    audit.record(
                        "my_number.rotate",
                        target_table=model._meta.table_name,
                        target_ids=[r.id for r in rows],
                        reason=f"re-encrypted under {active}",
                    )
            done += len(rows)
            if progress:
                progress(len(rows))
            if len(rows) < batch_size:
                break
    return done


def delete(person_id: int, *, reason: str, actor=None, **context) -> bool:
    """Delete a member's number once it is no longer needed, leaving a record of the deletion."""
    with db.atomic():
        deleted = PersonalNumber.delete().where(PersonalNumber.person == person_id).execute()
        if deleted:
            DeletionRecord.create(
                kind="my_number",
                subject_table="person",
                subject_id=person_id,
                reason=reason,
                deleted_by=actor.id if actor is not None else None,
            )
            audit.record(
                "my_number.delete",
                actor=actor,
                target_table="person",
                target_ids=[person_id],
                reason=reason,
                **context,
            )
    return bool(deleted)
