"""Editing the effective-dated masters (SPEC §4): new versions from a date, changes to future ones, and
the history of each version from the audit trail.

    masters = master_edits.parameter_page("location_coefficient")
    master_edits.add_parameter("location_coefficient", {"valid_from": d, "value": Decimal("1.05"),
                               "basis": "条例改正"}, **audit_context())

Decisions where the specification leaves a choice:

- **The law changes forward.** A version whose 適用開始日 is today or earlier is read-only: a decision
  records which versions it used (RentDecision.masters_used), and a 更正 of a past year re-runs with
  that year's rules, so a row in force once never changes. A new version starts tomorrow at the
  earliest; a future version may be edited or deleted until its day comes. A figure entered wrongly in
  the past is corrected by a new version from the next possible day (or, for the legal record, by a
  migration that says why).
- **Income-year tables** (給与所得, 公的年金等控除) are keyed by the income year they apply to, not by a
  date. Incomes of year Y are first declared on 1 January of Y+1: that is the day the version of year Y
  becomes read-only, and the version in force today is the one for last year's incomes (the incomes
  being declared). A table for this year's incomes can therefore still be entered or corrected until
  the year ends.
- **A new table version is a copy** of the version in force just before its date (the one it replaces;
  the version in force today when no later one exists), edited afterwards: the whole table is checked
  at every save (bands contiguous from 0 and open at the top, 収入分位 1-8 complete, shares rising, …).
- **Every write is audited** under the row's own table (services.editing: "table.column" with before
  and after; a deletion records the values it removed), one transaction for all the rows of a save.
  Saves are optimistic: a scalar's form carries its version, a table's form the version of every row
  it showed; a difference is a ConflictError (409), never a silent overwrite.
- **History is the audit trail**, read back through services.household_file.change_entry and grouped
  by version (a deleted row is grouped by the values its deletion recorded).

Like the other services it never reads the request: views pass the actor and the audit context.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from peewee import fn

from extensions import db
from models import AuditEntry
from models.base import ConflictError
from models.masters import (
    AGE_GROUPS,
    PARAMETERS,
    MasterParameter,
    OverIncomeRate,
    PensionDeductionBand,
    RentBaseBand,
    SalaryIncomeBand,
)
from rules import income as income_rules
from rules import wareki
from rules.filters import today_tokyo
from services import audit, editing
from services.household_file import SINGLE_TARGET_LENGTH, ChangeEntry, change_entry

RuleViolation = editing.RuleViolation

HISTORY_ROWS = 1000  # the last entries read for one table's histories (officers change masters rarely)
LATEST_YEARS_AHEAD = 10  # a version may start at most this many years from today (a typo guard)
MAX_ROWS = 30  # rows of one band table (給与所得 has 11 today)


class TableInvalid(ValueError):
    """A table version that breaks a rule: problems as (row index or None, column or None, message)."""

    def __init__(self, problems: list[tuple[int | None, str | None, str]]):
        super().__init__("; ".join(str(m) for _, _, m in problems))
        self.problems = problems


# --- what a parameter may be -------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """The values a scalar parameter may take: integer or decimal, within minimum..maximum, or one of
    a few choices. basis says why (shown in the message)."""

    minimum: Decimal
    maximum: Decimal
    integer: bool = False
    choices: tuple[int, ...] = ()
    basis: str = ""


def _d(text) -> Decimal:
    return Decimal(str(text))


YEN = Bound(_d(0), _d(9_999_999), integer=True)
FLAG = Bound(_d(0), _d(1), integer=True, choices=(0, 1))
ROUNDING = Bound(_d(1), _d(1000), integer=True, choices=(1, 10, 100, 1000))

BOUNDS: dict[str, Bound] = {
    "location_coefficient": Bound(_d("0.7"), _d("1.6"), basis="令2条1項2号"),
    "age_coefficient_rate.fire_resistant": Bound(_d("0.0001"), _d("0.05")),
    "age_coefficient_rate.quasi_fire_resistant": Bound(_d("0.0001"), _d("0.05")),
    "age_coefficient_rate.wooden": Bound(_d("0.0001"), _d("0.05")),
    "standard_floor_area": Bound(_d(10), _d(200)),
    "convenience_coefficient.min": Bound(_d("0.1"), _d(2)),
    "convenience_coefficient.max": Bound(_d("0.1"), _d(2)),
    "convenience_coefficient.cap_numerator": Bound(_d("0.1"), _d(3)),
    "rent_rounding_unit": ROUNDING,
    "over_income_rounding_unit": ROUNDING,
    "over_income_uses_rounded_standard": FLAG,
    "over_income_count_resets": FLAG,
    "deposit_months": Bound(_d(0), _d(3), basis="法18条"),
    "income_limit.general": Bound(_d(1), _d(1_000_000), integer=True),
    "income_limit.special": Bound(_d(1), _d(1_000_000), integer=True),
    "income_limit.high_income": Bound(_d(1), _d(1_000_000), integer=True),
    "over_income.min_years": Bound(_d(1), _d(30), integer=True),
    "high_income.min_years": Bound(_d(1), _d(30), integer=True),
    "high_income.consecutive_years": Bound(_d(1), _d(10), integer=True),
    "eviction.min_months": Bound(_d(6), _d(24), integer=True, basis="法29条3項"),
    "damages.market_rent_multiplier": Bound(_d(1), _d(2), basis="法29条6項"),
    "statutory_interest_rate": Bound(_d(0), _d("0.2")),
    "age_reference.month_day": Bound(_d(101), _d(1231), integer=True),
    "disaster.rent_free_months": Bound(_d(0), _d(12), integer=True),
    "declaration.month": Bound(_d(1), _d(12), integer=True),
    "objection.days": Bound(_d(1), _d(365), integer=True),
    "disclosure.deadline_days": Bound(_d(1), _d(365), integer=True),
    "disclosure.extension_days": Bound(_d(0), _d(365), integer=True),
    "arrears.eviction_months": Bound(_d(1), _d(24), integer=True),
    "my_number.retention_days_after_settlement": Bound(_d(0), _d(3650), integer=True),
}
DEFAULT_BOUND = Bound(_d(0), _d(9_999_999))


def bound_for(code: str) -> Bound:
    """The rule of a parameter's values (deductions are yen; a code unknown here: a number ≥ 0)."""
    if code in BOUNDS:
        return BOUNDS[code]
    if code.startswith("deduction."):
        return YEN
    return DEFAULT_BOUND


