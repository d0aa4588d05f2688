"""The 公社 offices and the wards each manages (Ward.office): what decides a contractor's scope.

An officer reassigns a ward to another office (or to none) when the 公社 reorganises its offices. The
change is one audited update of the ward with optimistic locking (two officers editing the same ward
never overwrite each other silently); the contractors of both offices see the new scope at their next
request, since the portal reads the office from the database each time (blueprints/portal/scoped.py).
Like the other services this module never reads the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from peewee import JOIN, fn

from models import Estate, Office, User, Ward
from rules.filters import today_tokyo
from services import editing
from services.editing import RuleViolation


@dataclass
class OfficeRow:
    office: Office
    wards: list[Ward] = field(default_factory=list)
    estates: int = 0
    contractors: int = 0  # live accounts: active and within their contract


def overview() -> tuple[list[OfficeRow], list[Ward]]:
    """Every office with its wards, the number of estates and of live contractor accounts; and the
    wards no office manages (their estates are in no contractor's scope)."""
    rows = {o.id: OfficeRow(o) for o in Office.select().order_by(Office.code)}
    estates = dict(Estate.select(Estate.ward, fn.COUNT(Estate.id)).group_by(Estate.ward).tuples())
    unassigned = []
    for ward in Ward.select().order_by(Ward.code):
        ward.estate_count = estates.get(ward.id, 0)
        if ward.office_id in rows:
            rows[ward.office_id].wards.append(ward)
            rows[ward.office_id].estates += ward.estate_count
        else:
            unassigned.append(ward)
    live = (
        User.select(User.office, fn.COUNT(User.id))
        .where(
            (User.role == "contractor")
            & User.active
            & (User.contract_end_date.is_null() | (User.contract_end_date >= today_tokyo()))
        )
        .group_by(User.office)
        .tuples()
    )
    for office_id, count in live:
        if office_id in rows:
            rows[office_id].contractors = count
    return list(rows.values()), unassigned


def ward_with_office(ward_id: int) -> Ward | None:
    """The ward with its office (None when there is no such ward)."""
    return Ward.select(Ward, Office).join(Office, JOIN.LEFT_OUTER).where(Ward.id == ward_id).first()


def reassign_ward(
    ward: Ward, expected_version: int, office_id: int | None, *, actor=None, session_ref=None, ip=None
) -> dict:
    """Give the ward's estates to another office (None: to no office). Audited as ward.reassign;
    ConflictError when the ward changed since it was read; RuleViolation for an unknown office."""
    if office_id is not None and not Office.select().where(Office.id == office_id).exists():
        raise RuleViolation(_l("一覧から選んでください。"), field="office")
    return editing.update(
        ward,
        expected_version,
        {"office": office_id},
        household_id=None,
        action="ward.reassign",
        actor=actor,
        session_ref=session_ref,
        ip=ip,
    )
