"""収入申告 (income declarations): from the amounts people entered to the computed declaration.

    opened = declarations.load(household, 2026)                  # the declaration (or none yet) and its members
    entry = declarations.DeclarationEntry(status="submitted", source="self", submitted_on=…, members=(…))
    problems = declarations.check(opened, entry)                 # [(key, message)] to show beside the fields
    saved = declarations.save(household, 2026, entry, opened.version, **audit_context())

The one place that turns entered amounts into a computed declaration: the staff screen uses it today;
the yearly 収入申告 cycle, the notices and the contractor portal's keyed-in declarations build on it.

- Who is in a declaration (declaration_members): the household's members on the reference day (today
  for the current fiscal year or a later one, 31 March at the end of a past fiscal year), plus anyone
  who already has an income row in it; the head (名義人) first, as rules.income expects.
- What is computed (compute): each member's 給与所得, 公的年金等の雑所得, 所得額 and 控除額 and the
  household's totals, 政令月収 and 収入分位 with rules.income and the masters in force for the fiscal
  year (services.masters), with the explanation (the steps, in Japanese) and the masters used.
  Only a declaration whose status holds figures (提出済, 税情報で認定, 法34条調査) is computed; the
  others (送付済, 未提出, 督促済) hold no incomes at all.
- How it is saved (save): one transaction, with the declaration's version guarding the whole
  declaration (its member rows and remote dependents included): ConflictError when someone saved it
  (or created it) in between, MembersChanged when the household's members changed, DeclarationInvalid
  for the problems of check. The audit entries are filed under the household with "table.column"
  fields and [before, after] values: one for the declaration and one per member row or remote
  dependent that changed, so each row's before and after stay unambiguous.

Like the other services it never reads the request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from peewee import IntegrityError, fn

from extensions import db, is_sqlite
from models import Household, IncomeDeclaration, MemberIncome, Person, RemoteDependent
from models.base import ConflictError, utcnow
from models.income import DECLARATION_STATUSES, DISABILITY_LEVELS, INCOME_SOURCES
from models.masters import RentBaseBand
from models.person import RELATIONS
from rules import income as rules
from rules import wareki
from rules.filters import today_tokyo
from services import audit, editing, masters

__all__ = [
    "FIGURE_STATUSES",
    "MAX_AMOUNT",
    "Computed",
    "ConflictError",
    "DeclarationEntry",
    "DeclarationInvalid",
    "MemberEntry",
    "MembersChanged",
    "Opened",
    "RemoteEntry",
    "Saved",
    "check",
    "compute",
    "current_fiscal_year",
    "declaration_members",
    "load",
    "reference_day",
    "save",
]

# Statuses whose declaration holds incomes (and so 政令月収); the others hold none.
FIGURE_STATUSES = frozenset({"submitted", "tax_certified", "investigation"})
MAX_AMOUNT = 999_999_999  # yen: a sensible ceiling for one person's yearly amount
MAX_REMOTE = 20
AMOUNTS = ("salary_revenue", "pension_revenue", "other_income", "non_taxable_revenue")
FLAGS = ("is_dependent", "is_widow", "is_single_parent")
_STATUS_CODES = frozenset(code for code, _ in DECLARATION_STATUSES)
_SOURCE_CODES = frozenset(code for code, _ in INCOME_SOURCES)
_DISABILITY_CODES = frozenset(code for code, _ in DISABILITY_LEVELS)


# --- what is entered --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberEntry:
    """One member's entered incomes and what the deductions depend on."""

    person_id: int
    salary_revenue: int = 0
    pension_revenue: int = 0
    other_income: int = 0
    non_taxable_revenue: int = 0  # 遺族年金・障害年金・失業給付: recorded, never counted
    is_dependent: bool = False
    is_widow: bool = False
    is_single_parent: bool = False
    disability: str = "none"

    def is_blank(self) -> bool:
        """No amount, no flag, no disability: what a declaration without figures holds."""
        return not any(getattr(self, name) for name in (*AMOUNTS, *FLAGS)) and self.disability == "none"


