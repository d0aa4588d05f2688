"""A member's records beyond a one-column edit: 生活保護 periods that never overlap, and registering a
My Number that no other member holds.

    period = member_records.create_welfare_period(person, values, household_id=7, **audit_context())
    member_records.register_my_number(person, raw, checked_against_document=True, keyring=keyring,
                                      household_id=7, **audit_context())

Each runs in one transaction with its audit entries. The checks that read other rows (overlapping
periods, a number held by someone else) run inside that transaction under a lock, so two clerks
saving at the same moment cannot both pass them: on SQLite every transaction begins IMMEDIATE (one
writer at a time); on PostgreSQL the member's row is locked (FOR UPDATE) or, for My Numbers, a
transaction-level advisory lock is taken. Like the other services it never reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from extensions import db, is_sqlite
from models import Person, PersonalNumber, WelfarePeriod
from rules import mynumber as mynumber_rules
from rules import wareki
from services import audit, editing, mynumber
from services.vault import Keyring

# pg_advisory_xact_lock key serialising My Number registrations ("mynum" in ASCII).
PG_MY_NUMBER_LOCK = 0x6D796E756D


class DuplicateNumber(ValueError):
    """The number is already registered for another member (who holds it is not said)."""


def lock_person(person_id: int) -> None:
    """Hold the member's row until the transaction ends (PostgreSQL); SQLite already has the write lock."""
    if not is_sqlite():
        list(Person.select(Person.id).where(Person.id == person_id).for_update())


# --- 生活保護 periods ----------------------------------------------------------------------------------


def overlapping_period(
    person_id: int, start: dt.date, end: dt.date | None, exclude_id: int | None = None
) -> WelfarePeriod | None:
    """Another period of the member that shares a day with start..end (both inclusive; None = open)."""
    query = WelfarePeriod.select().where(
        (WelfarePeriod.person == person_id)
        & (WelfarePeriod.end_date.is_null() | (WelfarePeriod.end_date >= start))
    )
    if end is not None:
        query = query.where(WelfarePeriod.start_date <= end)
    if exclude_id is not None:
        query = query.where(WelfarePeriod.id != exclude_id)
    return query.order_by(WelfarePeriod.start_date).first()


def check_welfare_period(
    person_id: int, start: dt.date, end: dt.date | None, exclude_id: int | None = None
) -> None:
    """RuleViolation (on 開始日) when the period would overlap another period of the same member.

    Call inside the transaction that writes the period, after lock_person."""
    other = overlapping_period(person_id, start, end, exclude_id)
    if other is None:
        return
    # Lazy: the message is put into words when shown (in the user's language), not here.
    until = wareki.to_wareki(other.end_date) if other.end_date else _l("継続中")
    raise editing.RuleViolation(
        _l(
            "ほかの生活保護の期間（%(start)s〜%(end)s）と重なっています。期間を確認してください。",
            start=wareki.to_wareki(other.start_date),
            end=until,
        ),
        field="start_date",
    )


def checked_welfare_values(period: WelfarePeriod, values: Mapping) -> dict:
    """The values of an edited period, once the member is locked and no other period overlaps them."""
    lock_person(period.person_id)
    start = values.get("start_date", period.start_date)
    end = values.get("end_date", period.end_date)
    check_welfare_period(period.person_id, start, end, exclude_id=period.id)
    return dict(values)


def create_welfare_period(
    person: Person, values: Mapping, *, household_id: int, actor=None, session_ref=None, ip=None
) -> WelfarePeriod:
    """Add a 生活保護 period to a member (refused when it overlaps another), audited on the household."""
    with db.atomic():
        lock_person(person.id)
        check_welfare_period(person.id, values["start_date"], values.get("end_date"))
        return editing.create(
            WelfarePeriod,
            {"person": person.id, **values},
            household_id=household_id,
            action="welfare_period.create",
            actor=actor,
            session_ref=session_ref,
            ip=ip,
        )


# --- My Number ----------------------------------------------------------------------------------------


def register_my_number(
    person: Person,
    raw_number: str,
    *,
    checked_against_document: bool,
    keyring: Keyring,
    household_id: int,
    actor=None,
    session_ref=None,
    ip=None,
) -> PersonalNumber:
    """Store (or replace) a member's My Number through services.mynumber, refusing a number another
    member already holds (blind index). The household's history gets an entry naming the field only.

    mynumber.MyNumberError for an invalid number or a missing confirmation; DuplicateNumber when the
    number belongs to someone else (the refusal is audited, without the number and without the holder).
    """
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    try:
        number = mynumber_rules.normalize(raw_number)
    except ValueError as exc:
        raise mynumber.MyNumberError(str(exc)) from None
    if not checked_against_document:
        raise mynumber.MyNumberError("個人番号カード等の書類と照合したことを確認してください。")
    duplicate = False
    with db.atomic():
        if not is_sqlite():
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (PG_MY_NUMBER_LOCK,))
        holders = mynumber.find_person_ids(number, keyring)
        duplicate = any(holder != person.id for holder in holders)
        if not duplicate:
            row = mynumber.store(person, number, checked_against_document=True, keyring=keyring, **context)
            audit.record(
                "person.my_number",
                target_table="household",
                target_ids=[household_id],
                fields=["personal_number.ciphertext"],
                reason=f"person {person.id}",
                **context,
            )
    if duplicate:
        with db.atomic():
            audit.record(
                "my_number.store",
                target_table="person",
                target_ids=[person.id],
                fields=["個人番号"],
                outcome="denied",
                reason="duplicate",
                **context,
            )
        raise DuplicateNumber("duplicate")
    return row
