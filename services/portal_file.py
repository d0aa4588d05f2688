"""What the 公社 portal shows of one household: a fixed allow-list of columns, nothing else.

SPEC §5 lets the agent look up a household's name, kana, unit, contacts, members and relations,
guarantors, parking and balance due; §1 says it never sees a My Number, tax or welfare details. This
loader selects only the permitted columns (the rows it returns do not even carry the others), so no
template can show what was never read:

- never read: My Number (not even masked), incomes and declarations, rent decisions and reductions,
  生活保護 (periods, amounts, case numbers, the flag itself), disability kind and grade, nationality,
  宛名番号, 特認 category and reason, 収入超過/高額所得 flags, deposits and settlements, notes,
  support-measure (DV) data (such households are outside a contractor's scope anyway);
- 代理納付 is read as a payment method only (who pays the rent: the household or the welfare office);
  the portal shows "代理納付" beside the balance, never the welfare record behind it;
- bank accounts are read as bank and branch codes with the number masked to its last 3 digits
  (household_file.mask_account), never the holder's name;
- the balance due is services.billing.totals (未納額, of which overdue, months overdue), without the
  charges' detail (a rent amount would tell the household's income bracket).

The caller has checked the scope and written the audit entry (blueprints/portal/scoped.py). Like the
other services it never reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN

from models import (
    BankTransfer,
    Building,
    Estate,
    Guarantor,
    Household,
    HouseholdApplication,
    Inquiry,
    MoveProcedure,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Person,
    RepairRequest,
    Tenancy,
    Unit,
    User,
    Vehicle,
    Ward,
)
from rules import wareki
from rules.filters import today_tokyo
from services import billing
from services.household_file import mask_account

# The columns the portal may read, per table (tests/test_portal_canary.py checks the page against the rest).
HOUSEHOLD_COLUMNS = (
    Household.id,
    Household.household_no,
    Household.status,
    Household.first_move_in_date,
    Household.permit_type,
    Household.permit_end_date,
    Household.mail_name,
    Household.mail_postal_code,
    Household.mail_address,
    Household.contact_name,
    Household.contact_phone,
    Household.proxy_payment,
    Household.version,
)
PERSON_COLUMNS = (
    Person.id,
    Person.household,
    Person.name,
    Person.name_kana,
    Person.birth_date,
    Person.sex,
    Person.relation,
    Person.is_head,
    Person.member_from,
    Person.member_to,
    Person.leave_reason,
    Person.deceased_on,
    Person.postal_code,
    Person.address,
    Person.phone,
)
TENANCY_COLUMNS = (
    Tenancy.id,
    Tenancy.household,
    Tenancy.unit,
    Tenancy.move_in_date,
    Tenancy.move_out_date,
    Tenancy.status,
    Tenancy.reason,
)
GUARANTOR_COLUMNS = (
    Guarantor.id,
    Guarantor.kind,
    Guarantor.name,
    Guarantor.name_kana,
    Guarantor.relation,
    Guarantor.postal_code,
    Guarantor.address,
    Guarantor.phone,
    Guarantor.appointed_on,
    Guarantor.dismissed_on,
)
CONTRACT_COLUMNS = (
    ParkingContract.id,
    ParkingContract.space,
    ParkingContract.user_person,
    ParkingContract.start_date,
    ParkingContract.end_date,
    ParkingContract.monthly_fee,
    ParkingContract.status,
)
VEHICLE_COLUMNS = (
    Vehicle.id,
    Vehicle.contract,
    Vehicle.registration_no,
    Vehicle.model,
    Vehicle.owner_name,
    Vehicle.user_name,
    Vehicle.inspection_expiry,
    Vehicle.valid_from,
    Vehicle.valid_to,
)

# What the portal's page names in its audit entry (the sections it shows).
SECTION_NAMES = [
    "世帯",
    "住戸",
    "世帯員",
    "連絡先",
    "連帯保証人・緊急連絡人",
    "駐車場",
    "未納額",
    "公社の記録",
]


@dataclass
class Member:
    person: Person
    age: int | None


@dataclass
class Contract:
    contract: ParkingContract
    vehicles: list[Vehicle]


@dataclass
class Transfer:
    purpose: str
    bank_code: str
    branch_code: str
    account_type: str
    masked_number: str
    valid_from: dt.date


@dataclass
class PortalFile:
    household: Household  # only HOUSEHOLD_COLUMNS loaded
    today: dt.date
    current_tenancy: Tenancy | None
    tenancies: list[Tenancy]
    head: Person | None
    members: list[Member]
    former_members: list[Member]
    guarantors: list[Guarantor]
    contracts: list[Contract]
    balance: billing.Totals
    transfers: list[Transfer]
    procedures: list[MoveProcedure] = field(default_factory=list)
    applications: list[HouseholdApplication] = field(default_factory=list)
    inquiries: list[Inquiry] = field(default_factory=list)
    repairs: list[RepairRequest] = field(default_factory=list)


def _current(start, end, today) -> bool:
    return (start is None or start <= today) and (end is None or end >= today)


def household_row(household_id: int) -> Household:
    """The household with the permitted columns only."""
    return Household.select(*HOUSEHOLD_COLUMNS).where(Household.id == household_id).get()


def tenancies_of(household_id: int) -> list[Tenancy]:
    """The household's tenancies with unit, building, estate and ward (newest first), permitted columns."""
    return list(
        Tenancy.select(*TENANCY_COLUMNS, Unit, Building, Estate, Ward)
        .join(Unit)
        .join(Building)
        .join(Estate)
        .join(Ward)
        .where(Tenancy.household == household_id)
        .order_by(Tenancy.move_in_date.desc(), Tenancy.id.desc())
    )