@dataclass(frozen=True)
class RemoteEntry:
    """A dependent living elsewhere (遠隔地扶養親族); id: the stored row it edits (None: a new one)."""

    name: str
    birth_date: dt.date
    disability: str = "none"
    id: int | None = None


@dataclass(frozen=True)
class DeclarationEntry:
    """Everything a person enters for one declaration."""

    status: str
    source: str | None = None
    submitted_on: dt.date | None = None
    members: tuple[MemberEntry, ...] = ()
    remote_dependents: tuple[RemoteEntry, ...] = ()


class DeclarationInvalid(editing.RuleViolation):
    """The entry breaks rules: problems [(key, message)]; key "status", "members.<person id>.<column>",
    "remote.<index>.<column>", "fiscal_year" … or None for the declaration as a whole."""

    def __init__(self, problems: list[tuple[str | None, str]]):
        key, message = problems[0]
        super().__init__(message, key)
        self.problems = problems


class MembersChanged(editing.RuleViolation):
    """The members of the entry are not the declaration's (someone joined or left since the form opened)."""

    def __init__(self):
        super().__init__(
            _l(
                "この画面を開いた後に世帯員が変わりました（同居・転出など）。世帯員の一覧を更新しましたので、"
                "内容を確認してもう一度保存してください。"
            )
        )


# --- what is stored ---------------------------------------------------------------------------------


@dataclass
class Opened:
    """A household's declaration for a fiscal year as stored (declaration None: not entered yet)."""

    household: Household
    fiscal_year: int
    declaration: IncomeDeclaration | None
    members: list[Person]  # head first
    incomes: dict[int, MemberIncome]
    remote: list[RemoteDependent]
    reference_day: dt.date

    @property
    def income_year(self) -> int:
        return self.fiscal_year - 1

    @property
    def version(self) -> int:
        """The version a save must name (0: the declaration does not exist yet)."""
        return self.declaration.version if self.declaration is not None else 0

    def member_entry(self, person: Person) -> MemberEntry:
        row = self.incomes.get(person.id)
        if row is None:
            return MemberEntry(person.id)
        return MemberEntry(
            person.id, **{name: getattr(row, name) for name in (*AMOUNTS, *FLAGS, "disability")}
        )

    def entry(self) -> DeclarationEntry:
        """What is stored, as an entry (a form's starting values; "theirs" in a conflict)."""
        d = self.declaration
        return DeclarationEntry(
            status=d.status if d is not None else "submitted",
            source=(d.source if d is not None else "self"),
            submitted_on=d.submitted_on if d is not None else None,
            members=tuple(self.member_entry(person) for person in self.members),
            remote_dependents=tuple(
                RemoteEntry(r.name, r.birth_date, r.disability, r.id) for r in self.remote
            ),
        )


@dataclass
class Computed:
    """The figures of a declaration, with the explanation and the masters used."""

    total_income: int
    total_deduction: int
    seirei_getsushu: int
    bracket: int
    base_amount: int
    members: dict[int, rules.MemberResult]  # by person id
    explanation: list[str]
    masters_used: dict[str, str]


@dataclass
class Saved:
    """The result of a save: the declaration as stored, whether anything changed, the figures."""

    declaration: IncomeDeclaration
    created: bool
    changed: bool
    computed: Computed | None
    audit_entries: list = field(default_factory=list)


# --- reading ----------------------------------------------------------------------------------------


def current_fiscal_year(today: dt.date | None = None) -> int:
    """The fiscal year (年度, April-March) a day falls in."""
    today = today or today_tokyo()
    return today.year if today.month >= 4 else today.year - 1


def latest_fiscal_year(today: dt.date | None = None) -> int:
    """The latest fiscal year whose incomes (the previous calendar year) can be declared: the income
    year must be over."""
    return (today or today_tokyo()).year


