"""The one door of every portal query: what a 公社 contractor's office manages, and nothing else.

Every portal view reaches estates, units, households, members, parking lots and the agent's own
records through this module, never through a bare ``Model.select()``. The scope is the office's
wards (``ward.office_id``): their estates, those estates' units and parking lots, and the households
whose current tenancy is on one of those units (services.access decides that, the same predicate
staff scope and the access tests use; 支援措置 households are never in a contractor's scope).

Anything outside — another office's record, a missing id, a malformed id — answers 404 alike, so the
portal tells nothing about what other offices manage, and the attempt is audited as
``access.out_of_scope``. The office is read from the database on each request (never from the
session), so an officer's reassignment of a ward or a user's move to another office applies at the
next request.
"""

from __future__ import annotations

from flask import abort, g
from flask_login import current_user
from peewee import SQL

from blueprints.context import audit_context
from models import (
    Building,
    Estate,
    Household,
    HouseholdApplication,
    Inquiry,
    MoveProcedure,
    Office,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    PendingChange,
    Person,
    RepairRequest,
    Tenancy,
    Unit,
    User,
    Vehicle,
    Ward,
)
from rules.filters import today_tokyo
from services import access, audit

MAX_ID = access.MAX_ID


def _user(user=None):
    if user is not None:
        return user
    return current_user._get_current_object() if current_user.is_authenticated else None


def _as_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 0 < value <= MAX_ID else None


# --- the office -----------------------------------------------------------------------------------------


def _load_office(user) -> Office | None:
    uid = _as_id(getattr(user, "id", None))
    if uid is None:
        return None
    return (
        Office.select()
        .join(User, on=(User.office == Office.id))
        .where(
            (User.id == uid)
            & User.active
            & (User.role == "contractor")
            & (User.contract_end_date.is_null() | (User.contract_end_date >= today_tokyo()))
        )
        .first()
    )


def office_of(user=None) -> Office | None:
    """The office of a live contractor account (active, within its contract), read from the database;
    None for anyone else. Cached for the request when it is the signed-in user's."""
    user = _user(user)
    if user is None:
        return None
    cached = g.get("portal_office")
    if cached is not None and cached[0] == getattr(user, "id", None):
        return cached[1]
    office = _load_office(user)
    g.portal_office = (getattr(user, "id", None), office)
    return office


def office_or_403(user=None) -> Office:
    """The office, or 403: a contractor account without an office (or past its contract) has no portal."""
    office = office_of(user)
    if office is None:
        abort(403)
    return office


def _office_id(user=None) -> int:
    office = office_of(user)
    return office.id if office is not None else 0  # 0: no office matches, the queries return nothing


# --- collections ----------------------------------------------------------------------------------------


def wards(user=None):
    """The wards the office manages."""
    return Ward.select().where(Ward.office == _office_id(user))


def estates(user=None):
    """The estates in the office's wards (a query of Estate, ordered by code)."""
    return Estate.select().join(Ward).where(Ward.office == _office_id(user)).order_by(Estate.code)


def estate_ids(user=None):
    """The ids of the office's estates, as a subquery."""
    return Estate.select(Estate.id).join(Ward).where(Ward.office == _office_id(user))


def units(user=None):
    """The units of the office's estates (a query of Unit joined to Building and Estate)."""
    return (
        Unit.select(Unit, Building, Estate).join(Building).join(Estate).where(Estate.id.in_(estate_ids(user)))
    )


def unit_ids(user=None):
    """The ids of the office's units, as a subquery."""
    return Unit.select(Unit.id).join(Building).where(Building.estate.in_(estate_ids(user)))


def household_ids(user=None):
    """The ids of the households in the office's scope (services.access), as a subquery."""
    return access.visible_households(_user(user))


def households(user=None):
    """The households whose current tenancy's unit is in an estate of a ward managed by the user's
    office (never a 支援措置 household): a query of Household."""
    return Household.select().where(Household.id.in_(household_ids(user)))


def parking_lots(user=None):
    """The parking lots of the office's estates."""
    return ParkingLot.select(ParkingLot, Estate).join(Estate).where(Estate.id.in_(estate_ids(user)))


def procedures(user=None):
    """Move-in/out procedures of tenancies of the office's households."""
    return (
        MoveProcedure.select(MoveProcedure, Tenancy)
        .join(Tenancy)
        .where(Tenancy.household.in_(household_ids(user)))
    )


def applications(user=None):
    """Household-change applications of the office's households."""
    return HouseholdApplication.select().where(HouseholdApplication.household.in_(household_ids(user)))


def inquiries(user=None):
    """Inquiries logged through the portal (an office is set) about the office's households, and those
    the office logged without a household. Inquiries city staff logged (no office) stay with the city:
    their free text may speak of income or welfare, which the portal never shows."""
    office_id = _office_id(user)
    return Inquiry.select().where(
        (Inquiry.household.in_(household_ids(user)) & Inquiry.office.is_null(False))
        | (Inquiry.household.is_null() & (Inquiry.office == office_id))
    )


