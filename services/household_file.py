"""The household file (入居者情報ファイル, 別添1) of one household, loaded for reading in a fixed number
of queries: one per section whatever the number of members, charges or payments (no N+1).

    file = load(household, keyring=keyring_for(app.config))

Returns plain dataclasses the template renders; every related row the template touches is joined or
grouped here, so rendering runs no query. Like the other services it never reads the request; the
caller has already checked access (services.access.require_household) and written the audit entry.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN, ForeignKeyField, fn

from models import (
    ArrearsAction,
    AuditEntry,
    BankTransfer,
    Building,
    Certification,
    Charge,
    Estate,
    EvictionRequest,
    Guarantor,
    Household,
    HouseholdEvent,
    IncomeDeclaration,
    Inquiry,
    InstallmentPlan,
    MemberIncome,
    Notice,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Payment,
    Person,
    RentDecision,
    RentReduction,
    Tenancy,
    Unit,
    User,
    Vehicle,
    Ward,
    WelfarePeriod,
)
from models.base import CodeField, YenField
from models.billing import CHARGE_KINDS
from rules import formatting, wareki
from rules.filters import today_tokyo
from services import audit, mynumber

# The sections of the page, in order: (anchor id, Japanese heading). The view audits these names.
SECTIONS = (
    ("household", "世帯"),
    ("members", "世帯員"),
    ("guarantors", "連帯保証人・緊急連絡人"),
    ("income", "収入申告・政令月収"),
    ("rent", "家賃決定"),
    ("reductions", "減免"),
    ("charges", "調定・収納"),
    ("transfers", "口座振替登録"),
    ("parking", "駐車場"),
    ("arrears", "滞納対応"),
    ("inquiries", "問合せ"),
    ("notices", "発行した通知"),
    ("history", "履歴"),
)
SECTION_NAMES = [name for _, name in SECTIONS]
SECTION_IDS = frozenset(id_ for id_, _ in SECTIONS)

# The tables whose changes each section's history shows ("table.column" in the audit entry's fields).
SECTION_TABLES = {
    "household": ("household", "tenancy"),
    "members": ("person", "welfare_period", "personal_number"),
    "guarantors": ("guarantor",),
    "income": ("income_declaration", "member_income", "remote_dependent"),
    "rent": ("rent_decision", "rent_review", "eviction_request"),
    "reductions": ("rent_reduction",),
    "charges": ("charge", "payment"),
    "transfers": ("bank_transfer",),
    "parking": ("parking_contract", "vehicle"),
    "arrears": ("arrears_action", "installment_plan"),
    "inquiries": ("inquiry",),
    "notices": ("notice",),
    "history": ("household_event",),
}
CHANGE_ROWS = 200
SINGLE_TARGET_LENGTH = 32  # the condition of the index audit_entry_single_target (migration 0009)  # the last change entries read for the sections' histories

AUDIT_ROWS = 20  # the last entries about the household shown in the history section
ARREARS_WARNING_MONTHS = 3  # 条例: 3 months or more of unpaid rent makes the household an eviction case


def label(instance, name: str) -> str:
    """The Japanese label of a coded column's value (CodeField.label), "" when empty."""
    value = getattr(instance, name)
    if value is None:
        return ""
    return type(instance)._meta.fields[name].label(value)


def mask_account(number: str | None) -> str:
    """An account number but for its last 3 digits: ****567 (SECURITY.md field scope)."""
    if not number:
        return ""
    return "*" * max(0, len(number) - 3) + number[-3:]


# --- the structure the template renders ------------------------------------------------------------


@dataclass
class Member:
    person: Person
    current: bool
    age: int | None
    masked_number: str | None
    welfare: list[WelfarePeriod] = field(default_factory=list)
    on_welfare: bool = False


@dataclass
class GuarantorRow:
    guarantor: Guarantor
    current: bool


@dataclass
class Declaration:
    declaration: IncomeDeclaration
    incomes: list[MemberIncome]
    certifications: list[Certification]


@dataclass
class ChargeRow:
    charge: Charge
    payments: list[Payment]  # non-reversed ones
    reversed_payments: list[Payment]
    paid: int
    unpaid: int  # 調定額 − 減免額 − Σ 収納額 (never below 0)
    overpaid: int
    overdue: bool


@dataclass
class KindTotal:
    kind: str
    label: str
    amount: int = 0
    reduction: int = 0
    paid: int = 0
    unpaid: int = 0
    last_paid_on: dt.date | None = None
    overdue_months: int = 0
    rows: list[ChargeRow] = field(default_factory=list)


