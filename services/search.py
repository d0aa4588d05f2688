"""Household search: the typed query read by rules.search, the filters, the user's scope and the cap.

One query finds the matching household ids (within ``access.visible_households(user)``, ordered, at most
``access.search_cap(user)`` + 1 to know whether the cap cut the list); one more fetches the page of 50
with everything the list shows (名義人, 住戸, 区, 人数 and the flags as correlated subqueries, so there is
no query per row). Each search writes ``household.search`` with the ids shown and the intent kind,
never the search term itself.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from peewee import JOIN, SQL, fn

from extensions import db, is_sqlite
from models import (
    Building,
    Charge,
    Estate,
    Household,
    ParkingContract,
    Payment,
    Person,
    Tenancy,
    Unit,
    Vehicle,
    Ward,
    WelfarePeriod,
)
from rules import search as rules
from rules.filters import today_tokyo
from services import access, audit

PER_PAGE = 50

# The flags a row can carry, in display order (codes used by the template and the tests).
FLAGS = ("over_income", "high_income", "welfare", "proxy_payment", "arrears", "inspection_expired")


class SearchInvalid(ValueError):
    """The search cannot run as given (no condition, or a query the rules refuse): the form says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


NO_CONDITION = "検索条件を入力してください。"


@dataclass(frozen=True)
class Filters:
    """The filters beside the search box. Each narrows the search except status, which only selects."""

    estate_id: int | None = None
    ward_id: int | None = None
    status: str | None = None
    arrears: bool = False
    over_income: bool = False
    high_income: bool = False
    welfare: bool = False
    proxy_payment: bool = False
    inspection_expired: bool = False

    def used(self) -> list[str]:
        """The names of the filters set (for access.require_search_terms and the audit entry)."""
        names = [name for name in ("estate_id", "ward_id", "status") if getattr(self, name)]
        return names + [name for name in FLAGS if getattr(self, name)]

    def narrowing(self) -> bool:
        """True when some filter other than status is set (status alone would list nearly everyone)."""
        return any(name != "status" for name in self.used())


@dataclass(frozen=True)
class Row:
    """One household in the list."""

    id: int
    household_no: str
    status: str
    head_name: str | None
    head_kana: str | None
    estate_name: str | None
    building: str | None
    room: str | None
    housing_code: str | None
    ward_name: str | None
    members: int
    flags: tuple[str, ...]
    protected: bool = False


@dataclass
class Result:
    """A page of the search: rows, paging, and whether the cap cut the list."""

    kind: str
    rows: list[Row] = field(default_factory=list)
    page: int = 1
    pages: int = 1
    total: int = 0  # households listed (at most cap)
    capped: bool = False
    cap: int = 0
    per_page: int = PER_PAGE

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


# --- predicates on the outer Household row (used as filters and, in the page query, as flags) ----------


def has_arrears(today: dt.date):
    """A charge past its due date with something unpaid: 調定額 − 減免額 − Σ 収納額 (not reversed) > 0."""
    paid = Payment.select(fn.COALESCE(fn.SUM(Payment.amount), 0)).where(
        (Payment.charge == Charge.id) & ~Payment.reversed
    )
    unpaid = Charge.select(SQL("1")).where(
        (Charge.household == Household.id)
        & ~Charge.cancelled
        & (Charge.due_date < today)
        & ((Charge.amount - Charge.reduction_amount - paid) > 0)
    )
    return fn.EXISTS(unpaid)


def has_expired_inspection(today: dt.date):
    """車検切れ: an active parking contract with a current vehicle whose inspection expired before today."""
    expired = (
        Vehicle.select(SQL("1"))
        .join(ParkingContract, on=(Vehicle.contract == ParkingContract.id))
        .where(
            (ParkingContract.household == Household.id)
            & (ParkingContract.status == "active")
            & (Vehicle.valid_to.is_null() | (Vehicle.valid_to >= today))
            & (Vehicle.inspection_expiry < today)
        )
    )
    return fn.EXISTS(expired)


def on_welfare(today: dt.date):
    """生活保護: a current member with a welfare period that covers today."""
    member = Person.alias("welfare_member")
    period = (
        WelfarePeriod.select(SQL("1"))
        .join(member, on=(WelfarePeriod.person == member.id))
        .where(
            (member.household == Household.id)
            & member.member_to.is_null()
            & (WelfarePeriod.start_date <= today)
            & (WelfarePeriod.end_date.is_null() | (WelfarePeriod.end_date >= today))
        )
    )
    return fn.EXISTS(period)