def reference_day(fiscal_year: int, today: dt.date | None = None) -> dt.date:
    """The day whose members a new declaration lists: today for the current fiscal year (or a later
    one), the last day of a past fiscal year."""
    today = today or today_tokyo()
    if fiscal_year >= current_fiscal_year(today):
        return today
    return dt.date(fiscal_year + 1, 3, 31)


def _head_first(people: Iterable[Person], on: dt.date) -> list[Person]:
    def key(person: Person):
        current = person.member_to is None or person.member_to >= on
        if person.is_head and current:
            rank = 0
        elif person.is_head:
            rank = 1
        elif person.relation == "head":
            rank = 2
        else:
            rank = 3
        return rank, person.birth_date, person.id

    return sorted(people, key=key)


def declaration_members(household_id: int, on: dt.date, also: Iterable[int] = ()) -> list[Person]:
    """The members of the household on a day, plus the persons named in also (those with an income
    row already), the head first, then by date of birth."""
    also = list(also)
    on_day = (Person.member_from <= on) & (Person.member_to.is_null() | (Person.member_to >= on))
    condition = on_day | Person.id.in_(also) if also else on_day
    people = Person.select().where((Person.household == household_id) & condition)
    return _head_first(people, on)


def load(household: Household, fiscal_year: int, today: dt.date | None = None) -> Opened:
    """The household's declaration for a fiscal year with its member rows, remote dependents and the
    members it lists (a declaration not entered yet: declaration None, the members of the day)."""
    declaration = IncomeDeclaration.get_or_none(
        (IncomeDeclaration.household == household.id) & (IncomeDeclaration.fiscal_year == fiscal_year)
    )
    incomes: dict[int, MemberIncome] = {}
    remote: list[RemoteDependent] = []
    if declaration is not None:
        incomes = {
            row.person_id: row
            for row in MemberIncome.select().where(MemberIncome.declaration == declaration.id)
        }
        remote = list(
            RemoteDependent.select()
            .where(RemoteDependent.declaration == declaration.id)
            .order_by(RemoteDependent.id)
        )
    day = reference_day(fiscal_year, today)
    people = declaration_members(household.id, day, incomes)
    return Opened(household, fiscal_year, declaration, people, incomes, remote, day)


# --- checking ---------------------------------------------------------------------------------------


def _date(value: dt.date) -> str:
    return wareki.to_wareki(value)