@dataclass
class Contract:
    contract: ParkingContract
    vehicles: list[Vehicle]
    active: bool


@dataclass
class Flag:
    level: str  # warning or info
    code: str  # no_contact, arrears, inspection_expired, support_measure: the template words each
    count: int = 0
    detail: str = ""


@dataclass
class ChangeLine:
    label: str  # the column's Japanese name
    before: str | None
    after: str | None
    hidden: bool = False  # C3: changed, value never shown


@dataclass
class ChangeEntry:
    """One saved change (from the audit trail): who, when, which fields with before and after."""

    at: dt.datetime
    actor_login: str | None
    action: str
    tables: frozenset
    lines: list[ChangeLine]
    note: str | None = None  # who entered a change applied on approval (services.audit.on_behalf)


@dataclass
class HouseholdFile:
    household: Household
    today: dt.date
    tenancies: list[Tenancy]
    current_tenancy: Tenancy | None
    head: Person | None
    members: list[Member]
    former_members: list[Member]
    guarantors: list[GuarantorRow]
    declarations: list[Declaration]
    rent_decisions: list[RentDecision]
    current_rent: int | None
    current_rent_source: str  # "decision", "charge" or ""
    reductions: list[RentReduction]
    totals: list[KindTotal]
    grand_total: KindTotal
    arrears_months: int
    bank_transfers: list[BankTransfer]
    contracts: list[Contract]
    expired_inspections: list[Vehicle]
    arrears_actions: list[ArrearsAction]
    installment_plans: list[InstallmentPlan]
    eviction_requests: list[EvictionRequest]
    inquiries: list[Inquiry]
    notices: list[Notice]
    events: list[HouseholdEvent]
    audit_entries: list[AuditEntry]
    flags: list[Flag]
    changes: list[ChangeEntry] = field(default_factory=list)

    def changes_for(self, section: str) -> list[ChangeEntry]:
        """The saved changes that touched the tables of one section, newest first."""
        tables = set(SECTION_TABLES.get(section, ()))
        return [entry for entry in self.changes if entry.tables & tables]


# --- loading -----------------------------------------------------------------------------------------


def _is_current(start: dt.date | None, end: dt.date | None, today: dt.date) -> bool:
    return (start is None or start <= today) and (end is None or end >= today)


def _members(household: Household, keyring, today: dt.date) -> tuple[list[Member], list[Member]]:
    people = list(
        Person.select()
        .where(Person.household == household.id)
        .order_by(Person.is_head.desc(), Person.member_from, Person.birth_date, Person.id)
    )
    welfare = defaultdict(list)
    for period in (
        WelfarePeriod.select(WelfarePeriod)
        .join(Person)
        .where(Person.household == household.id)
        .order_by(WelfarePeriod.start_date.desc())
    ):
        welfare[period.person_id].append(period)
    masked = mynumber.masked_many([p.id for p in people], keyring) if people else {}
    current, former = [], []
    for person in people:
        is_current = person.member_to is None or person.member_to >= today
        alive = person.deceased_on is None
        member = Member(
            person=person,
            current=is_current,
            age=wareki.age_on(person.birth_date, today) if alive else None,
            masked_number=masked.get(person.id),
            welfare=welfare[person.id],
            on_welfare=any(_is_current(w.start_date, w.end_date, today) for w in welfare[person.id]),
        )
        (current if is_current else former).append(member)
    return current, former


def _declarations(household: Household) -> list[Declaration]:
    declarations = list(
        IncomeDeclaration.select()
        .where(IncomeDeclaration.household == household.id)
        .order_by(IncomeDeclaration.fiscal_year.desc())
    )
    incomes = defaultdict(list)
    for income in (
        MemberIncome.select(MemberIncome, Person)
        .join(IncomeDeclaration)
        .switch(MemberIncome)
        .join(Person)
        .where(IncomeDeclaration.household == household.id)
        .order_by(Person.is_head.desc(), Person.birth_date, MemberIncome.id)
    ):
        incomes[income.declaration_id].append(income)
    certifications = defaultdict(list)
    for cert in Certification.select().where(Certification.household == household.id):
        certifications[cert.fiscal_year].append(cert)
    return [Declaration(d, incomes[d.id], certifications.pop(d.fiscal_year, [])) for d in declarations] + [
        # A certification without a declaration of its year (法34条 investigation) still shows.
        Declaration(
            IncomeDeclaration(household=household.id, fiscal_year=year, income_year=year - 1),
            [],
            certs,
        )
        for year, certs in sorted(certifications.items(), reverse=True)
    ]