def _plain(value: Decimal) -> str:
    """1.000000 → 1, 0.003900 → 0.0039, 158000.000000 → 158000."""
    text = format(Decimal(value).normalize(), "f")
    return text


def parameter_text(code: str, value) -> str:
    """A parameter's value as people read it: 158,000円, はい/いいえ for a flag, 1.15 for a coefficient."""
    if value is None:
        return ""
    value = Decimal(value)
    unit = PARAMETERS.get(code, ("", ""))[1]
    if bound_for(code) is FLAG:
        return str(_l("はい")) if value == 1 else str(_l("いいえ"))
    if unit == "円" and value == value.to_integral():
        return f"{int(value):,}円"
    if code == "age_reference.month_day" and value == value.to_integral():
        number = int(value)
        return str(_l("%(month)s月%(day)s日", month=number // 100, day=number % 100))
    return _plain(value)


def check_parameter(code: str, value: Decimal, valid_from: dt.date, *, exclude_id: int | None = None) -> None:
    """RuleViolation (on 値) when the value is outside what the parameter may be, or contradicts the
    other bound of the 利便性係数 in force on the same day."""
    bound = bound_for(code)
    if bound.integer and value != value.to_integral():
        raise RuleViolation(_l("この項目は整数で入力してください。"), field="value")
    if bound.choices and int(value) not in bound.choices:
        raise RuleViolation(
            _l(
                "次のいずれかを入力してください: %(choices)s",
                choices="、".join(str(c) for c in bound.choices),
            ),
            field="value",
        )
    if not bound.minimum <= value <= bound.maximum:
        if bound.basis:
            message = _l(
                "%(min)sから%(max)sまでの値にしてください（%(basis)s）。",
                min=_plain(bound.minimum),
                max=_plain(bound.maximum),
                basis=bound.basis,
            )
        else:
            message = _l(
                "%(min)sから%(max)sまでの値にしてください。",
                min=_plain(bound.minimum),
                max=_plain(bound.maximum),
            )
        raise RuleViolation(message, field="value")
    if code == "age_reference.month_day":
        try:
            dt.date(2024, int(value) // 100, int(value) % 100)  # a leap year: 0229 is a day
        except ValueError:
            raise RuleViolation(
                _l("月日を4桁で入力してください（例: 12月31日は1231）。"), field="value"
            ) from None
    pair = {"convenience_coefficient.min": "convenience_coefficient.max"}
    pair.update({v: k for k, v in pair.items()})
    if code in pair:
        other = _parameter_on(pair[code], valid_from, exclude_id)
        if other is not None:
            low, high = (value, other) if code.endswith(".min") else (other, value)
            if low > high:
                raise RuleViolation(
                    _l(
                        "利便性係数の下限（%(low)s）が上限（%(high)s）を超えます。",
                        low=_plain(low),
                        high=_plain(high),
                    ),
                    field="value",
                )


def _parameter_on(code: str, on: dt.date, exclude_id: int | None = None) -> Decimal | None:
    query = MasterParameter.select().where(
        (MasterParameter.code == code) & (MasterParameter.valid_from <= on)
    )
    if exclude_id is not None:
        query = query.where(MasterParameter.id != exclude_id)
    row = query.order_by(MasterParameter.valid_from.desc()).first()
    return Decimal(row.value) if row is not None else None


def check_start(valid_from: dt.date, today: dt.date, field_name: str = "valid_from") -> None:
    """RuleViolation unless the date lies after today (the law changes forward) and within 10 years."""
    if valid_from <= today:
        raise RuleViolation(
            _l(
                "適用開始日は明日（%(tomorrow)s）以降にしてください。適用が始まった版は変更できません。",
                tomorrow=wareki.to_wareki(today + dt.timedelta(days=1)),
            ),
            field=field_name,
        )
    if valid_from.year > today.year + LATEST_YEARS_AHEAD:
        raise RuleViolation(
            _l("適用開始日は%(years)s年以内の日付にしてください。", years=LATEST_YEARS_AHEAD),
            field=field_name,
        )


def _read_only(message=None) -> RuleViolation:
    return RuleViolation(
        message
        or _l("適用が始まった版は変更できません。変更は新しい版（明日以降の適用開始日）で登録してください。")
    )


# --- history -------------------------------------------------------------------------------------------


def _entries(table: str) -> list[tuple[int, AuditEntry]]:
    """(record id, entry) of the saved changes filed under a master table, newest first: one query."""
    rows = (
        AuditEntry.select(
            AuditEntry.at,
            AuditEntry.actor_login,
            AuditEntry.action,
            AuditEntry.target_ids,
            AuditEntry.fields,
            AuditEntry.changes,
        )
        .where(
            (AuditEntry.target_table == table)
            & (fn.LENGTH(AuditEntry.target_ids) < SINGLE_TARGET_LENGTH)
            & (AuditEntry.outcome == "allowed")
        )
        .order_by(AuditEntry.id.desc())
        .limit(HISTORY_ROWS)
    )
    out = []
    for row in rows:
        try:
            (record_id,) = json.loads(row.target_ids)
        except (TypeError, ValueError):
            continue
        out.append((record_id, row))
    return out


def _removed_value(row: AuditEntry, qualified: str):
    """The value a deletion recorded for a column (its before), or None."""
    try:
        changes = json.loads(row.changes or "{}")
    except ValueError:
        return None
    pair = changes.get(qualified)
    return pair[0] if isinstance(pair, list) and pair else None


def _grouped(table: str, group_of: Mapping[int, object], deleted_group) -> dict[object, list[ChangeEntry]]:
    """The table's changes grouped by version: a live row by group_of[id], a deleted one by what its
    deletion recorded (deleted_group(entry) → group or None)."""
    groups: dict[object, list[ChangeEntry]] = defaultdict(list)
    deleted_ids: dict[int, object] = {}
    entries = _entries(table)
    for record_id, row in entries:  # newest first: the deletion comes before the row's earlier changes
        if record_id not in group_of and row.action.endswith(".delete"):
            group = deleted_group(row)
            if group is not None:
                deleted_ids[record_id] = group
    for record_id, row in entries:
        group = group_of.get(record_id, deleted_ids.get(record_id))
        entry = change_entry(row)
        if group is not None and entry is not None:
            groups[group].append(entry)
    return groups


# --- scalar parameters -----------------------------------------------------------------------------------


class _Dated:
    """A version with its state (past / current / future): only a future one may still be edited."""

    state: str

    @property
    def editable(self) -> bool:
        return self.state == "future"


class _Versions:
    """A page of versions, newest first."""

    versions: list

    @property
    def current(self):
        return next((v for v in self.versions if v.state == "current"), None)


@dataclass
class ParameterVersion(_Dated):
    """One row of a parameter: its state (past / current / future) and its history."""

    row: MasterParameter
    state: str
    changes: list[ChangeEntry] = field(default_factory=list)


@dataclass
class ParameterSummary:
    code: str
    label: str
    unit: str
    current: MasterParameter | None
    upcoming: list[MasterParameter]
    versions: int


@dataclass
class ParameterPage(_Versions):
    code: str
    label: str
    unit: str
    today: dt.date
    versions: list[ParameterVersion]  # newest first
    deleted: list[ChangeEntry]  # changes of versions deleted since


def _states(keys: Iterable, effective_on, today: dt.date) -> dict:
    """past / current / future for each version key (current: the latest already in force)."""
    keys = sorted(set(keys), key=effective_on)
    started = [k for k in keys if effective_on(k) <= today]
    current = started[-1] if started else None
    return {k: ("future" if effective_on(k) > today else "current" if k == current else "past") for k in keys}


def parameter_summaries(today: dt.date | None = None) -> list[ParameterSummary]:
    """Every parameter of the registry (PARAMETERS order) with the row in force today and the future
    ones: one query."""
    today = today or today_tokyo()
    rows = defaultdict(list)
    for row in MasterParameter.select().order_by(MasterParameter.valid_from):
        rows[row.code].append(row)
    out = []
    for code, (label, unit) in PARAMETERS.items():
        mine = rows.get(code, [])
        started = [r for r in mine if r.valid_from <= today]
        out.append(
            ParameterSummary(
                code=code,
                label=label,
                unit=unit,
                current=started[-1] if started else None,
                upcoming=[r for r in mine if r.valid_from > today],
                versions=len(mine),
            )
        )
    return out


def parameter_page(code: str, today: dt.date | None = None) -> ParameterPage | None:
    """One parameter's versions, newest first, each with its history; None for an unknown code."""
    if code not in PARAMETERS:
        return None
    today = today or today_tokyo()
    rows = list(
        MasterParameter.select()
        .where(MasterParameter.code == code)
        .order_by(MasterParameter.valid_from.desc())
    )
    states = _states([r.valid_from for r in rows], lambda d: d, today)

    def deleted_group(entry):
        return ("deleted",) if _removed_value(entry, "master_parameter.code") == code else None

    groups = _grouped("master_parameter", {r.id: r.id for r in rows}, deleted_group)
    label, unit = PARAMETERS[code]
    return ParameterPage(
        code=code,
        label=label,
        unit=unit,
        today=today,
        versions=[ParameterVersion(r, states[r.valid_from], groups.get(r.id, [])) for r in rows],
        deleted=groups.get(("deleted",), []),
    )


def _check_new_parameter(code: str, valid_from: dt.date, exclude_id: int | None = None) -> None:
    query = MasterParameter.select().where(
        (MasterParameter.code == code) & (MasterParameter.valid_from == valid_from)
    )
    if exclude_id is not None:
        query = query.where(MasterParameter.id != exclude_id)
    if query.exists():
        raise RuleViolation(
            _l(
                "%(date)sから適用する版はすでにあります。その版を編集してください。",
                date=wareki.to_wareki(valid_from),
            ),
            field="valid_from",
        )


def add_parameter(code: str, values: Mapping, *, today: dt.date | None = None, **context) -> MasterParameter:
    """A new version of a scalar parameter from valid_from (tomorrow or later), audited."""
    if code not in PARAMETERS:
        raise RuleViolation(_l("この項目はありません。"))
    today = today or today_tokyo()
    valid_from, value = values["valid_from"], Decimal(values["value"])
    check_start(valid_from, today)
    with db.atomic():
        _check_new_parameter(code, valid_from)
        check_parameter(code, value, valid_from)
        return editing.create(
            MasterParameter,
            {
                "code": code,
                "valid_from": valid_from,
                "value": value,
                "basis": values.get("basis"),
                "note": values.get("note"),
            },
            household_id=None,
            action="master_parameter.create",
            **context,
        )


def save_parameter(
    row: MasterParameter, expected_version: int, values: Mapping, *, today: dt.date | None = None, **context
) -> dict:
    """Change a future version (its date stays in the future); ConflictError on a stale form."""
    today = today or today_tokyo()
    if row.valid_from <= today:
        raise _read_only()
    valid_from, value = values["valid_from"], Decimal(values["value"])
    check_start(valid_from, today)
    with db.atomic():
        _check_new_parameter(row.code, valid_from, exclude_id=row.id)
        check_parameter(row.code, value, valid_from, exclude_id=row.id)
        current = Decimal(row.value)
        return editing.update(
            row,
            expected_version,
            {
                "valid_from": valid_from,
                "value": current if current == value else value.normalize(),
                "basis": values.get("basis"),
                "note": values.get("note"),
            },
            household_id=None,
            action="master_parameter.update",
            **context,
        )


def _delete(instance, expected_version: int, *, action: str, actor=None, session_ref=None, ip=None) -> None:
    """Delete one row if it is still at expected_version, auditing every value it held (inside the
    caller's transaction). ConflictError when someone saved it first."""
    model = type(instance)
    table = model._meta.table_name
    deleted = (
        model.delete()
        .where((model._meta.primary_key == instance.id) & (model.version == expected_version))
        .execute()
    )
    if deleted != 1:
        raise ConflictError(instance, expected_version)
    columns = [
        f.name
        for f in model._meta.sorted_fields
        if f.name not in ("id", "created_at", "updated_at", "version")
    ]
    changes = {f"{table}.{name}": [editing.history_value(getattr(instance, name)), None] for name in columns}
    audit.record(
        action,
        actor=actor,
        session_ref=session_ref,
        ip=ip,
        target_table=table,
        target_ids=[instance.id],
        fields=list(changes),
        changes=changes,
        reason=f"{table} {instance.id}",
    )


def delete_parameter(
    row: MasterParameter, expected_version: int, *, today: dt.date | None = None, **context
) -> None:
    """Delete a future version (never one already in force)."""
    today = today or today_tokyo()
    if row.valid_from <= today:
        raise _read_only()
    with db.atomic():
        _delete(row, expected_version, action="master_parameter.delete", **context)


# --- tables (家賃算定基礎額, 収入超過者の割合, 給与所得, 公的年金等控除) ---------------------------------------------


@dataclass(frozen=True)
class TableKind:
    """A master table edited as versions: its rows share the version key (valid_from or income year)."""

    slug: str
    model: type
    key: str  # valid_from or income_year_from
    title: str
    order: tuple[str, ...]  # columns that order the rows of a version
    compare: tuple[str, ...]  # columns compared for a conflict and written by a save

    @property
    def by_income_year(self) -> bool:
        return self.key == "income_year_from"

    @property
    def table(self) -> str:
        return self.model._meta.table_name

    def effective_on(self, key) -> dt.date:
        """The day a version starts to be used: its valid_from, or 1 January after its income year."""
        return dt.date(key + 1, 1, 1) if self.by_income_year else key

    def parse_key(self, text: str):
        """A version key from a URL (2027-04-01 or 2026); None when it is not one."""
        if not isinstance(text, str) or not text.isascii():
            return None
        if self.by_income_year:
            return int(text) if text.isdigit() and len(text) == 4 else None
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            return None

    def key_text(self, key) -> str:
        return str(key) if self.by_income_year else key.isoformat()

    def key_label(self, key) -> str:
        """令和9年4月1日から / 令和8年分の所得から."""
        if self.by_income_year:
            return str(_l("%(year)s分の所得から", year=_income_year_label(key)))
        return str(_l("%(date)sから", date=wareki.to_wareki(key)))


def _income_year_label(year: int) -> str:
    """令和8年 (2026年)."""
    return f"{wareki.to_wareki(dt.date(year, 12, 31)).split('年')[0]}年（{year}年）"


KINDS: dict[str, TableKind] = {
    kind.slug: kind
    for kind in (
        TableKind(
            "rent-bands",
            RentBaseBand,
            "valid_from",
            _l("家賃算定基礎額（収入分位）"),
            ("bracket",),
            ("income_min", "income_max", "base_amount"),
        ),
        TableKind(
            "over-income-rates",
            OverIncomeRate,
            "valid_from",
            _l("収入超過者の家賃（加算の割合）"),
            ("band", "year_over"),
            ("income_min", "income_max", "numerator", "denominator"),
        ),
        TableKind(
            "salary-bands",
            SalaryIncomeBand,
            "income_year_from",
            _l("給与所得（給与所得控除後の金額）"),
            ("revenue_min",),
            ("revenue_min", "revenue_max", "round_to", "rate", "offset"),
        ),
        TableKind(
            "pension-bands",
            PensionDeductionBand,
            "income_year_from",
            _l("公的年金等控除"),
            ("age_group", "revenue_min"),
            ("age_group", "revenue_min", "revenue_max", "rate", "offset"),
        ),
    )
}


@dataclass
class TableVersion(_Dated):
    kind: TableKind
    key: object
    state: str
    rows: list
    changes: list[ChangeEntry] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.kind.key_label(self.key)

    @property
    def key_text(self) -> str:
        return self.kind.key_text(self.key)

    @property
    def effective_on(self) -> dt.date:
        return self.kind.effective_on(self.key)

    def stamp(self) -> str:
        """The id and version of every row as read: what a save or a deletion checks (optimistic)."""
        return stamp_of(self.rows)


def stamp_of(rows) -> str:
    return ",".join(f"{r.id}:{r.version}" for r in sorted(rows, key=lambda r: r.id))


def parse_stamp(text: str | None) -> dict[int, int] | None:
    """{row id: version} from a form's stamp; None when it is not one."""
    if not text or not isinstance(text, str) or len(text) > 2000:
        return None
    out = {}
    for part in text.split(","):
        row_id, _, version = part.partition(":")
        if not (row_id.isascii() and row_id.isdigit() and version.isascii() and version.isdigit()):
            return None
        if len(row_id) > 9 or len(version) > 9:
            return None
        out[int(row_id)] = int(version)
    return out


@dataclass
class TablePage(_Versions):
    kind: TableKind
    today: dt.date
    versions: list[TableVersion]  # newest first
    deleted: list[ChangeEntry]

    def version(self, key) -> TableVersion | None:
        return next((v for v in self.versions if v.key == key), None)


def _rows(kind: TableKind, key=None) -> list:
    model = kind.model
    query = model.select()
    if key is not None:
        query = query.where(getattr(model, kind.key) == key)
    return list(query.order_by(getattr(model, kind.key), *(getattr(model, c) for c in kind.order)))


def _key_of_deleted(kind: TableKind, entry) -> object | None:
    value = _removed_value(entry, f"{kind.table}.{kind.key}")
    if value is None:
        return None
    if kind.by_income_year:
        return int(value)
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def table_page(kind: TableKind, today: dt.date | None = None, *, history: bool = True) -> TablePage:
    """A table's versions, newest first, with the state of each and (history) its changes."""
    today = today or today_tokyo()
    by_key = defaultdict(list)
    for row in _rows(kind):
        by_key[getattr(row, kind.key)].append(row)
    states = _states(by_key, kind.effective_on, today)
    groups = {}
    if history:
        groups = _grouped(
            kind.table,
            {row.id: key for key, rows in by_key.items() for row in rows},
            lambda entry: _key_of_deleted(kind, entry),
        )
    versions = [
        TableVersion(kind, key, states[key], by_key[key], groups.get(key, []))
        for key in sorted(by_key, key=kind.effective_on, reverse=True)
    ]
    deleted = [entry for key, entries in groups.items() if key not in by_key for entry in entries]
    deleted.sort(key=lambda e: e.at, reverse=True)
    return TablePage(kind, today, versions, deleted)


def table_summaries(today: dt.date | None = None) -> list[TablePage]:
    """Every table kind with its versions (no history): one query per kind."""
    return [table_page(kind, today, history=False) for kind in KINDS.values()]


def check_new_key(kind: TableKind, key, today: dt.date) -> None:
    """RuleViolation (on the key's field) unless a new version may start at key."""
    if kind.by_income_year:
        if key < today.year:
            raise RuleViolation(
                _l(
                    "%(year)s年分以降の所得年を入力してください。申告が始まった所得年の表は変更できません。",
                    year=today.year,
                ),
                field="key",
            )
        if key > today.year + LATEST_YEARS_AHEAD:
            raise RuleViolation(
                _l("所得年は%(years)s年以内にしてください。", years=LATEST_YEARS_AHEAD), field="key"
            )
    else:
        check_start(key, today, field_name="key")
    if kind.model.select().where(getattr(kind.model, kind.key) == key).exists():
        raise RuleViolation(
            _l("%(version)sの版はすでにあります。その版を編集してください。", version=kind.key_label(key)),
            field="key",
        )


def source_key(kind: TableKind, key):
    """The version a new one at key copies: the latest that starts before it."""
    model = kind.model
    column = getattr(model, kind.key)
    return model.select(fn.MAX(column)).where(column < key).scalar()


def copy_version(kind: TableKind, key, *, today: dt.date | None = None, **context) -> list:
    """A new version at key, a copy of the version it replaces (each row audited as created)."""
    today = today or today_tokyo()
    check_new_key(kind, key, today)
    with db.atomic():
        check_new_key(kind, key, today)  # again under the write lock: two officers, one key
        source = source_key(kind, key)
        if source is None:
            raise RuleViolation(_l("写す元になる版がありません。"), field="key")
        created = []
        for row in _rows(kind, source):
            values = {name: getattr(row, name) for name in (*kind.order, *kind.compare)}
            values[kind.key] = key
            created.append(
                editing.create(
                    kind.model, values, household_id=None, action=f"{kind.table}.create", **context
                )
            )
    return created


def delete_version(
    kind: TableKind, key, stamp: dict[int, int], *, today: dt.date | None = None, **context
) -> int:
    """Delete a future version whose rows are still those the officer saw (ConflictError otherwise)."""
    today = today or today_tokyo()
    if kind.effective_on(key) <= today:
        raise _read_only()
    with db.atomic():
        rows = _rows(kind, key)
        if not rows:
            raise RuleViolation(_l("この版はすでに削除されています。"))
        if {r.id: r.version for r in rows} != stamp:
            raise ConflictError(rows[0], stamp.get(rows[0].id, 0))
        for row in rows:
            _delete(row, stamp[row.id], action=f"{kind.table}.delete", **context)
    return len(rows)


# --- checks of a whole table ------------------------------------------------------------------------------


def _contiguous(rows: list[dict], low: str, high: str, start: int = 0) -> list:
    """Bands from start upwards, each beginning the yen after the previous one ends, the last one open."""
    problems = []
    for i, row in enumerate(rows):
        last = i == len(rows) - 1
        lo, hi = row.get(low), row.get(high)
        if lo is None:
            continue  # the form has said so
        if i == 0 and lo != start:
            problems.append((i, low, _l("最初の区分は%(start)s円から始めてください。", start=f"{start:,}")))
        if i > 0 and rows[i - 1].get(high) is not None:
            expected = rows[i - 1][high] + 1
            if lo < expected:
                problems.append(
                    (
                        i,
                        low,
                        _l("前の区分と重なっています。%(next)s円から始めてください。", next=f"{expected:,}"),
                    )
                )
            elif lo > expected:
                problems.append(
                    (
                        i,
                        low,
                        _l(
                            "前の区分との間にすき間があります。%(next)s円から始めてください。",
                            next=f"{expected:,}",
                        ),
                    )
                )
        if last and hi is not None:
            problems.append((i, high, _l("最後の区分の上限は空欄にしてください（それ以上のすべての額）。")))
        if not last and hi is None:
            problems.append((i, high, _l("上限を入力してください（空欄にできるのは最後の区分だけです）。")))
        if hi is not None and hi < lo:
            problems.append((i, high, _l("上限は下限以上の額にしてください。")))
    return problems


def check_rent_bands(rows: list[dict]) -> list:
    """収入分位 1-8 complete, contiguous from 0 and open at the top; 基礎額 rising with the bracket."""
    problems = []
    if len(rows) != 8:
        problems.append((None, None, _l("収入分位は1から8まですべて入力してください。")))
    problems += _contiguous(rows, "income_min", "income_max")
    for i, row in enumerate(rows):
        amount = row.get("base_amount")
        if amount is not None and amount <= 0:
            problems.append((i, "base_amount", _l("家賃算定基礎額は1円以上にしてください。")))
        elif i > 0 and amount is not None and (rows[i - 1].get("base_amount") or 0) >= amount:
            problems.append((i, "base_amount", _l("家賃算定基礎額は上の区分ほど高くしてください。")))
    return problems


def _share(pair) -> Decimal:
    numerator, denominator = pair
    return Decimal(numerator) / Decimal(denominator)


def check_over_income(bands: list[dict]) -> list:
    """Bands contiguous from 0 and open at the top; in each band the shares (numerator ≤ denominator)
    rise with the years over and end at 1 (近傍同種家賃 in full, 令8条2項); a higher band never pays a
    smaller share in the same year. bands: [{"income_min", "income_max", "shares": {year: (n, d)}}]."""
    problems = _contiguous(bands, "income_min", "income_max")
    for i, band in enumerate(bands):
        shares = band.get("shares") or {}
        years = sorted(shares)
        for year in years:
            numerator, denominator = shares[year]
            if denominator <= 0 or numerator < 0 or numerator > denominator:
                problems.append(
                    (i, f"year_{year}", _l("割合は0以上1以下の分数で入力してください（例: 2/5）。"))
                )
        valid = {y: shares[y] for y in years if shares[y][1] > 0 and 0 <= shares[y][0] <= shares[y][1]}
        if len(valid) != len(years):
            continue
        for previous, year in zip(years, years[1:], strict=False):
            if _share(valid[year]) < _share(valid[previous]):
                problems.append(
                    (i, f"year_{year}", _l("超過年数が進むほど割合を大きく（または同じに）してください。"))
                )
        if years and _share(valid[years[-1]]) != 1:
            problems.append(
                (i, f"year_{years[-1]}", _l("最後の年の割合は1（近傍同種家賃との差の全額）にしてください。"))
            )
        if i > 0:
            below = bands[i - 1].get("shares") or {}
            for year in years:
                if not below:
                    break
                lower = below[min(year, max(below))]
                if lower[1] > 0 and _share(valid[year]) < _share(lower):
                    problems.append(
                        (
                            i,
                            f"year_{year}",
                            _l("政令月収の高い区分ほど割合を大きく（または同じに）してください。"),
                        )
                    )
    return problems


def _rate_problems(rows: list[dict]) -> list:
    problems = []
    for i, row in enumerate(rows):
        rate = row.get("rate")
        if rate is not None and not Decimal(0) <= rate <= Decimal(1):
            problems.append((i, "rate", _l("率は0から1までの数にしてください（例: 0.7）。")))
    return problems


def check_salary_bands(rows: list[dict]) -> list:
    """Bands of 給与収入 contiguous from 0 and open at the top; rates 0-1; 給与所得 never falls where a
    band begins (the law's table rises with the revenue)."""
    problems = _contiguous(rows, "revenue_min", "revenue_max") + _rate_problems(rows)
    for i, row in enumerate(rows):
        if row.get("round_to") is not None and row["round_to"] < 1:
            problems.append((i, "round_to", _l("端数処理単位は1円以上にしてください。")))
    if problems or not rows:
        return problems
    bands = [
        income_rules.SalaryBand(r["revenue_min"], r["revenue_max"], r["round_to"], r["rate"], r["offset"])
        for r in rows
    ]
    for i in range(1, len(rows)):
        end_of_previous = rows[i - 1]["revenue_max"]
        before = income_rules.salary_income(end_of_previous, bands)[0] if end_of_previous else 0
        after = income_rules.salary_income(rows[i]["revenue_min"], bands)[0]
        if after < before:
            problems.append(
                (
                    i,
                    "offset",
                    _l(
                        "この区分の始まりで給与所得が前の区分より小さくなります（%(before)s円 → %(after)s円）。",
                        before=f"{before:,}",
                        after=f"{after:,}",
                    ),
                )
            )
    return problems


def check_pension_bands(rows: list[dict]) -> list:
    """Each age group (65歳以上, 65歳未満) present, its bands contiguous from 0 and open at the top; rates
    0-1; amounts ≥ 0. rows are in form order: the problems name those indexes."""
    problems = _rate_problems(rows)
    for group, label in AGE_GROUPS:
        indexed = sorted(
            (
                (i, r)
                for i, r in enumerate(rows)
                if r.get("age_group") == group and r.get("revenue_min") is not None
            ),
            key=lambda pair: pair[1]["revenue_min"],
        )
        if not indexed:
            problems.append((None, None, _l("%(group)sの区分を入力してください。", group=label)))
            continue
        for j, column, message in _contiguous([r for _, r in indexed], "revenue_min", "revenue_max"):
            problems.append((indexed[j][0], column, message))
    return problems


CHECKS = {
    "rent-bands": check_rent_bands,
    "salary-bands": check_salary_bands,
    "pension-bands": check_pension_bands,
}


# --- saving a version -----------------------------------------------------------------------------------


def _version_for_save(kind: TableKind, key, stamp: dict[int, int], today: dt.date) -> list:
    if kind.effective_on(key) <= today:
        raise _read_only()
    rows = _rows(kind, key)
    if not rows:
        raise RuleViolation(_l("この版はすでに削除されています。"))
    if {r.id: r.version for r in rows} != stamp:
        raise ConflictError(rows[0], stamp.get(rows[0].id, 0))
    return rows


def _write(kind: TableKind, rows_by_id: dict, updates: list[tuple[int, dict]], stamp, context) -> dict:
    """editing.update of each changed row (inside the caller's transaction); {id: changes}."""
    changed = {}
    for row_id, values in updates:
        row = rows_by_id[row_id]
        changes = editing.update(
            row, stamp[row_id], values, household_id=None, action=f"{kind.table}.update", **context
        )
        if changes:
            changed[row_id] = changes
    return changed


def save_rent_bands(key, stamp: dict[int, int], rows: list[dict], *, today=None, **context) -> dict:
    """Save a future version of 家賃算定基礎額: rows in bracket order (income_min, income_max,
    base_amount). TableInvalid with the problems; ConflictError on a stale form."""
    kind = KINDS["rent-bands"]
    today = today or today_tokyo()
    with db.atomic():
        current = _version_for_save(kind, key, stamp, today)
        problems = check_rent_bands(rows)
        if problems:
            raise TableInvalid(problems)
        by_bracket = {r.bracket: r for r in current}
        updates = [(by_bracket[i + 1].id, {c: row[c] for c in kind.compare}) for i, row in enumerate(rows)]
        return _write(kind, {r.id: r for r in current}, updates, stamp, context)


def save_over_income(key, stamp: dict[int, int], bands: list[dict], *, today=None, **context) -> dict:
    """Save a future version of 令8条2項's table: bands in order with income_min, income_max and
    shares {year over: (numerator, denominator)} for the years the version has."""
    kind = KINDS["over-income-rates"]
    today = today or today_tokyo()
    with db.atomic():
        current = _version_for_save(kind, key, stamp, today)
        problems = check_over_income(bands)
        if problems:
            raise TableInvalid(problems)
        cells = {(r.band, r.year_over): r for r in current}
        updates = []
        for i, band in enumerate(bands, start=1):
            for year, (numerator, denominator) in band["shares"].items():
                row = cells[(i, year)]
                updates.append(
                    (
                        row.id,
                        {
                            "income_min": band["income_min"],
                            "income_max": band["income_max"],
                            "numerator": numerator,
                            "denominator": denominator,
                        },
                    )
                )
        return _write(kind, {r.id: r for r in current}, updates, stamp, context)


def save_bands(
    kind: TableKind, key, stamp: dict[int, int], rows: list[dict], *, today=None, **context
) -> dict:
    """Save a future version of an income-year table (給与所得, 公的年金等控除): rows in form order with id
    (None for a new one) and delete; the rows kept are checked as a whole, then each is updated,
    created or deleted. Problems name the form's row indexes."""
    today = today or today_tokyo()
    kept = [(i, r) for i, r in enumerate(rows) if not r.get("delete")]
    if not kept:
        raise TableInvalid([(None, None, _l("区分を1行以上残してください。"))])
    if len(kept) > MAX_ROWS:
        raise TableInvalid([(None, None, _l("区分は%(max)s行までです。", max=MAX_ROWS))])
    if kind.slug == "salary-bands":  # checked in the order of the revenue, whatever the form's order
        kept.sort(key=lambda pair: (pair[1].get("revenue_min") is None, pair[1].get("revenue_min") or 0))
    with db.atomic():
        current = _version_for_save(kind, key, stamp, today)
        by_id = {r.id: r for r in current}
        if any(r.get("id") is not None and r["id"] not in by_id for r in rows):
            raise ConflictError(current[0], stamp.get(current[0].id, 0))
        problems = [
            (kept[j][0] if j is not None else None, column, message)
            for j, column, message in CHECKS[kind.slug]([r for _, r in kept])
        ]
        if problems:
            raise TableInvalid(problems)
        changed = {}
        for row in rows:
            values = {c: row.get(c) for c in kind.compare}
            if row.get("id") is None:
                if row.get("delete"):
                    continue
                created = editing.create(
                    kind.model,
                    {kind.key: key, **values},
                    household_id=None,
                    action=f"{kind.table}.create",
                    **context,
                )
                changed[created.id] = {"created": True}
            elif row.get("delete"):
                _delete(by_id[row["id"]], stamp[row["id"]], action=f"{kind.table}.delete", **context)
                changed[row["id"]] = {"deleted": True}
            else:
                changes = editing.update(
                    by_id[row["id"]],
                    stamp[row["id"]],
                    values,
                    household_id=None,
                    action=f"{kind.table}.update",
                    **context,
                )
                if changes:
                    changed[row["id"]] = changes
        return changed