def check(
    opened: Opened, entry: DeclarationEntry, today: dt.date | None = None
) -> list[tuple[str | None, str]]:
    """The entry's problems [(key, message)], empty when it can be saved. MembersChanged when its members
    are not the declaration's. Masters are checked by compute (a save checks both)."""
    today = today or today_tokyo()
    expected = [person.id for person in opened.members]
    given = [member.person_id for member in entry.members]
    if sorted(given) != sorted(expected) or len(set(given)) != len(given):
        raise MembersChanged()
    problems: list[tuple[str | None, str]] = []
    add = problems.append
    figures = entry.status in FIGURE_STATUSES

    if entry.status not in _STATUS_CODES:
        add(("status", str(_l("一覧から選んでください。"))))
    if entry.source is not None and entry.source not in _SOURCE_CODES:
        add(("source", str(_l("一覧から選んでください。"))))
    elif figures and entry.source is None:
        add(("source", str(_l("収入を申告した世帯は、収入の根拠を選んでください。"))))
    elif entry.status == "tax_certified" and entry.source != "tax":
        add(("source", str(_l("「税情報で認定」のときは、収入の根拠を「税情報照会」にしてください。"))))
    elif entry.status == "investigation" and entry.source != "investigation":
        add(("source", str(_l("「法34条調査」のときは、収入の根拠を「法34条調査」にしてください。"))))
    elif entry.status in _STATUS_CODES and not figures and entry.source is not None:
        add(
            (
                "source",
                str(_l("収入の申告がない状況（送付済・未提出・督促済）では、収入の根拠は空欄にします。")),
            )
        )

    if entry.submitted_on is not None:
        earliest = dt.date(opened.fiscal_year, 1, 1)  # the income year must be over
        if entry.status in _STATUS_CODES and not figures:
            add(("submitted_on", str(_l("提出日は、申告状況が「提出済」などのときに入力します。"))))
        elif entry.submitted_on > today:
            add(("submitted_on", str(_l("提出日に今日より後の日付は入力できません。"))))
        elif entry.submitted_on < earliest:
            add(
                (
                    "submitted_on",
                    str(
                        _l(
                            "%(year)s年分の収入の申告です。提出日は%(date)s以降の日付にしてください。",
                            year=opened.income_year,
                            date=_date(earliest),
                        )
                    ),
                )
            )
    elif entry.status == "submitted":
        add(("submitted_on", str(_l("提出済の申告は提出日を入力してください。"))))

    entered = any(not member.is_blank() for member in entry.members) or bool(entry.remote_dependents)
    if entry.status in _STATUS_CODES and not figures and entered:
        add(
            (
                "status",
                str(
                    _l(
                        "収入や控除を入力したときは、申告状況を「提出済」「税情報で認定」"
                        "「法34条調査」のいずれかにしてください。"
                    )
                ),
            )
        )

    head_id = opened.members[0].id if opened.members and _is_head(opened.members[0]) else None
    if head_id is None:
        add(
            (
                None,
                str(
                    _l("名義人がいない世帯の収入申告は計算できません。先に名義人（承継）を登録してください。")
                ),
            )
        )
    for member in entry.members:
        key = f"members.{member.person_id}"
        for name in AMOUNTS:
            value = getattr(member, name)
            if not isinstance(value, int) or value < 0 or value > MAX_AMOUNT:
                add((f"{key}.{name}", str(_l("金額は0円から999,999,999円までの整数で入力してください。"))))
        if member.disability not in _DISABILITY_CODES:
            add((f"{key}.disability", str(_l("一覧から選んでください。"))))
        if member.is_widow and member.is_single_parent:
            add(
                (
                    f"{key}.is_single_parent",
                    str(_l("寡婦とひとり親は同時に選べません。どちらか一方にしてください。")),
                )
            )
        if member.person_id == head_id and member.is_dependent:
            add((f"{key}.is_dependent", str(_l("名義人は扶養親族にできません。"))))

    if len(entry.remote_dependents) > MAX_REMOTE:
        add((None, str(_l("遠隔地扶養親族は%(max)s人まで入力できます。", max=MAX_REMOTE))))
    age_day = dt.date(opened.income_year, 12, 31)
    for index, remote in enumerate(entry.remote_dependents):
        key = f"remote.{index}"
        if not remote.name:
            add((f"{key}.name", str(_l("氏名を入力してください。"))))
        elif any(ch.isdigit() for ch in remote.name):
            add((f"{key}.name", str(_l("氏名に数字は使えません。"))))
        if remote.birth_date is None:
            add((f"{key}.birth_date", str(_l("生年月日を入力してください。"))))
        elif remote.birth_date > age_day:
            add(
                (
                    f"{key}.birth_date",
                    str(
                        _l(
                            "生年月日が%(date)s（%(year)s年分の年齢の基準日）より後です。",
                            date=_date(age_day),
                            year=opened.income_year,
                        )
                    ),
                )
            )
        if remote.disability not in _DISABILITY_CODES:
            add((f"{key}.disability", str(_l("一覧から選んでください。"))))
    return problems


def _is_head(person: Person) -> bool:
    return bool(person.is_head) or person.relation == "head"


# --- computing --------------------------------------------------------------------------------------


def _rent_band_from(on: dt.date) -> dt.date | None:
    return RentBaseBand.select(fn.MAX(RentBaseBand.valid_from)).where(RentBaseBand.valid_from <= on).scalar()