def _charges(household: Household, today: dt.date) -> tuple[list[KindTotal], KindTotal, int]:
    charges = list(
        Charge.select(Charge, ParkingContract, ParkingSpace)
        .join(ParkingContract, JOIN.LEFT_OUTER)
        .join(ParkingSpace, JOIN.LEFT_OUTER)
        .where(Charge.household == household.id)
        .order_by(Charge.period.desc(), Charge.kind, Charge.id)
    )
    payments = defaultdict(list)
    for payment in (
        Payment.select(Payment)
        .join(Charge)
        .where(Charge.household == household.id)
        .order_by(Payment.receipt_date, Payment.id)
    ):
        payments[payment.charge_id].append(payment)
    totals = {kind: KindTotal(kind, name) for kind, name in CHARGE_KINDS}
    grand = KindTotal("total", "合計")
    overdue_periods: set[dt.date] = set()
    for charge in charges:
        kept = [p for p in payments[charge.id] if not p.reversed]
        paid = sum(p.amount for p in kept)
        balance = 0 if charge.cancelled else charge.amount - charge.reduction_amount - paid
        row = ChargeRow(
            charge=charge,
            payments=kept,
            reversed_payments=[p for p in payments[charge.id] if p.reversed],
            paid=paid,
            unpaid=max(balance, 0),
            overpaid=max(-balance, 0),
            overdue=balance > 0 and charge.due_date < today,
        )
        total = totals[charge.kind]
        total.rows.append(row)
        if charge.cancelled:
            continue
        for bucket in (total, grand):
            bucket.amount += charge.amount
            bucket.reduction += charge.reduction_amount
            bucket.paid += paid
            bucket.unpaid += row.unpaid
            if kept:
                last = max(p.receipt_date for p in kept)
                bucket.last_paid_on = max(filter(None, (bucket.last_paid_on, last)))
        if row.overdue:
            overdue_periods.add(charge.period)
    for total in totals.values():
        total.overdue_months = len({r.charge.period for r in total.rows if r.overdue})
    grand.overdue_months = len(overdue_periods)
    return list(totals.values()), grand, totals["rent"].overdue_months


def _contracts(household: Household, today: dt.date) -> tuple[list[Contract], list[Vehicle]]:
    contracts = list(
        ParkingContract.select(ParkingContract, ParkingSpace, ParkingLot, Estate, Person)
        .join(ParkingSpace)
        .join(ParkingLot)
        .join(Estate)
        .switch(ParkingContract)
        .join(Person)
        .where(ParkingContract.household == household.id)
        .order_by(ParkingContract.status, ParkingContract.start_date.desc())
    )
    vehicles = defaultdict(list)
    for vehicle in (
        Vehicle.select(Vehicle)
        .join(ParkingContract)
        .where(ParkingContract.household == household.id)
        .order_by(Vehicle.valid_from.desc(), Vehicle.id)
    ):
        vehicles[vehicle.contract_id].append(vehicle)
    rows, expired = [], []
    for contract in contracts:
        active = contract.status == "active"
        rows.append(Contract(contract, vehicles[contract.id], active))
        if active:
            expired += [
                v
                for v in vehicles[contract.id]
                if v.valid_to is None and v.inspection_expiry is not None and v.inspection_expiry < today
            ]
    return rows, expired


def _audit_entries(household_id: int) -> list[AuditEntry]:
    # Entries about this household alone (views, changes, reveals), through the single-target index
    # (migration 0009: the length condition is the index's). A search listing many households is an
    # entry about all of them: the audit reports find those, the household's page does not scan for them.
    hid = str(household_id)
    return list(
        AuditEntry.select(
            AuditEntry.id,
            AuditEntry.at,
            AuditEntry.actor_login,
            AuditEntry.actor_role,
            AuditEntry.action,
            AuditEntry.outcome,
            AuditEntry.purpose,
        )
        .where(
            (AuditEntry.target_table == "household")
            & (AuditEntry.target_ids == f"[{hid}]")
            & (fn.LENGTH(AuditEntry.target_ids) < SINGLE_TARGET_LENGTH)
        )
        .order_by(AuditEntry.id.desc())
        .limit(AUDIT_ROWS)
    )