def members_of(household_id: int, today: dt.date) -> tuple[list[Member], list[Member]]:
    """Current and former members, permitted columns only (no disability, nationality, 宛名番号)."""
    current, former = [], []
    for person in (
        Person.select(*PERSON_COLUMNS)
        .where(Person.household == household_id)
        .order_by(Person.is_head.desc(), Person.member_from, Person.birth_date, Person.id)
    ):
        age = wareki.age_on(person.birth_date, today) if person.deceased_on is None else None
        is_current = person.member_to is None or person.member_to >= today
        (current if is_current else former).append(Member(person, age))
    return current, former


def load(household_id: int, *, today: dt.date | None = None) -> PortalFile:
    """Everything the portal's household page shows (a fixed number of queries)."""
    today = today or today_tokyo()
    household = household_row(household_id)
    tenancies = tenancies_of(household_id)
    current_tenancy = next(
        (t for t in tenancies if t.status == "active"), tenancies[0] if tenancies else None
    )
    members, former = members_of(household_id, today)
    head = next((m.person for m in members if m.person.is_head), None)
    guarantors = [
        g
        for g in Guarantor.select(*GUARANTOR_COLUMNS)
        .where(Guarantor.household == household_id)
        .order_by(Guarantor.kind.desc(), Guarantor.appointed_on.desc())
        if _current(g.appointed_on, g.dismissed_on, today)
    ]
    user_person = Person.alias("parking_user")
    contracts = list(
        ParkingContract.select(
            *CONTRACT_COLUMNS,
            ParkingSpace.id,
            ParkingSpace.space_no,
            ParkingLot.id,
            ParkingLot.name,
            ParkingLot.code,
            user_person.id,
            user_person.name,
        )
        .join(ParkingSpace)
        .join(ParkingLot)
        .switch(ParkingContract)
        .join(user_person, JOIN.LEFT_OUTER, on=(ParkingContract.user_person == user_person.id))
        .where(ParkingContract.household == household_id)
        .order_by(ParkingContract.status, ParkingContract.start_date.desc())
    )
    vehicles = defaultdict(list)
    for vehicle in (
        Vehicle.select(*VEHICLE_COLUMNS)
        .join(ParkingContract)
        .where(ParkingContract.household == household_id)
        .order_by(Vehicle.valid_from.desc(), Vehicle.id)
    ):
        vehicles[vehicle.contract_id].append(vehicle)
    transfers = [
        Transfer(
            purpose=t.purpose,
            bank_code=t.bank_code,
            branch_code=t.branch_code,
            account_type=t.account_type,
            masked_number=mask_account(t.account_number),
            valid_from=t.valid_from,
        )
        for t in BankTransfer.select(
            BankTransfer.purpose,
            BankTransfer.bank_code,
            BankTransfer.branch_code,
            BankTransfer.account_type,
            BankTransfer.account_number,
            BankTransfer.valid_from,
            BankTransfer.valid_to,
        )
        .where(BankTransfer.household == household_id)
        .order_by(BankTransfer.purpose.desc(), BankTransfer.valid_from.desc())
        if _current(t.valid_from, t.valid_to, today)
    ]
    recorder = User.alias("recorder")
    return PortalFile(
        household=household,
        today=today,
        current_tenancy=current_tenancy,
        tenancies=tenancies,
        head=head,
        members=members,
        former_members=former,
        guarantors=guarantors,
        contracts=[Contract(c, vehicles[c.id]) for c in contracts],
        balance=billing.totals(household_id, today),
        transfers=transfers,
        procedures=list(
            MoveProcedure.select(MoveProcedure, Tenancy.id, Tenancy.move_in_date, recorder.display_name)
            .join(Tenancy)
            .switch(MoveProcedure)
            .join(recorder, on=(MoveProcedure.recorded_by == recorder.id), attr="recorded_by")
            .where(Tenancy.household == household_id)
            .order_by(MoveProcedure.created_at.desc(), MoveProcedure.id.desc())
        ),
        applications=list(
            HouseholdApplication.select()
            .where(HouseholdApplication.household == household_id)
            .order_by(HouseholdApplication.received_on.desc(), HouseholdApplication.id.desc())
        ),
        inquiries=list(
            # Only what was logged through the portal (an office is set): the city's own notes stay with it.
            Inquiry.select()
            .where((Inquiry.household == household_id) & Inquiry.office.is_null(False))
            .order_by(Inquiry.received_at.desc(), Inquiry.id.desc())
            .limit(20)
        ),
        repairs=list(
            RepairRequest.select()
            .where(RepairRequest.household == household_id)
            .order_by(RepairRequest.received_on.desc(), RepairRequest.id.desc())
            .limit(20)
        ),
    )


def audit_list(action: str, household_ids, fields: list[str], *, rows: int, **context) -> None:
    """A list naming households (the portal's lists, the city's list of applications): one entry naming
    the households shown, as the staff lists do (services.parking.audit_inspections)."""
    from extensions import db
    from services import audit

    with db.atomic():
        audit.record(
            action,
            target_table="household",
            target_ids=sorted({hid for hid in household_ids if hid is not None}),
            fields=fields,
            reason=f"rows={rows}",
            **context,
        )