def _label(pairs, code) -> str:
    return dict(pairs).get(code, code or "")


def compute(opened: Opened, entry: DeclarationEntry) -> Computed:
    """The figures of the entry with the masters in force for the fiscal year (DeclarationInvalid on
    "fiscal_year" when they are missing). Call after check: members and amounts are taken as valid."""
    income_year = opened.income_year
    start = masters.fiscal_year_start(opened.fiscal_year)
    try:
        income_masters = masters.income_masters(income_year)
        bands = masters.rent_bands(start)
    except masters.MasterMissing:
        raise DeclarationInvalid(
            [
                (
                    "fiscal_year",
                    str(
                        _l(
                            "%(year)s年分の収入に適用するマスタ（給与所得・控除額・家賃算定基礎額）が登録されていません。",
                            year=income_year,
                        )
                    ),
                )
            ]
        ) from None
    by_person = {member.person_id: member for member in entry.members}
    people = opened.members
    rows = []
    for person in people:
        given = by_person[person.id]
        rows.append(
            rules.Member(
                relation=person.relation,
                birth_date=person.birth_date,
                salary_revenue=given.salary_revenue,
                pension_revenue=given.pension_revenue,
                other_income=given.other_income,
                disability=given.disability,
                widow=given.is_widow,
                single_parent=given.is_single_parent,
                dependent=given.is_dependent,
            )
        )
    remote = [rules.RemoteDependent(r.birth_date, r.disability) for r in entry.remote_dependents]
    result = rules.household_income(rows, remote, income_masters)
    band = rules.bracket_for(result.seirei_getsushu, bands)

    who = [f"名義人 = {people[0].name}"] + [
        f"世帯員{index + 1} = {person.name}（{_label(RELATIONS, person.relation)}）"
        for index, person in enumerate(people[1:], start=1)
    ]
    explanation = [
        f"{wareki.fiscal_year_label(opened.fiscal_year)}の収入申告（{income_year}年分の収入）",
        "、".join(who),
    ]
    if entry.remote_dependents:
        explanation.append("遠隔地扶養親族 = " + "、".join(r.name for r in entry.remote_dependents))
    explanation.extend(result.explanation[:-1])
    non_taxable = sum(member.non_taxable_revenue for member in entry.members)
    if non_taxable:
        explanation.append(f"非課税収入（遺族年金・障害年金・失業給付など）{non_taxable:,}円は所得に含めない")
    explanation.append(result.explanation[-1])
    upper = f"{band.income_max:,}円" if band.income_max is not None else ""
    explanation.append(
        f"収入分位 {band.bracket}（政令月収 {band.income_min:,}円〜{upper}、家賃算定基礎額 {band.base_amount:,}円）"
    )
    used = dict(income_masters.used)
    used["rent_base_band"] = f"valid_from={_rent_band_from(start).isoformat()}"
    return Computed(
        total_income=result.total_income,
        total_deduction=result.total_deduction,
        seirei_getsushu=result.seirei_getsushu,
        bracket=band.bracket,
        base_amount=band.base_amount,
        members={person.id: figures for person, figures in zip(people, result.members, strict=True)},
        explanation=explanation,
        masters_used=used,
    )


# --- saving -----------------------------------------------------------------------------------------

# Derived bookkeeping left out of the audit entries: the explanation and the time of the computation
# follow from the audited inputs, figures and masters_used, and the page shows them.
_UNAUDITED = frozenset({"explanation", "computed_at"})


def _lock_household(household_id: int) -> None:
    """Serialise saves of one household's declarations (SQLite transactions already hold the write lock)."""
    if not is_sqlite():
        list(Household.select(Household.id).where(Household.id == household_id).for_update())


def _audit(action: str, table: str, row_id, changed: dict, household_id: int, context: dict):
    names, values = [], {}
    for name, (before, after) in changed.items():
        qualified = f"{table}.{name}"
        names.append(qualified)
        values[qualified] = [editing.history_value(before), editing.history_value(after)]
    return audit.record(
        action,
        target_table="household",
        target_ids=[household_id],
        fields=names,
        changes=values,
        reason=f"{table} {row_id}",
        **context,
    )