def _member_count():
    member = Person.alias("counted_member")
    return member.select(fn.COUNT(member.id)).where(
        (member.household == Household.id) & member.member_to.is_null()
    )


def kana_prefix(column, key: str):
    """column starts with key, said so that the index serves it: GLOB on SQLite (its LIKE ignores a
    BINARY index), LIKE on PostgreSQL (the text_pattern_ops index person_kana_key_pattern)."""
    if is_sqlite():
        escaped = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in key)
        return column % f"{escaped}*"  # peewee's % is LIKE, which SQLite spells GLOB
    escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column % f"{escaped}%"


def _members_matching(condition, *, current_only: bool = True):
    member = Person.alias("matched_member")
    where = condition(member)
    if current_only:
        where = where & member.member_to.is_null()
    return Household.id.in_(member.select(member.household).where(where))


def _name_contains(column, text: str):
    # Names are stored with U+3000 between 氏 and 名; the query has no spaces (rules.search removes them).
    return fn.REPLACE(fn.REPLACE(column, "\u3000", ""), " ", "").contains(text)


def _condition(intent: rules.Intent, head, today: dt.date):
    kind = intent.kind
    if kind == rules.KANA_PREFIX:
        return _members_matching(lambda m: kana_prefix(m.kana_key, intent.text))
    if kind == rules.KANJI_NAME:
        return _members_matching(lambda m: _name_contains(m.name, intent.text))
    if kind == rules.HOUSING_CODE:
        return Unit.housing_code == intent.code
    if kind == rules.HOUSEHOLD_NO:
        return Household.household_no == intent.code
    if kind == rules.CODE:
        return (Unit.housing_code == intent.code) | (Household.household_no == intent.code)
    if kind == rules.ATENA_NO:
        # A person's city id answers even for a former member: which household did they belong to.
        return _members_matching(lambda m: m.atena_no == intent.code, current_only=False)
    if kind == rules.PHONE:
        return (Household.contact_phone == intent.code) | _members_matching(lambda m: m.phone == intent.code)
    if kind in (rules.ESTATE_ROOM, rules.ESTATE):
        condition = Estate.name.contains(intent.text)
        if intent.building:
            condition &= Building.number == intent.building
        if intent.room:
            condition &= Unit.room_number == intent.room
        return condition
    return None


def _filter_conditions(filters: Filters, today: dt.date) -> list:
    conditions = []
    if filters.estate_id:
        conditions.append(Estate.id == filters.estate_id)
    if filters.ward_id:
        conditions.append(Estate.ward == filters.ward_id)
    if filters.status:
        conditions.append(Household.status == filters.status)
    if filters.over_income:
        conditions.append(Household.over_income)
    if filters.high_income:
        conditions.append(Household.high_income)
    if filters.proxy_payment:
        conditions.append(Household.proxy_payment)
    if filters.welfare:
        conditions.append(on_welfare(today))
    if filters.arrears:
        conditions.append(has_arrears(today))
    if filters.inspection_expired:
        conditions.append(has_expired_inspection(today))
    return conditions


def join_current_unit(query):
    """query (joined to Household) with its current tenancy's unit, building and estate (outer joins:
    a household between homes keeps its row)."""
    return (
        query.join_from(
            Household,
            Tenancy,
            JOIN.LEFT_OUTER,
            on=(Tenancy.household == Household.id) & access.is_current_tenancy(Tenancy),
        )
        .join_from(Tenancy, Unit, JOIN.LEFT_OUTER, on=(Tenancy.unit == Unit.id))
        .join_from(Unit, Building, JOIN.LEFT_OUTER, on=(Unit.building == Building.id))
        .join_from(Building, Estate, JOIN.LEFT_OUTER, on=(Building.estate == Estate.id))
    )


def join_head(query, head):
    """query (joined to Household) with its present 名義人 as `head` (an alias of Person)."""
    return query.join_from(
        Household,
        head,
        JOIN.LEFT_OUTER,
        on=(head.household == Household.id) & head.is_head & head.member_to.is_null(),
    )


def _joined(query, head):
    """query (on Household) with its current tenancy's unit, building, estate, ward and its 名義人."""
    return join_head(
        join_current_unit(query).join_from(Estate, Ward, JOIN.LEFT_OUTER, on=(Estate.ward == Ward.id)), head
    )