def repairs(user=None):
    """Repair requests of the office's units (a unit stays the office's whoever lives there)."""
    return RepairRequest.select().where(RepairRequest.unit.in_(unit_ids(user)))


# --- one record, or 404 ---------------------------------------------------------------------------------


def not_found(table: str, record_id) -> None:
    """Audit an attempt at a record outside the office (or missing) and answer 404."""
    rid = _as_id(record_id)
    audit.record(
        "access.out_of_scope",
        target_table=table,
        target_ids=[rid] if rid is not None else None,
        outcome="denied",
        **audit_context(),
    )
    abort(404)


def household_or_404(household_id, *, fields=None, change: bool = False) -> Household:
    """The household if the office manages it, else 404 (audited). A view (change False) is audited as
    ``portal.household.view`` and counts against the read budget (429 past it); a change is only
    scope-checked here, its own audit entry comes with the write."""
    user = _user()
    office_or_403(user)
    try:
        if change:
            return access.household_for_change(user, household_id, **audit_context())
        return access.require_household(
            user, household_id, action="portal.household.view", fields=fields, **audit_context()
        )
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)


def _one(query, model, table: str, record_id):
    rid = _as_id(record_id)
    row = query.where(model.id == rid).first() if rid is not None else None
    if row is None:
        not_found(table, record_id)
    return row


def estate_or_404(estate_id) -> Estate:
    """One of the office's estates, else 404."""
    return _one(estates(), Estate, "estate", estate_id)


def unit_or_404(unit_id) -> Unit:
    """One of the office's units (with its building and estate), else 404."""
    return _one(units(), Unit, "unit", unit_id)


def parking_lot_or_404(lot_id) -> ParkingLot:
    """One of the office's parking lots, else 404."""
    return _one(parking_lots(), ParkingLot, "parking_lot", lot_id)


def person_or_404(household: Household, person_id) -> Person:
    """A member (current or past) of a household already in scope, else 404."""
    query = Person.select().where(Person.household == household.id)
    return _one(query, Person, "person", person_id)


def tenancy_or_404(household: Household, tenancy_id) -> Tenancy:
    """A tenancy of a household already in scope whose unit is the office's, else 404."""
    query = (
        Tenancy.select(Tenancy, Unit, Building, Estate)
        .join(Unit)
        .join(Building)
        .join(Estate)
        .where((Tenancy.household == household.id) & Estate.id.in_(estate_ids()))
    )
    return _one(query, Tenancy, "tenancy", tenancy_id)


def procedure_or_404(procedure_id) -> MoveProcedure:
    """A move-in/out procedure of one of the office's households, else 404."""
    return _one(procedures(), MoveProcedure, "move_procedure", procedure_id)


def application_or_404(application_id) -> HouseholdApplication:
    """A household-change application of one of the office's households, else 404."""
    return _one(applications(), HouseholdApplication, "household_application", application_id)


def inquiry_or_404(inquiry_id) -> Inquiry:
    """An inquiry of one of the office's households (or the office's own), else 404."""
    return _one(inquiries(), Inquiry, "inquiry", inquiry_id)


def repair_or_404(repair_id) -> RepairRequest:
    """A repair request on one of the office's units, else 404."""
    return _one(repairs(), RepairRequest, "repair_request", repair_id)


def pending_changes(user=None):
    """The office's own changes waiting for (or decided by) the city, of households still in its scope."""
    return PendingChange.select().where(
        (PendingChange.office == _office_id(user)) & PendingChange.household.in_(household_ids(user))
    )


def pending_change_or_404(change_id) -> PendingChange:
    """One of the office's changes (of a household in scope), else 404."""
    return _one(pending_changes(), PendingChange, "pending_change", change_id)


def contract_or_404(household: Household, contract_id) -> ParkingContract:
    """A parking contract (with its space and lot) of a household already in scope, else 404."""
    query = (
        ParkingContract.select(ParkingContract, ParkingSpace, ParkingLot)
        .join(ParkingSpace)
        .join(ParkingLot)
        .where(ParkingContract.household == household.id)
    )
    return _one(query, ParkingContract, "parking_contract", contract_id)


def vehicle_or_404(household: Household, vehicle_id) -> Vehicle:
    """A vehicle (with its contract) registered on a contract of a household already in scope, else 404."""
    query = (
        Vehicle.select(Vehicle, ParkingContract)
        .join(ParkingContract)
        .where(ParkingContract.household == household.id)
    )
    return _one(query, Vehicle, "vehicle", vehicle_id)


def in_scope(query, column, user=None):
    """Restrict any query on a household-owned table to the office's households (for modules that add
    their own records: ``scoped.in_scope(Vehicle.select().join(...), ParkingContract.household)``)."""
    return query.where(column.in_(household_ids(user)))


def nothing(model):
    """An empty query of model (for a user without an office)."""
    return model.select().where(SQL("1 = 0"))