def _declaration_values(entry: DeclarationEntry, computed: Computed | None) -> dict:
    values = {"status": entry.status, "source": entry.source, "submitted_on": entry.submitted_on}
    if computed is None:
        values.update(
            total_income=None, total_deduction=None, seirei_getsushu=None, bracket=None,
            masters_used=None, explanation=None,
        )  # fmt: skip
    else:
        values.update(
            total_income=computed.total_income,
            total_deduction=computed.total_deduction,
            seirei_getsushu=computed.seirei_getsushu,
            bracket=computed.bracket,
            masters_used=json.dumps(computed.masters_used, ensure_ascii=False, sort_keys=True),
            explanation=json.dumps(computed.explanation, ensure_ascii=False),
        )
    return values


def _member_values(member: MemberEntry, figures: rules.MemberResult) -> dict:
    values = {name: getattr(member, name) for name in (*AMOUNTS, *FLAGS, "disability")}
    values.update(
        salary_income=figures.salary_income,
        pension_income=figures.pension_income,
        income_amount=figures.income,
        deduction_amount=figures.deduction,
    )
    return values


def save(
    household: Household,
    fiscal_year: int,
    entry: DeclarationEntry,
    expected_version: int,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
) -> Saved:
    """Check, compute and store a declaration in one transaction with its audit entries.

    expected_version: the version the person read (0: the declaration did not exist). Raises
    ConflictError (someone saved or created it in between: nothing written), MembersChanged,
    DeclarationInvalid (the problems of check and compute: nothing written).
    """
    context = {"actor": actor, "session_ref": session_ref, "ip": ip}
    hid = household.id
    try:
        with db.atomic():
            _lock_household(hid)
            opened = load(household, fiscal_year, today)
            if opened.version != expected_version:
                stale = opened.declaration or IncomeDeclaration(household=hid, fiscal_year=fiscal_year)
                raise ConflictError(stale, expected_version)
            problems = check(opened, entry, today)
            if problems:
                raise DeclarationInvalid(problems)
            computed = compute(opened, entry) if entry.status in FIGURE_STATUSES else None
            return _write(opened, entry, computed, context)
    except IntegrityError as exc:
        # The unique (household, fiscal_year) index: someone created the declaration at the same moment.
        existing = IncomeDeclaration.get_or_none(
            (IncomeDeclaration.household == hid) & (IncomeDeclaration.fiscal_year == fiscal_year)
        )
        if existing is not None and expected_version == 0:
            raise ConflictError(existing, expected_version) from exc
        raise editing.RuleViolation(
            _l("入力された内容の組み合わせは登録できません。各項目を確認してください。")
        ) from exc