# Columns derived from others: their changes add nothing a reader needs in a section's history.
DERIVED_COLUMNS = frozenset(
    {
        "person.kana_key",
        "income_declaration.masters_used",
        "income_declaration.explanation",
        "income_declaration.computed_at",
    }
)


@functools.lru_cache(maxsize=512)
def _column(qualified: str):
    """The model field behind "table.column" (None when the table or column is unknown)."""
    from models import ALL_MODELS

    table, _, column = qualified.partition(".")
    for model in ALL_MODELS:
        if model._meta.table_name == table:
            for f in model._meta.sorted_fields:
                if f.column_name == column or f.name == column:
                    return f
    return None


def _column_label(qualified: str) -> str:
    f = _column(qualified)
    return (f.verbose_name or f.name) if f is not None else qualified


def _shown(value, column: str = "") -> str | None:
    """A value of the trail as staff read it: labels for codes, yen, 和暦, phone and postal codes."""
    if value is None:
        return None
    f = _column(column) if column else None
    if isinstance(f, CodeField):
        return f.label(value)
    if isinstance(f, YenField) and isinstance(value, int) and not isinstance(value, bool):
        return formatting.yen(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        # Stored digits shown the way people write them: 044-200-2948, 〒210-8577.
        try:
            if column.endswith("phone"):
                return formatting.phone(value)
            if column.endswith("postal_code"):
                return formatting.postal(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return wareki.to_wareki(dt.date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def column_label(qualified: str) -> str:
    """The Japanese name of "table.column" (its verbose_name), as the histories show it."""
    return _column_label(qualified)


def worded(value, qualified: str) -> str | None:
    """A stored value of "table.column" worded as the histories word it (labels, yen, 和暦)."""
    return _shown(value, qualified)


def _is_bare_id(qualified: str, before, after) -> bool:
    """A foreign key recorded as a row id (世帯: — → 12) means nothing to a reader: not shown."""
    f = _column(qualified)
    is_fk = f is not None and isinstance(f, ForeignKeyField)
    return is_fk and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (before, after)
    )


def _change_entries(household_id: int) -> list[ChangeEntry]:
    hid = str(household_id)
    rows = (
        AuditEntry.select(
            AuditEntry.at,
            AuditEntry.actor_login,
            AuditEntry.action,
            AuditEntry.fields,
            AuditEntry.changes,
            AuditEntry.reason,
        )
        .where(
            (AuditEntry.target_table == "household")
            & (AuditEntry.target_ids == f"[{hid}]")
            & (fn.LENGTH(AuditEntry.target_ids) < SINGLE_TARGET_LENGTH)
            & AuditEntry.fields.contains(".")
            & (AuditEntry.outcome == "allowed")
        )
        .order_by(AuditEntry.id.desc())
        .limit(CHANGE_ROWS)
    )
    return [entry for entry in map(change_entry, rows) if entry is not None]


def change_entry(row) -> ChangeEntry | None:
    """One audit entry (at, actor_login, action, fields, changes) as a saved change with its lines,
    values worded for a reader; None when it names no column. Other records' histories built from the
    trail (the masters) read their entries through this too."""
    try:
        fields = json.loads(row.fields or "[]")
        changes = json.loads(row.changes or "{}")
    except ValueError:
        return None
    qualified = [f for f in fields if isinstance(f, str) and "." in f]
    lines = []
    for name in qualified:
        if name in DERIVED_COLUMNS:
            continue
        if name in changes:
            before, after = changes[name]
            if _is_bare_id(name, before, after):
                continue
            lines.append(ChangeLine(_column_label(name), _shown(before, name), _shown(after, name)))
        else:
            lines.append(ChangeLine(_column_label(name), None, None, hidden=True))
    if not lines:
        return None
    tables = frozenset(name.partition(".")[0] for name in qualified)
    note = audit.on_behalf_note(getattr(row, "reason", None))
    return ChangeEntry(row.at, row.actor_login, row.action, tables, lines, note)


def _flags(file: HouseholdFile) -> list[Flag]:
    flags = []
    if not any(g.current for g in file.guarantors):
        flags.append(Flag("warning", "no_contact"))
    if file.arrears_months:
        level = "warning" if file.arrears_months >= ARREARS_WARNING_MONTHS else "info"
        flags.append(Flag(level, "arrears", count=file.arrears_months))
    for vehicle in file.expired_inspections:
        flags.append(Flag("warning", "inspection_expired", detail=vehicle.registration_no))
    if file.household.support_measure:
        flags.append(Flag("info", "support_measure"))
    return flags


def load(household: Household, *, keyring, today: dt.date | None = None) -> HouseholdFile:
    """Everything the household page shows, in a fixed number of queries (see the module docstring)."""
    today = today or today_tokyo()
    hid = household.id
    tenancies = list(
        Tenancy.select(Tenancy, Unit, Building, Estate, Ward)
        .join(Unit)
        .join(Building)
        .join(Estate)
        .join(Ward)
        .where(Tenancy.household == hid)
        .order_by(Tenancy.move_in_date.desc(), Tenancy.id.desc())
    )
    current_tenancy = next(
        (t for t in tenancies if t.status == "active"), tenancies[0] if tenancies else None
    )
    members, former = _members(household, keyring, today)
    head = next((m.person for m in members if m.person.is_head), None)
    guarantors = [
        GuarantorRow(g, _is_current(g.appointed_on, g.dismissed_on, today))
        for g in Guarantor.select()
        .where(Guarantor.household == hid)
        .order_by(Guarantor.kind.desc(), Guarantor.appointed_on.desc())
    ]
    decisions = list(
        RentDecision.select()
        .where(RentDecision.household == hid)
        .order_by(RentDecision.fiscal_year.desc(), RentDecision.effective_from.desc())
    )
    totals, grand, arrears_months = _charges(household, today)
    in_force = [d for d in decisions if d.state == "approved" and d.effective_from <= today]
    if in_force:
        current_rent, rent_source = in_force[0].rent, "decision"
    else:
        latest = next((r.charge for r in totals[0].rows if not r.charge.cancelled), None)
        current_rent, rent_source = (latest.amount, "charge") if latest else (None, "")
    contracts, expired = _contracts(household, today)
    staff = User.alias("staff")
    file = HouseholdFile(
        household=household,
        today=today,
        tenancies=tenancies,
        current_tenancy=current_tenancy,
        head=head,
        members=members,
        former_members=former,
        guarantors=guarantors,
        declarations=_declarations(household),
        rent_decisions=decisions,
        current_rent=current_rent,
        current_rent_source=rent_source,
        reductions=list(
            RentReduction.select()
            .where(RentReduction.household == hid)
            .order_by(RentReduction.start_date.desc())
        ),
        totals=totals,
        grand_total=grand,
        arrears_months=arrears_months,
        bank_transfers=list(
            BankTransfer.select()
            .where(BankTransfer.household == hid)
            .order_by(BankTransfer.purpose.desc(), BankTransfer.valid_from.desc())
        ),
        contracts=contracts,
        expired_inspections=expired,
        arrears_actions=list(
            ArrearsAction.select(ArrearsAction, staff)
            .join(staff, JOIN.LEFT_OUTER, on=(ArrearsAction.staff == staff.id))
            .where(ArrearsAction.household == hid)
            .order_by(ArrearsAction.action_date.desc(), ArrearsAction.id.desc())
        ),
        installment_plans=list(
            InstallmentPlan.select()
            .where(InstallmentPlan.household == hid)
            .order_by(InstallmentPlan.start_month.desc())
        ),
        eviction_requests=list(
            EvictionRequest.select()
            .where(EvictionRequest.household == hid)
            .order_by(EvictionRequest.requested_on.desc())
        ),
        inquiries=list(Inquiry.select().where(Inquiry.household == hid).order_by(Inquiry.received_at.desc())),
        notices=list(
            Notice.select(Notice, Person, staff)
            .join(Person, JOIN.LEFT_OUTER)
            .switch(Notice)
            .join(staff, JOIN.LEFT_OUTER, on=(Notice.issued_by == staff.id))
            .where(Notice.household == hid)
            .order_by(Notice.issued_on.desc(), Notice.id.desc())
        ),
        events=list(
            HouseholdEvent.select(HouseholdEvent, Person, staff)
            .join(Person, JOIN.LEFT_OUTER)
            .switch(HouseholdEvent)
            .join(staff, JOIN.LEFT_OUTER, on=(HouseholdEvent.recorded_by == staff.id))
            .where(HouseholdEvent.household == hid)
            .order_by(HouseholdEvent.event_date.desc(), HouseholdEvent.id.desc())
        ),
        audit_entries=_audit_entries(hid),
        flags=[],
        changes=_change_entries(hid),
    )
    file.flags = _flags(file)
    return file
