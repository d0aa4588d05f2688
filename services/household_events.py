"""Household changes (世帯の異動) as dated events: 同居承認, 出生, 転出, 死亡, 使用承継, 住替え, 退去.

    result = household_events.join_member(7, new_member, dt.date(2026, 5, 1), note=None, **audit_context())

Each change runs in one transaction: the household's row is locked first (PostgreSQL: FOR UPDATE;
SQLite: every transaction begins IMMEDIATE, one writer at a time), the rules are checked against the
rows as they are now, then every record is written through services.editing (an audit entry per
record, target "household", fields "table.column") and a HouseholdEvent row tells the story. A
refusal raises before anything is committed:

- editing.RuleViolation (message, field): the change breaks a rule → the screen answers 422;
- EventConflict (message, field): someone else's change came first (the unit was let meanwhile, the
  figures of a move-out changed since the preview) → 409.

A unit never has two active tenancies: the unit is taken by a compare-and-set on its version before
anything else is written, and the partial unique index tenancy_one_active_per_unit is the last guard.
Like the other services it never reads the request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from peewee import fn

from extensions import db, is_sqlite
from models import (
    BankTransfer,
    Building,
    Charge,
    Estate,
    Household,
    HouseholdEvent,
    IncomeDeclaration,
    MemberIncome,
    MoveProcedure,
    ParkingContract,
    ParkingSpace,
    Payment,
    Person,
    RentDecision,
    Tenancy,
    Unit,
)
from models.base import ConflictError
from models.billing import CHARGE_KINDS
from models.housing import UNIT_STATUSES
from models.person import LEAVE_REASONS, RELATIONS
from models.tenancy import CATEGORIES
from rules import household as rules
from rules import income as income_rules
from rules import kana, wareki
from rules.filters import today_tokyo
from services import editing, masters
from services.editing import RuleViolation

__all__ = [
    "EventConflict",
    "IncomeOverLimit",
    "RuleViolation",
    "change_head",
    "join_member",
    "member_death",
    "member_leave",
    "move_out",
    "plan_move_out",
    "register_birth",
    "transfer",
]

# How far ahead a transfer may be registered (the new unit is reserved from then on).
TRANSFER_DAYS_AHEAD = 90
# Reasons a member leaves on their own (死亡 and 世帯退去 have their own events).
OWN_LEAVE_REASONS = tuple(code for code, _ in LEAVE_REASONS if code not in ("death", "household_moved_out"))
# Relations a newborn may have in the household.
BIRTH_RELATIONS = ("child", "grandchild", "other_relative")
# What a unit becomes when its tenancy ends.
UNIT_AFTER_MOVE_OUT = ("repair", "vacant")


class EventConflict(Exception):
    """Someone else's change came first: the screen answers 409 with the message (beside field)."""

    def __init__(self, message, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class IncomeOverLimit(RuleViolation):
    """同居承認 refused: the household's 政令月収 with the new member is above the income limit."""

    def __init__(self, check: IncomeCheck):
        income, limit = _amount(check.seirei_getsushu), _amount(check.limit)
        super().__init__(
            _l(
                "同居後の政令月収 %(income)s円 が入居収入基準（%(category)s）%(limit)s円 を超えるため、"
                "同居を承認できません。",
                income=income,
                category=check.category_label,
                limit=limit,
            )
        )
        self.check = check


# --- what every event needs ---------------------------------------------------------------------------


def _amount(value: int) -> str:
    """12,345 (yen figures inside translated sentences)."""
    return f"{value:,}"


def _label(choices, code) -> str:
    return dict(choices).get(code, code or "")


def relation_label(code: str) -> str:
    return _label(RELATIONS, code)


def _jp(day: dt.date) -> str:
    return wareki.to_wareki(day)


def _lock_household(household_id: int) -> Household:
    """The household's row, locked until the transaction ends (SQLite holds the write lock already)."""
    query = Household.select().where(Household.id == household_id)
    if not is_sqlite():
        query = query.for_update()
    household = query.first()
    if household is None:
        raise RuleViolation(_l("該当する世帯は見つかりません。"))
    return household


def active_tenancy(household_id: int) -> Tenancy | None:
    """The household's active tenancy (at most one, by a unique index)."""
    return (
        Tenancy.select(Tenancy, Unit)
        .join(Unit)
        .where((Tenancy.household == household_id) & (Tenancy.status == "active"))
        .first()
    )


def _locked_active(household_id: int) -> tuple[Household, Tenancy]:
    household = _lock_household(household_id)
    tenancy = active_tenancy(household_id)
    if household.status == "moved_out" or tenancy is None:
        raise RuleViolation(_l("退去済みの世帯（入居中の住戸がない世帯）には異動を登録できません。"))
    return household, tenancy


def current_members(household_id: int) -> list[Person]:
    """The members without a recorded end (member_to), the head first."""
    return list(
        Person.select()
        .where((Person.household == household_id) & Person.member_to.is_null())
        .order_by(Person.is_head.desc(), Person.member_from, Person.birth_date, Person.id)
    )


def current_head(household_id: int) -> Person | None:
    return (
        Person.select()
        .where((Person.household == household_id) & Person.is_head & Person.member_to.is_null())
        .first()
    )


def _member(household_id: int, person_id, field_name: str = "person") -> Person:
    """A current member of this household, or a refusal beside the member field."""
    person = None
    if isinstance(person_id, int):
        person = Person.get_or_none((Person.id == person_id) & (Person.household == household_id))
    if person is None:
        raise RuleViolation(_l("この世帯の世帯員を選んでください。"), field=field_name)
    if person.member_to is not None:
        raise RuleViolation(
            _l(
                "%(name)sさんは%(date)sに世帯員でなくなっています。",
                name=person.name,
                date=_jp(person.member_to),
            ),
            field=field_name,
        )
    return person


def _check_date(
    day: dt.date,
    tenancy: Tenancy,
    today: dt.date,
    *,
    field_name: str = "event_date",
    days_ahead: int = 0,
) -> None:
    """An event's date: not before the current tenancy began, not after today (+ days_ahead)."""
    if day > today + dt.timedelta(days=days_ahead):
        if days_ahead:
            raise RuleViolation(
                _l("今日から%(days)s日後までの日付を入力してください。", days=days_ahead), field=field_name
            )
        raise RuleViolation(_l("今日より後の日付は入力できません。"), field=field_name)
    if day < tenancy.move_in_date:
        raise RuleViolation(
            _l(
                "現在の住戸の入居日（%(date)s）以降の日付を入力してください。",
                date=_jp(tenancy.move_in_date),
            ),
            field=field_name,
        )


def _context(context: dict) -> dict:
    return {key: context.get(key) for key in ("actor", "session_ref", "ip")}


def _update(instance, values: dict, household_id: int, action: str, context: dict) -> dict:
    """Save changed columns of a row read in this transaction (its version guards the write)."""
    try:
        return editing.update(
            instance, instance.version, values, household_id=household_id, action=action, **_context(context)
        )
    except ConflictError:
        raise EventConflict(
            _l(
                "ほかの職員が先にこの世帯の記録を更新しました。画面を開き直してから、もう一度登録してください。"
            )
        ) from None


def _create(model, values: dict, household_id: int, action: str, context: dict):
    return editing.create(model, values, household_id=household_id, action=action, **_context(context))


def _event(
    household: Household,
    kind: str,
    day: dt.date,
    person: Person | None,
    detail: str,
    context: dict,
) -> HouseholdEvent:
    actor = context.get("actor")
    values = {
        "household": household.id,
        "kind": kind,
        "event_date": day,
        "person": person.id if person is not None else None,
        "detail": detail[:4000],
        "recorded_by": getattr(actor, "id", None),
    }
    return _create(HouseholdEvent, values, household.id, f"household_event.{kind}", context)


def _parking_user_warning(person: Person) -> str | None:
    """A reminder when the member is the 区画使用者 of an active parking contract."""
    if (
        ParkingContract.select()
        .where((ParkingContract.user_person == person.id) & (ParkingContract.status == "active"))
        .exists()
    ):
        return _l(
            "%(name)sさんは駐車場の区画使用者です。駐車場の欄で区画使用者を変更するか契約を廃止してください。",
            name=person.name,
        )
    return None


@dataclass
class EventResult:
    """What the screen says after an event: the message, the explanation lines and any reminders."""

    event: HouseholdEvent
    message: str
    explanation: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    person: Person | None = None
    summary: str | None = None  # the heading of the explanation


# --- 同居承認 and 出生: a new member -------------------------------------------------------------------


@dataclass(frozen=True)
class NewMember:
    """The person who joins (同居) or is born (出生), with their yearly incomes for the eligibility check."""

    name: str
    name_kana: str
    birth_date: dt.date
    sex: str
    relation: str
    nationality: str = "日本"
    salary_revenue: int = 0
    pension_revenue: int = 0
    other_income: int = 0
    disability: str = "none"
    dependent: bool = False


@dataclass
class IncomeCheck:
    """政令月収 of the household with the new member against the 入居収入基準 of its category."""

    income_year: int
    fiscal_year: int
    seirei_getsushu: int
    limit: int
    category_label: str
    explanation: list[str]

    @property
    def over(self) -> bool:
        return self.seirei_getsushu > self.limit

    @property
    def summary(self):
        """The outcome for the screen, in the user's language."""
        return _l(
            "同居後の政令月収 %(income)s円（入居収入基準（%(category)s）%(limit)s円 %(verdict)s）",
            income=_amount(self.seirei_getsushu),
            category=self.category_label,
            limit=_amount(self.limit),
            verdict=_l("を超えています") if self.over else _l("以下"),
        )

    @property
    def record(self) -> str:
        """The outcome as the event's detail keeps it (the file's language, Japanese)."""
        verdict = "を超えています" if self.over else "以下"
        return (
            f"同居後の政令月収 {self.seirei_getsushu:,}円"
            f"（入居収入基準（{self.category_label}）{self.limit:,}円 {verdict}）"
        )


def latest_declaration(household_id: int) -> IncomeDeclaration | None:
    """The household's latest 収入申告 that lists its members' incomes."""
    return (
        IncomeDeclaration.select()
        .where(
            (IncomeDeclaration.household == household_id)
            & fn.EXISTS(MemberIncome.select().where(MemberIncome.declaration == IncomeDeclaration.id))
        )
        .order_by(IncomeDeclaration.fiscal_year.desc())
        .first()
    )


def join_income_check(household: Household, new: NewMember, on: dt.date) -> IncomeCheck:
    """Recompute the household's 政令月収 (令1条3号) with the new member's income, using the incomes of
    the latest declaration and the masters of its income year, and compare it with the 入居収入基準 of
    the household's category in force on the day (SPEC §3.1)."""
    declaration = latest_declaration(household.id)
    if declaration is None:
        raise RuleViolation(
            _l(
                "この世帯の収入申告（世帯員ごとの収入）が登録されていないため、同居後の政令月収を計算できません。"
                "先に収入申告を登録してください。"
            )
        )
    members = current_members(household.id)
    if not members or not members[0].is_head:
        raise RuleViolation(
            _l("名義人がいない世帯には同居を承認できません。先に使用承継を登録してください。")
        )
    incomes = {
        mi.person_id: mi for mi in MemberIncome.select().where(MemberIncome.declaration == declaration.id)
    }
    rows, notes = [], []
    for person in members:
        mi = incomes.get(person.id)
        if mi is None:
            notes.append(
                f"{person.name}: {declaration.fiscal_year}年度の収入申告に記載がないため収入0円として計算"
            )
            rows.append(income_rules.Member(relation=person.relation, birth_date=person.birth_date))
            continue
        rows.append(
            income_rules.Member(
                relation=person.relation,
                birth_date=person.birth_date,
                salary_revenue=mi.salary_revenue,
                pension_revenue=mi.pension_revenue,
                other_income=mi.other_income,
                disability=mi.disability,
                widow=mi.is_widow,
                single_parent=mi.is_single_parent,
                dependent=mi.is_dependent,
            )
        )
    rows.append(
        income_rules.Member(
            relation=new.relation,
            birth_date=new.birth_date,
            salary_revenue=new.salary_revenue,
            pension_revenue=new.pension_revenue,
            other_income=new.other_income,
            disability=new.disability,
            dependent=new.dependent,
        )
    )
    remote = [
        income_rules.RemoteDependent(birth_date=r.birth_date, disability=r.disability)
        for r in declaration.remote_dependents
    ]
    code = f"income_limit.{household.category}"
    try:
        income_masters = masters.income_masters(declaration.income_year)
        limit = int(masters.parameter(code, on))
    except masters.MasterMissing:
        raise RuleViolation(
            _l(
                "政令月収の計算に必要なマスタ（%(year)s年分）が登録されていません。",
                year=declaration.income_year,
            )
        ) from None
    result = income_rules.household_income(rows, remote, income_masters)
    category = _label(CATEGORIES, household.category)
    explanation = [
        f"{declaration.fiscal_year}年度の収入申告（{declaration.income_year}年分の収入）と新たに同居する方の収入で計算",
        *notes,
        *result.explanation[:-1],
        f"（世帯員{len(rows)}は新たに同居する{new.name}さん）",
        result.explanation[-1],
        f"入居収入基準（{category}）{limit:,}円（{on.year}年{on.month}月{on.day}日現在）: "
        + ("超過" if result.seirei_getsushu > limit else "基準内"),
    ]
    return IncomeCheck(
        declaration.income_year, declaration.fiscal_year, result.seirei_getsushu, limit, category, explanation
    )


def _person_values(household: Household, new: NewMember, member_from: dt.date) -> dict:
    return {
        "household": household.id,
        "name": new.name,
        "name_kana": new.name_kana,
        "kana_key": kana.search_key(new.name_kana),
        "birth_date": new.birth_date,
        "sex": new.sex,
        "nationality": new.nationality or "日本",
        "relation": new.relation,
        "is_head": False,
        "member_from": member_from,
    }


def _check_new_member(household_id: int, new: NewMember, day: dt.date) -> None:
    if new.relation == "head":
        raise RuleViolation(_l("名義人の変更は使用承継で登録してください。"), field="relation")
    if new.birth_date > day:
        raise RuleViolation(_l("生年月日が異動日より後になっています。"), field="birth_date")
    if new.relation == "spouse" and any(p.relation == "spouse" for p in current_members(household_id)):
        raise RuleViolation(_l("配偶者はすでに世帯員として登録されています。"), field="relation")


def join_income_preview(household_id: int, new: NewMember, day: dt.date) -> IncomeCheck:
    """The eligibility figures without writing anything (for a refusal's explanation)."""
    household = Household.get_by_id(household_id)
    return join_income_check(household, new, day)


def join_member(
    household_id: int, new: NewMember, day: dt.date, *, note: str | None = None, today=None, **context
) -> EventResult:
    """同居承認: a new member from day, if the household stays within its income limit with them."""
    today = today or today_tokyo()
    action = "household_event.member_join"
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        _check_date(day, tenancy, today)
        _check_new_member(household.id, new, day)
        check = join_income_check(household, new, day)
        if check.over:
            raise IncomeOverLimit(check)
        person = _create(Person, _person_values(household, new, day), household.id, action, context)
        incomes = (
            f"給与収入 {new.salary_revenue:,}円、公的年金等収入 {new.pension_revenue:,}円、"
            f"その他の所得 {new.other_income:,}円"
        )
        detail = f"{new.name}（{relation_label(new.relation)}）の同居を承認。{incomes}。{check.record}。" + (
            f" {note}" if note else ""
        )
        event = _event(household, "member_join", day, person, detail, context)
    message = _l("%(name)sさんの同居を登録しました。", name=new.name)
    return EventResult(event, message, check.explanation, person=person, summary=check.summary)


def register_birth(
    household_id: int, child: NewMember, *, note: str | None = None, today=None, **context
) -> EventResult:
    """出生: a child member from the birth date (no income check: a newborn has none)."""
    today = today or today_tokyo()
    day = child.birth_date
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        if child.relation not in BIRTH_RELATIONS:
            raise RuleViolation(_l("出生の続柄は子・孫・その他親族から選んでください。"), field="relation")
        if day > today:
            raise RuleViolation(_l("今日より後の日付は入力できません。"), field="birth_date")
        if day < household.first_move_in_date:
            raise RuleViolation(
                _l(
                    "当初入居日（%(date)s）より前に生まれた方は同居承認で登録してください。",
                    date=_jp(household.first_move_in_date),
                ),
                field="birth_date",
            )
        values = _person_values(household, child, day)
        person = _create(Person, values, household.id, "household_event.birth", context)
        detail = f"{child.name}（{relation_label(child.relation)}）が出生。" + (f" {note}" if note else "")
        event = _event(household, "birth", day, person, detail, context)
    return EventResult(event, _l("%(name)sさんの出生を登録しました。", name=child.name), person=person)


# --- 転出 and 死亡 -------------------------------------------------------------------------------------


def member_leave(
    household_id: int,
    person_id: int,
    day: dt.date,
    reason: str,
    *,
    note: str | None = None,
    today=None,
    **context,
) -> EventResult:
    """転出: a member leaves the household on day. The head cannot: a new head comes first (使用承継)."""
    today = today or today_tokyo()
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        person = _member(household.id, person_id)
        if person.is_head:
            raise RuleViolation(
                _l("名義人は転出の登録ができません。先に使用承継で新しい名義人を登録してください。"),
                field="person",
            )
        if reason not in OWN_LEAVE_REASONS:
            raise RuleViolation(_l("異動理由を選んでください。"), field="leave_reason")
        _check_date(day, tenancy, today)
        if day < person.member_from:
            raise RuleViolation(
                _l(
                    "世帯員となった日（%(date)s）以降の日付を入力してください。", date=_jp(person.member_from)
                ),
                field="event_date",
            )
        action = "household_event.member_leave"
        _update(person, {"member_to": day, "leave_reason": reason}, household.id, action, context)
        detail = (
            f"{person.name}（{relation_label(person.relation)}）が世帯から{_label(LEAVE_REASONS, reason)}。"
            + (f" {note}" if note else "")
        )
        event = _event(household, "member_leave", day, person, detail, context)
        warning = _parking_user_warning(person)
    return EventResult(
        event,
        _l("%(name)sさんの転出を登録しました。", name=person.name),
        warnings=[warning] if warning else [],
        person=person,
    )


def member_death(
    household_id: int, person_id: int, day: dt.date, *, note: str | None = None, today=None, **context
) -> EventResult:
    """死亡: the member's date of death ends their membership. When the head dies, the household has no
    head until a 使用承継 (or a 退去) is registered; the result says so."""
    today = today or today_tokyo()
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        person = _member(household.id, person_id)
        if day > today:
            raise RuleViolation(_l("今日より後の日付は入力できません。"), field="event_date")
        if day < max(person.member_from, person.birth_date):
            raise RuleViolation(
                _l(
                    "世帯員となった日（%(date)s）以降の日付を入力してください。", date=_jp(person.member_from)
                ),
                field="event_date",
            )
        action = "household_event.death"
        values = {"deceased_on": day, "member_to": day, "leave_reason": "death"}
        _update(person, values, household.id, action, context)
        detail = f"{person.name}（{relation_label(person.relation)}）が死亡。" + (f" {note}" if note else "")
        event = _event(household, "death", day, person, detail, context)
        remaining = current_members(household.id)
        warnings = []
        if person.is_head:
            if remaining:
                warnings.append(_l("名義人が亡くなりました。使用承継（新しい名義人）を登録してください。"))
            else:
                warnings.append(_l("世帯員がいなくなりました。退去の手続きをしてください。"))
        warning = _parking_user_warning(person)
        if warning:
            warnings.append(warning)
    return EventResult(
        event,
        _l("%(name)sさんの死亡を登録しました。", name=person.name),
        warnings=warnings,
        person=person,
    )


# --- 使用承継 -----------------------------------------------------------------------------------------


def succession_check(person: Person, day: dt.date, approved: bool) -> rules.SuccessionCheck:
    return rules.succession(
        rules.Candidate(
            relation=person.relation,
            birth_date=person.birth_date,
            member_from=person.member_from,
            current=person.member_to is None,
            is_head=person.is_head,
        ),
        day,
        approved=approved,
    )


def change_head(
    household_id: int,
    person_id: int,
    day: dt.date,
    *,
    approved: bool = False,
    note: str | None = None,
    today=None,
    **context,
) -> EventResult:
    """使用承継: a current member becomes the 名義人 (the spouse, or a relative with the period and the
    approval, rules.household.succession). The former head's flag is cleared first (one current head per
    household, by a unique index); the new head's relation becomes 本人 and a former head who stays
    becomes the new head's 配偶者/父母/…; other members keep their relation to the former head."""
    today = today or today_tokyo()
    action = "household_event.head_change"
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        person = _member(household.id, person_id)
        _check_date(day, tenancy, today)
        check = succession_check(person, day, approved)
        if not check.allowed:
            raise RuleViolation(
                _l(
                    "%(name)sさんは名義人を承継できません（%(reasons)s）。",
                    name=person.name,
                    reasons="、".join(check.reasons),
                ),
                field="person",
            )
        old = current_head(household.id)
        former_heads = list(
            Person.select().where(
                (Person.household == household.id) & Person.is_head & Person.member_to.is_null(False)
            )
        )
        for former in former_heads:  # a head who died or left: the flag is history now
            _update(former, {"is_head": False}, household.id, action, context)
        if old is not None:
            _update(
                old,
                {"is_head": False, "relation": rules.former_head_relation(person.relation)},
                household.id,
                action,
                context,
            )
        relation_before = person.relation
        _update(person, {"is_head": True, "relation": "head"}, household.id, action, context)
        previous = old or (former_heads[0] if former_heads else None)
        detail = (
            f"名義人を{previous.name if previous else '（不在）'}から{person.name}"
            f"（{relation_label(relation_before)}）に変更。"
            + (
                f"{old.name}の続柄は{relation_label(rules.former_head_relation(relation_before))}。"
                if old
                else ""
            )
            + "他の世帯員の続柄は旧名義人から見たままです。"
            + "、".join(check.explanation)
            + "。"
            + (f" {note}" if note else "")
        )
        event = _event(household, "head_change", day, person, detail, context)
    return EventResult(
        event,
        _l("%(name)sさんを名義人とする使用承継を登録しました。", name=person.name),
        check.explanation,
        warnings=[_l("他の世帯員の続柄は旧名義人から見たままです。必要なら世帯員の欄で直してください。")],
        person=person,
        summary=_l("承継の要件"),
    )


# --- 住替え -------------------------------------------------------------------------------------------


def vacant_units_query():
    """Units that can be let now: status 空家 and no active tenancy."""
    taken = Tenancy.select(Tenancy.unit).where(Tenancy.status == "active")
    return Unit.select().where((Unit.status == "vacant") & Unit.id.not_in(taken))


def estates_with_vacancies() -> list[Estate]:
    units = vacant_units_query().select(Unit.building)
    return list(Estate.select().join(Building).where(Building.id.in_(units)).distinct().order_by(Estate.code))


def vacant_units(estate_id: int | None) -> list[Unit]:
    if not estate_id:
        return []
    return list(
        vacant_units_query()
        .select(Unit, Building)
        .join(Building)
        .where(Building.estate == estate_id)
        .order_by(Building.number, Unit.room_number)
    )


def transfer(
    household_id: int,
    unit_id: int,
    move_out_date: dt.date,
    move_in_date: dt.date,
    *,
    deposit: int | None = None,
    old_unit_status: str = "repair",
    note: str | None = None,
    today=None,
    **context,
) -> EventResult:
    """住替え: the current tenancy ends on move_out_date and a new active one begins on move_in_date in
    a vacant unit (reason 住替え). The household and its 当初入居日 continue. The deposit carries over
    unless another amount is given."""
    today = today or today_tokyo()
    action = "household_event.transfer"
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        unit = Unit.get_or_none(Unit.id == unit_id) if isinstance(unit_id, int) else None
        if unit is None:
            raise RuleViolation(_l("住替え先の住戸を選んでください。"), field="unit")
        if unit.id == tenancy.unit_id:
            raise RuleViolation(_l("現在の住戸とは別の住戸を選んでください。"), field="unit")
        if old_unit_status not in UNIT_AFTER_MOVE_OUT:
            raise RuleViolation(_l("元の住戸の状態を選んでください。"), field="old_unit_status")
        _check_date(move_out_date, tenancy, today, field_name="move_out_date", days_ahead=TRANSFER_DAYS_AHEAD)
        if move_in_date < move_out_date:
            raise RuleViolation(
                _l("新しい住戸の入居日は元の住戸の退去日以降にしてください。"), field="move_in_date"
            )
        if move_in_date > today + dt.timedelta(days=TRANSFER_DAYS_AHEAD):
            raise RuleViolation(
                _l("今日から%(days)s日後までの日付を入力してください。", days=TRANSFER_DAYS_AHEAD),
                field="move_in_date",
            )
        if unit.status != "vacant":
            raise EventConflict(
                _l(
                    "この住戸は空家ではありません（%(status)s）。ほかの住戸を選んでください。",
                    status=_label(UNIT_STATUSES, unit.status),
                ),
                field="unit",
            )
        # Take the unit first: a compare-and-set on its version, so of two transfers (or move-ins) into
        # the same unit only one passes; the other waits for the first to commit and then finds it taken.
        try:
            editing.update(
                unit,
                unit.version,
                {"status": "occupied"},
                household_id=household.id,
                action=action,
                **_context(context),
            )
        except ConflictError:
            raise EventConflict(
                _l("この住戸はほかの手続きで先に入居が決まりました。ほかの住戸を選んでください。"),
                field="unit",
            ) from None
        old_unit = Unit.get_by_id(tenancy.unit_id)
        carried = tenancy.deposit if deposit is None else deposit
        _update(
            tenancy,
            {"status": "ended", "move_out_date": move_out_date, "deposit_settled_on": move_out_date},
            household.id,
            action,
            context,
        )
        _update(old_unit, {"status": old_unit_status}, household.id, action, context)
        try:
            _create(
                Tenancy,
                {
                    "household": household.id,
                    "unit": unit.id,
                    "move_in_date": move_in_date,
                    "status": "active",
                    "reason": "transfer",
                    "deposit": carried,
                },
                household.id,
                action,
                context,
            )
        except RuleViolation:
            raise EventConflict(
                _l("この住戸にはすでに入居中の世帯があります。ほかの住戸を選んでください。"), field="unit"
            ) from None
        estate = Estate.select().join(Building).where(Building.id == unit.building_id).first()
        deposit_text = "敷金の記録なし" if carried is None else f"敷金 {carried:,}円"
        detail = (
            f"{old_unit.housing_code}（{_jp(move_out_date)}退去）から{unit.housing_code}（{estate.name if estate else ''}"
            f" {unit.room_number}号室、{_jp(move_in_date)}入居）へ住替え。当初入居日 {_jp(household.first_move_in_date)}"
            f" は変わりません。{deposit_text}を引き継ぎ。" + (f" {note}" if note else "")
        )
        event = _event(household, "transfer", move_in_date, None, detail, context)
    return EventResult(
        event,
        _l("%(code)sへの住替えを登録しました。", code=unit.housing_code),
        warnings=[_l("家賃は新しい住戸で決定し直してください。駐車場契約はそのままです。")],
    )


# --- 退去 ---------------------------------------------------------------------------------------------


@dataclass
class ChargeLine:
    """One charge the move-out writes: the final month prorated, a new final charge, or a later month
    cancelled."""

    action: str  # prorate, create, cancel
    kind: str
    label: str
    period: dt.date
    source_key: str
    amount: int
    reduction: int
    charge: Charge | None = None
    contract: ParkingContract | None = None
    before_amount: int | None = None
    before_reduction: int | None = None
    paid: int = 0
    explanation: str = ""


@dataclass
class MoveOutPlan:
    """Everything a move-out will write, computed without writing: shown on the confirmation page."""

    household: Household
    tenancy: Tenancy
    last_day: dt.date
    monthly_rent: int
    rent_source: str
    lines: list[ChargeLine]
    unpaid: int
    credit: int
    settlement: rules.Settlement
    deposit_recorded: bool
    contracts: list[ParkingContract]
    transfers: list[BankTransfer]
    members: list[Person]
    unpaid_rows: list[tuple[dt.date, str, int]]
    procedure: MoveProcedure | None
    digest: str = ""

    @property
    def explanation(self) -> list[str]:
        lines = [f"{line.label} {line.explanation}" for line in self.lines if line.explanation]
        return lines + self.settlement.explanation


def _monthly_rent(household_id: int, tenancy: Tenancy, last_day: dt.date, existing: Charge | None):
    """The monthly rent the final month is prorated from: the approved rent decision in force, else
    the month's charge, else the latest rent charge."""
    decision = (
        RentDecision.select()
        .where(
            (RentDecision.household == household_id)
            & (RentDecision.state == "approved")
            & (RentDecision.effective_from <= last_day)
        )
        .order_by(RentDecision.effective_from.desc(), RentDecision.id.desc())
        .first()
    )
    if decision is not None:
        return decision.rent, f"家賃決定（{_jp(decision.effective_from)}から）の住宅使用料"
    if existing is not None and not existing.cancelled:
        return existing.amount, f"{existing.period.year}年{existing.period.month}月分の調定額"
    latest = (
        Charge.select()
        .where((Charge.household == household_id) & (Charge.kind == "rent") & ~Charge.cancelled)
        .order_by(Charge.period.desc())
        .first()
    )
    if latest is not None:
        return latest.amount, f"直近の調定額（{latest.period.year}年{latest.period.month}月分）"
    raise RuleViolation(
        _l(
            "住宅使用料（月額）が決まっていないため、日割りの計算ができません。家賃決定または調定を確認してください。"
        ),
        field="last_day",
    )


def _paid_by_charge(household_id: int) -> dict[int, int]:
    rows = (
        Payment.select(Payment.charge, fn.SUM(Payment.amount).alias("paid"))
        .join(Charge)
        .where((Charge.household == household_id) & ~Payment.reversed)
        .group_by(Payment.charge)
    )
    return {row.charge_id: int(row.paid or 0) for row in rows}


def _prorated_reduction(reduction: int, proration: rules.Proration) -> int:
    return min(reduction * proration.days // proration.month_days, proration.amount)


def plan_move_out(household_id: int, last_day: dt.date, repair_cost: int, *, today=None) -> MoveOutPlan:
    """The figures of a move-out (SPEC §3.2 日割り, 敷金精算), computed from the rows as they are now.

    The last month's rent and each active parking contract's fee are prorated to the days occupied
    (an existing charge of that month is reduced, a missing one created); rent and parking charges of
    later months are cancelled (what was paid on them is returned through the settlement); the deposit
    is settled against every unpaid charge and the repair cost.
    """
    today = today or today_tokyo()
    household = Household.get_by_id(household_id)
    tenancy = active_tenancy(household_id)
    if household.status == "moved_out" or tenancy is None:
        raise RuleViolation(_l("退去済みの世帯（入居中の住戸がない世帯）には異動を登録できません。"))
    _check_date(last_day, tenancy, today, field_name="last_day")
    if isinstance(repair_cost, bool) or not isinstance(repair_cost, int) or repair_cost < 0:
        raise RuleViolation(_l("金額は0以上の整数（円）で入力してください。"), field="repair_cost")
    period = rules.month_start(last_day)
    every = list(Charge.select().where(Charge.household == household_id).order_by(Charge.period, Charge.id))
    charges = [c for c in every if not c.cancelled]
    # A month the city cancelled (e.g. rent-free) stays cancelled: no final charge is made for it.
    by_key = {(c.period, c.source_key): c for c in every}
    paid = _paid_by_charge(household_id)
    lines: list[ChargeLine] = []

    existing_rent = by_key.get((period, "rent"))
    monthly, source = _monthly_rent(household_id, tenancy, last_day, existing_rent)
    start, end = rules.final_month(tenancy.move_in_date, last_day)
    rent = rules.prorate(monthly, start, end)
    if existing_rent is not None and existing_rent.cancelled:
        pass
    elif existing_rent is not None:
        lines.append(
            ChargeLine(
                "prorate",
                "rent",
                "住宅使用料",
                period,
                "rent",
                rent.amount,
                _prorated_reduction(existing_rent.reduction_amount, rent),
                charge=existing_rent,
                before_amount=existing_rent.amount,
                before_reduction=existing_rent.reduction_amount,
                paid=paid.get(existing_rent.id, 0),
                explanation=rent.explanation,
            )
        )
    else:
        lines.append(
            ChargeLine(
                "create", "rent", "住宅使用料", period, "rent", rent.amount, 0, explanation=rent.explanation
            )
        )

    contracts = list(
        ParkingContract.select(ParkingContract, ParkingSpace)
        .join(ParkingSpace)
        .where((ParkingContract.household == household_id) & (ParkingContract.status == "active"))
        .order_by(ParkingContract.id)
    )
    for contract in contracts:
        if contract.start_date > last_day:
            raise RuleViolation(
                _l(
                    "駐車場契約（区画 %(space)s）の使用開始日が退去日より後です。先に駐車場の欄で契約を取り消してください。",
                    space=contract.space.space_no,
                ),
                field="last_day",
            )
        key = f"parking:{contract.id}"
        proration = rules.prorate(contract.monthly_fee, max(period, contract.start_date), last_day)
        label = f"駐車場使用料（区画 {contract.space.space_no}）"
        existing = by_key.get((period, key))
        if existing is not None and existing.cancelled:
            continue
        if existing is not None:
            lines.append(
                ChargeLine(
                    "prorate",
                    "parking",
                    label,
                    period,
                    key,
                    proration.amount,
                    _prorated_reduction(existing.reduction_amount, proration),
                    charge=existing,
                    contract=contract,
                    before_amount=existing.amount,
                    before_reduction=existing.reduction_amount,
                    paid=paid.get(existing.id, 0),
                    explanation=proration.explanation,
                )
            )
        else:
            lines.append(
                ChargeLine(
                    "create",
                    "parking",
                    label,
                    period,
                    key,
                    proration.amount,
                    _prorated_reduction(contract.reduction_amount, proration),
                    contract=contract,
                    explanation=proration.explanation,
                )
            )
    for charge in charges:
        if charge.period > period and charge.kind in ("rent", "parking"):
            lines.append(
                ChargeLine(
                    "cancel",
                    charge.kind,
                    "住宅使用料" if charge.kind == "rent" else "駐車場使用料",
                    charge.period,
                    charge.source_key,
                    charge.amount,
                    charge.reduction_amount,
                    charge=charge,
                    before_amount=charge.amount,
                    before_reduction=charge.reduction_amount,
                    paid=paid.get(charge.id, 0),
                    explanation=f"{charge.period.year}年{charge.period.month}月分は退去後のため取消",
                )
            )

    # The balance of every charge once the plan is applied.
    planned = {line.charge.id: line for line in lines if line.charge is not None}
    unpaid = credit = 0
    unpaid_rows: list[tuple[dt.date, str, int]] = []
    for charge in charges:
        line = planned.get(charge.id)
        if line is not None and line.action == "cancel":
            credit += line.paid
            continue
        amount = line.amount if line else charge.amount
        reduction = line.reduction if line else charge.reduction_amount
        balance = amount - reduction - paid.get(charge.id, 0)
        if balance > 0:
            unpaid += balance
            unpaid_rows.append((charge.period, _label(CHARGE_KINDS, charge.kind), balance))
        else:
            credit += -balance
    for line in lines:
        if line.action == "create" and line.amount - line.reduction > 0:
            unpaid += line.amount - line.reduction
            unpaid_rows.append((line.period, line.label, line.amount - line.reduction))
    unpaid_rows.sort()
    deposit = tenancy.deposit or 0
    settlement = rules.settle_deposit(deposit, unpaid, repair_cost, credit)
    transfers = list(
        BankTransfer.select()
        .where((BankTransfer.household == household_id) & BankTransfer.valid_to.is_null())
        .order_by(BankTransfer.purpose)
    )
    procedure = (
        MoveProcedure.select()
        .where((MoveProcedure.tenancy == tenancy.id) & (MoveProcedure.kind == "move_out"))
        .order_by(MoveProcedure.id.desc())
        .first()
    )
    plan = MoveOutPlan(
        household=household,
        tenancy=tenancy,
        last_day=last_day,
        monthly_rent=monthly,
        rent_source=source,
        lines=lines,
        unpaid=unpaid,
        credit=credit,
        settlement=settlement,
        deposit_recorded=tenancy.deposit is not None,
        contracts=contracts,
        transfers=transfers,
        members=current_members(household_id),
        unpaid_rows=unpaid_rows,
        procedure=procedure,
    )
    plan.digest = _digest(plan)
    return plan


def _digest(plan: MoveOutPlan) -> str:
    """A fingerprint of the figures shown on the confirmation page (a change since then → 409)."""
    parts: list[str] = [
        plan.last_day.isoformat(),
        str(plan.tenancy.id),
        str(plan.tenancy.version),
        str(plan.settlement.deposit),
        str(plan.unpaid),
        str(plan.credit),
        str(plan.settlement.repair_cost),
    ]
    parts += [
        f"{line.action}:{line.source_key}:{line.period}:{line.amount}:{line.reduction}" for line in plan.lines
    ]
    parts += [f"c{c.id}" for c in plan.contracts] + [f"t{t.id}" for t in plan.transfers]
    parts += [f"p{p.id}" for p in plan.members]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def move_out(
    household_id: int,
    last_day: dt.date,
    *,
    repair_cost: int = 0,
    unit_status: str = "repair",
    expected_digest: str | None = None,
    keys_returned_on: dt.date | None = None,
    inspection_on: dt.date | None = None,
    repair_needs: str | None = None,
    note: str | None = None,
    today=None,
    **context,
) -> tuple[EventResult, MoveOutPlan]:
    """退去: the tenancy ends on last_day with the final month prorated, the deposit settled, the
    parking contracts and bank transfers ended, every member's membership ended (世帯退去), the unit
    freed and the household moved out. expected_digest: the figures confirmed on the preview; when
    they changed since, EventConflict (nothing written) and the screen shows them again."""
    today = today or today_tokyo()
    action = "household_event.move_out"
    if unit_status not in UNIT_AFTER_MOVE_OUT:
        raise RuleViolation(_l("退去後の住戸の状態を選んでください。"), field="unit_status")
    with db.atomic():
        household, tenancy = _locked_active(household_id)
        plan = plan_move_out(household.id, last_day, repair_cost, today=today)
        if expected_digest is not None and expected_digest != plan.digest:
            raise EventConflict(
                _l(
                    "確認画面を表示した後に、この世帯の調定・収納などが変わりました。新しい金額を確認してください。"
                )
            )
        hid = household.id
        for line in plan.lines:
            if line.action == "prorate":
                _update(
                    line.charge,
                    {"amount": line.amount, "reduction_amount": line.reduction},
                    hid,
                    action,
                    context,
                )
            elif line.action == "cancel":
                _update(line.charge, {"cancelled": True}, hid, action, context)
            else:
                _create(
                    Charge,
                    {
                        "household": hid,
                        "kind": line.kind,
                        "period": line.period,
                        "source_key": line.source_key,
                        "parking_contract": line.contract.id if line.contract else None,
                        "amount": line.amount,
                        "reduction_amount": line.reduction,
                        "due_date": rules.month_end(line.period),
                        "note": "退去月の日割り",
                    },
                    hid,
                    action,
                    context,
                )
        for contract in plan.contracts:
            _update(contract, {"end_date": last_day, "status": "ended"}, hid, action, context)
            space = ParkingSpace.get_by_id(contract.space_id)
            if space.status == "contracted":
                _update(space, {"status": "available"}, hid, action, context)
        for registration in plan.transfers:
            _update(registration, {"valid_to": max(registration.valid_from, last_day)}, hid, action, context)
        for person in plan.members:
            _update(
                person,
                {"member_to": max(person.member_from, last_day), "leave_reason": "household_moved_out"},
                hid,
                action,
                context,
            )
        settlement = plan.settlement
        _update(
            tenancy,
            {
                "status": "ended",
                "move_out_date": last_day,
                "deposit_settled_on": today,
                "repair_cost": repair_cost,
                "deposit_refund": settlement.refund,
                "settlement_due": settlement.due,
            },
            hid,
            action,
            context,
        )
        unit = Unit.get_by_id(tenancy.unit_id)
        _update(unit, {"status": unit_status}, hid, action, context)
        _update(household, {"status": "moved_out"}, hid, action, context)
        _record_procedure(plan, keys_returned_on, inspection_on, repair_needs, hid, action, context)
        outcome = (
            f"返還額 {settlement.refund:,}円"
            if settlement.due == 0
            else f"不足額 {settlement.due:,}円（請求）"
        )
        detail = (
            f"{unit.housing_code}から退去（最終日 {_jp(last_day)}）。"
            + "、".join(f"{line.label} {line.explanation}" for line in plan.lines if line.action != "cancel")
            + f"。{settlement.explanation[0]}。駐車場契約{len(plan.contracts)}件・口座振替{len(plan.transfers)}件を終了。"
            + (f" {note}" if note else "")
        )
        event = _event(household, "move_out", last_day, None, detail, context)
    message = _l("退去を登録しました（%(outcome)s）。", outcome=outcome)
    return EventResult(event, message, plan.explanation, summary=_l("精算の計算")), plan


def _record_procedure(plan, keys_returned_on, inspection_on, repair_needs, hid, action, context) -> None:
    """The 退去手続 (keys, inspection, repairs): the agent's record updated, or a new one."""
    values = {
        name: value
        for name, value in (
            ("keys_handed_on", keys_returned_on),
            ("inspection_on", inspection_on),
            ("repair_needs", repair_needs),
        )
        if value is not None
    }
    if not values:
        return
    if plan.procedure is not None:
        _update(plan.procedure, values, hid, action, context)
        return
    actor = context.get("actor")
    if getattr(actor, "id", None) is None:
        return
    _create(
        MoveProcedure,
        {"tenancy": plan.tenancy.id, "kind": "move_out", "recorded_by": actor.id, **values},
        hid,
        action,
        context,
    )