def matching_ids(user, intent: rules.Intent, filters: Filters, *, limit: int, today: dt.date) -> list[int]:
    """The ids of the households user may see that match, in list order, at most limit."""
    head = Person.alias("head")
    conditions = [Household.id.in_(access.visible_households(user))]
    condition = _condition(intent, head, today)
    if condition is not None:
        conditions.append(condition)
    conditions += _filter_conditions(filters, today)
    if intent.kind in (rules.KANA_PREFIX, rules.KANJI_NAME):
        order = (fn.COALESCE(head.kana_key, ""), Household.household_no)
    else:
        order = (fn.COALESCE(Unit.housing_code, ""), Household.household_no)
    query = _joined(Household.select(Household.id), head).where(*conditions).order_by(*order).limit(limit)
    return [hid for (hid,) in query.tuples()]


def page_rows(ids: list[int], *, today: dt.date) -> list[Row]:
    """The list rows of these households (one query), in the order of ids."""
    if not ids:
        return []
    head = Person.alias("head")
    query = _joined(
        Household.select(
            Household.id,
            Household.household_no,
            Household.status,
            Household.over_income,
            Household.high_income,
            Household.proxy_payment,
            Household.support_measure,
            head.name.alias("head_name"),
            head.name_kana.alias("head_kana"),
            Estate.name.alias("estate_name"),
            Building.number.alias("building"),
            Unit.room_number.alias("room"),
            Unit.housing_code.alias("housing_code"),
            Ward.name.alias("ward_name"),
            _member_count().alias("members"),
            on_welfare(today).alias("welfare"),
            has_arrears(today).alias("arrears"),
            has_expired_inspection(today).alias("inspection_expired"),
        ),
        head,
    ).where(Household.id.in_(ids))
    by_id = {}
    for r in query.dicts():
        flags = tuple(name for name in FLAGS if r[name])
        by_id[r["id"]] = Row(
            id=r["id"],
            household_no=r["household_no"],
            status=r["status"],
            head_name=r["head_name"],
            head_kana=r["head_kana"],
            estate_name=r["estate_name"],
            building=r["building"],
            room=r["room"],
            housing_code=r["housing_code"],
            ward_name=r["ward_name"],
            members=r["members"] or 0,
            flags=flags,
            protected=bool(r["support_measure"]),
        )
    return [by_id[hid] for hid in ids if hid in by_id]


def search(
    user,
    query: str | None,
    filters: Filters | None = None,
    *,
    page: int = 1,
    today: dt.date | None = None,
    **context,
) -> Result:
    """Run a household search for user and audit it (``household.search``, the ids shown).

    SearchInvalid when the query is refused (control characters, too long) or when there is neither a
    query nor a narrowing filter; access.SearchRefused (audited) for a user who may not search.
    context: the audit context (actor, session_ref, ip)."""
    filters = filters or Filters()
    try:
        intent = rules.parse(query)
    except ValueError as exc:
        raise SearchInvalid(str(exc)) from None
    if intent.kind == rules.NONE and not filters.narrowing():
        raise SearchInvalid(NO_CONDITION)
    terms = {"q": query if intent.kind != rules.NONE else None}
    terms.update({name: True for name in filters.used() if name != "status"})
    if filters.status:
        terms["status"] = filters.status
    access.require_search_terms(user, terms, **dict(context))

    today = today or today_tokyo()
    cap = access.search_cap(user)
    ids = matching_ids(user, intent, filters, limit=cap + 1, today=today) if cap else []
    capped = len(ids) > cap
    ids = ids[:cap]
    pages = max(1, math.ceil(len(ids) / PER_PAGE))
    page = min(max(1, page), pages)
    shown = ids[(page - 1) * PER_PAGE : page * PER_PAGE]
    rows = page_rows(shown, today=today)

    notes = [f"kind={intent.kind}", f"page={page}", f"total={len(ids)}"]
    if capped:
        notes.append(f"capped at {cap}")
    if any(row.protected for row in rows):
        notes.append(access.DV_FLAG)
    context.setdefault("actor", user)
    with db.atomic():
        audit.record(
            "household.search",
            target_table="household",
            target_ids=[row.id for row in rows],
            fields=sorted(name for name, value in terms.items() if value) or None,
            reason="; ".join(notes),
            **context,
        )
    return Result(kind=intent.kind, rows=rows, page=page, pages=pages, total=len(ids), capped=capped, cap=cap)