def _write(opened: Opened, entry: DeclarationEntry, computed: Computed | None, context: dict) -> Saved:
    hid = opened.household.id
    now = utcnow()
    pending: list[tuple] = []
    last = None  # the declaration's own entry
    declaration = opened.declaration
    values = _declaration_values(entry, computed)
    created = declaration is None
    if created:
        declaration = IncomeDeclaration(
            household=hid, fiscal_year=opened.fiscal_year, income_year=opened.income_year
        )
        changed = {name: (None, value) for name, value in values.items() if value is not None}
    else:
        changed = editing.diff(declaration, values)

    # The member rows: kept (and computed) for a declaration with figures, none for the others.
    member_changes: list[tuple[MemberIncome, dict, str]] = []
    by_person = {member.person_id: member for member in entry.members}
    for person in opened.members:
        row = opened.incomes.get(person.id)
        if computed is None:
            if row is not None:
                before = {name: (getattr(row, name), None) for name in _member_columns()}
                member_changes.append((row, before, "delete"))
            continue
        wanted = _member_values(by_person[person.id], computed.members[person.id])
        if row is None:
            row = MemberIncome(person=person.id)
            member_changes.append((row, {name: (None, value) for name, value in wanted.items()}, "create"))
        else:
            diff = editing.diff(row, wanted)
            if diff:
                member_changes.append((row, diff, "update"))

    remote_changes: list[tuple[RemoteDependent, dict, str]] = []
    stored = {r.id: r for r in opened.remote}
    kept: set[int] = set()
    for remote in entry.remote_dependents:
        wanted = {"name": remote.name, "birth_date": remote.birth_date, "disability": remote.disability}
        row = stored.get(remote.id) if remote.id is not None and remote.id not in kept else None
        if row is None:
            remote_changes.append((RemoteDependent(), {k: (None, v) for k, v in wanted.items()}, "create"))
        else:
            kept.add(row.id)
            diff = editing.diff(row, wanted)
            if diff:
                remote_changes.append((row, diff, "update"))
    for row in opened.remote:
        if row.id not in kept:
            before = {name: (getattr(row, name), None) for name in ("name", "birth_date", "disability")}
            remote_changes.append((row, before, "delete"))

    if not created and not changed and not member_changes and not remote_changes:
        return Saved(declaration, created=False, changed=False, computed=computed)

    if computed is not None:
        changed["computed_at"] = (declaration.computed_at, now)
    elif declaration.computed_at is not None:
        changed["computed_at"] = (declaration.computed_at, None)
    for name, (_, after) in changed.items():
        setattr(declaration, name, after)
    if created:
        declaration.save(force_insert=True)
        action = "income_declaration.create"
    else:
        # The version guards the whole declaration: it moves on whatever row changed.
        only = [IncomeDeclaration._meta.fields[name] for name in changed]
        declaration.save_versioned(opened.declaration.version, only=only)
        action = "income_declaration.update"
    audited = {name: pair for name, pair in changed.items() if name not in _UNAUDITED}
    if created:
        audited = {"household": (None, hid), "fiscal_year": (None, opened.fiscal_year),
                   "income_year": (None, opened.income_year), **audited}  # fmt: skip
    if audited:
        last = (action, "income_declaration", declaration.id, audited)

    for row, diff, kind in member_changes:
        if kind == "delete":
            row.delete_instance()
        elif kind == "create":
            row.declaration = declaration.id
            for name, (_, after) in diff.items():
                setattr(row, name, after)
            row.save(force_insert=True)
            diff = {"declaration": (None, declaration.id), "person": (None, row.person_id), **diff}
        else:
            for name, (_, after) in diff.items():
                setattr(row, name, after)
            row.save_versioned(row.version, only=[MemberIncome._meta.fields[name] for name in diff])
        if kind == "delete":
            diff = {"person": (row.person_id, None), **diff}
        pending.append((f"member_income.{kind}", "member_income", row.id, diff))

    for row, diff, kind in remote_changes:
        if kind == "delete":
            row.delete_instance()
        elif kind == "create":
            row.declaration = declaration.id
            for name, (_, after) in diff.items():
                setattr(row, name, after)
            row.save(force_insert=True)
            diff = {"declaration": (None, declaration.id), **diff}
        else:
            for name, (_, after) in diff.items():
                setattr(row, name, after)
            row.save_versioned(row.version, only=[RemoteDependent._meta.fields[name] for name in diff])
        pending.append((f"remote_dependent.{kind}", "remote_dependent", row.id, diff))

    # The rows' entries first and the declaration's last, so that the history (newest first) opens
    # with the declaration's figures.
    entries = [_audit(*item, hid, context) for item in [*pending, last] if item is not None]
    return Saved(declaration, created=created, changed=True, computed=computed, audit_entries=entries)


def _member_columns() -> tuple[str, ...]:
    return (
        *AMOUNTS, *FLAGS, "disability", "salary_income", "pension_income", "income_amount", "deduction_amount",
    )  # fmt: skip
