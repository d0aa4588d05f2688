"""Estates, buildings and units (団地・棟・住戸) for city staff: the lists, one record's page, the saves
and each record's history.

Reads run a fixed number of queries whatever the number of estates, buildings or units (aggregates and
joins, never a query per row). Saves go through services.editing (one transaction with the audit
entry, filed under the record's own table: estate, building, unit, unit_year_figure) and add the
rules the database cannot check alone:

- a unit's status follows its tenancies: 入居中 exactly when a tenancy is active (the move-in and
  move-out procedures set it); staff choose between 空家, 修繕中 and 政策空家 for a unit nobody lives in;
- a unit's floor is within its building's floors, and a building never gets lower than its highest unit;
- the 利便性係数 of a fiscal year lies in the range of that year's masters:
  min ≤ R ≤ min(max, cap_numerator ÷ 立地係数) (令2条1項5号: 0.5 ≤ R ≤ min(1.3, 1.6 ÷ 立地係数)).

Like the other services it never reads the request: views pass the actor and the audit context.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import operator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from flask_babel import lazy_gettext as _l
from peewee import JOIN, Case, fn

from extensions import db
from models import AuditEntry, Building, Estate, Household, Tenancy, Unit, UnitYearFigure, Ward
from models.base import CodeField, YenField
from rules import formatting, wareki
from rules.filters import today_tokyo
from services import editing, masters
from services.household_file import SINGLE_TARGET_LENGTH

PER_PAGE = 50
CHANGE_ROWS = 100  # the last changes read for one page's histories

FLOOR_AREA_MAX = Decimal("200.00")  # ㎡: no municipal dwelling comes near it; a typo (6000) does
MARKET_RENT_MAX = 1_000_000  # yen a month: the same kind of guard for 近傍同種家賃
# The database's CHECK on unit_year_figure, used when no master is in force for the year.
CONVENIENCE_BOUNDS = (Decimal("0.500"), Decimal("1.300"))
COEFFICIENT_PLACES = Decimal("0.001")

ESTATE_SECTIONS = ("estate", "buildings", "units")
UNIT_SECTIONS = ("unit", "figures")


def fiscal_year_of(day: dt.date) -> int:
    """The fiscal year (年度, April to March) a day belongs to."""
    return day.year if day.month >= 4 else day.year - 1


def current_fiscal_year(today: dt.date | None = None) -> int:
    """This fiscal year in Japan."""
    return fiscal_year_of(today or today_tokyo())


def code_label(model, column: str, code) -> str:
    """The Japanese label of a coded column's value ("" when empty)."""
    if code is None:
        return ""
    return model._meta.fields[column].label(code)


def natural(column):
    """Order keys that sort numeric text as numbers ("2" before "10"), on both engines."""
    return (fn.LENGTH(column), column)


@dataclass(frozen=True)
class Page:
    """One page of a list: its rows, the total and the page number (50 rows a page)."""

    rows: list
    total: int
    page: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return 0 if not self.total else (self.page - 1) * self.per_page + 1

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.per_page)


def _page_in_range(page: int, total: int) -> int:
    pages = max(1, math.ceil(total / PER_PAGE))
    return min(max(1, page), pages)


# --- choices for the filters --------------------------------------------------------------------------


def ward_choices() -> list[tuple[int, str]]:
    """(id, name) of every ward, in code order."""
    return [(w.id, w.name) for w in Ward.select(Ward.id, Ward.name).order_by(Ward.code)]


def estate_choices() -> list[tuple[int, str]]:
    """(id, "name（ward）") of every estate, by ward and code."""
    rows = (
        Estate.select(Estate.id, Estate.name, Ward.name.alias("ward_name"))
        .join(Ward)
        .order_by(Ward.code, Estate.code)
        .dicts()
    )
    return [(r["id"], f"{r['name']}（{r['ward_name']}）") for r in rows]


def layouts() -> list[str]:
    """The layouts (間取り) the units have, sorted."""
    query = Unit.select(Unit.layout).where(Unit.layout.is_null(False)).distinct().order_by(Unit.layout)
    return [row.layout for row in query]


def location_coefficient(on: dt.date) -> Decimal | None:
    """The city's 立地係数 in force on a day (None when the master has none)."""
    try:
        return masters.parameter("location_coefficient", on)
    except masters.MasterMissing:
        return None


# --- the list of estates ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstateRow:
    id: int
    code: str
    name: str
    name_kana: str | None
    ward_name: str
    buildings: int
    units: int
    vacant: int
    occupied: int
    repair: int
    policy_vacant: int


def _count_of(status: str):
    return fn.COALESCE(fn.SUM(Case(None, [(Unit.status == status, 1)], 0)), 0)


def estates(*, ward_id: int | None = None, name: str | None = None, page: int = 1) -> Page:
    """The estates (in a ward, whose name, kana or code holds name), with their numbers of buildings,
    units and units by status; two queries whatever the number of estates."""
    condition = Estate.id.is_null(False)
    if ward_id:
        condition &= Estate.ward == ward_id
    if name:
        condition &= Estate.name.contains(name) | Estate.name_kana.contains(name) | Estate.code.contains(name)
    total = Estate.select(Estate.id).where(condition).count()
    page = _page_in_range(page, total)
    query = (
        Estate.select(
            Estate.id,
            Estate.code,
            Estate.name,
            Estate.name_kana,
            Ward.name.alias("ward_name"),
            fn.COUNT(Building.id.distinct()).alias("buildings"),
            fn.COUNT(Unit.id).alias("units"),
            _count_of("vacant").alias("vacant"),
            _count_of("occupied").alias("occupied"),
            _count_of("repair").alias("repair"),
            _count_of("policy_vacant").alias("policy_vacant"),
        )
        .join(Ward)
        .switch(Estate)
        .join(Building, JOIN.LEFT_OUTER)
        .join(Unit, JOIN.LEFT_OUTER)
        .where(condition)
        .group_by(Estate.id, Estate.code, Estate.name, Estate.name_kana, Ward.id, Ward.code, Ward.name)
        .order_by(Ward.code, Estate.code)
        .paginate(page, PER_PAGE)
        .dicts()
    )
    rows = [EstateRow(**{k: (int(v) if k in _COUNTS else v) for k, v in r.items()}) for r in query]
    return Page(rows, total, page)


_COUNTS = {"buildings", "units", "vacant", "occupied", "repair", "policy_vacant"}


# --- the vacancy list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VacancyFilters:
    """The filters of the vacancy list; each one set narrows it."""

    ward_id: int | None = None
    estate_id: int | None = None
    layout: str | None = None
    min_area: Decimal | None = None
    max_area: Decimal | None = None
    max_floor: int | None = None
    elevator: bool = False
    include_repair: bool = False


@dataclass(frozen=True)
class VacancyRow:
    unit_id: int
    housing_code: str
    ward_name: str
    estate_id: int
    estate_name: str
    building_number: str
    room_number: str
    floor: int
    floors: int
    has_elevator: bool
    structure: str
    year_built: int
    layout: str | None
    floor_area: Decimal
    unit_type: str
    status: str
    convenience_coefficient: Decimal | None
    market_rent: int | None


def _active_tenancy_of_unit():
    return Tenancy.select(Tenancy.id).where((Tenancy.unit == Unit.id) & (Tenancy.status == "active"))


def vacancies(filters: VacancyFilters, *, fiscal_year: int, page: int = 1) -> Page:
    """Vacant units (空家; with include_repair also 修繕中) nobody lives in, across the city, by ward,
    estate, building and room, with the fiscal year's 利便性係数 and 近傍同種家賃. No personal data."""
    statuses = ["vacant", "repair"] if filters.include_repair else ["vacant"]
    condition = Unit.status.in_(statuses) & ~fn.EXISTS(_active_tenancy_of_unit())
    if filters.ward_id:
        condition &= Estate.ward == filters.ward_id
    if filters.estate_id:
        condition &= Building.estate == filters.estate_id
    if filters.layout:
        condition &= Unit.layout == filters.layout
    if filters.min_area is not None:
        condition &= Unit.floor_area >= filters.min_area
    if filters.max_area is not None:
        condition &= Unit.floor_area <= filters.max_area
    if filters.max_floor is not None:
        condition &= Unit.floor <= filters.max_floor
    if filters.elevator:
        condition &= Building.has_elevator == True  # noqa: E712 - a SQL expression
    base = Unit.select(Unit.id).join(Building).join(Estate).where(condition)
    total = base.count()
    page = _page_in_range(page, total)
    query = (
        Unit.select(
            Unit.id.alias("unit_id"),
            Unit.housing_code,
            Ward.name.alias("ward_name"),
            Estate.id.alias("estate_id"),
            Estate.name.alias("estate_name"),
            Building.number.alias("building_number"),
            Unit.room_number,
            Unit.floor,
            Building.floors,
            Building.has_elevator,
            Building.structure,
            Building.year_built,
            Unit.layout,
            Unit.floor_area,
            Unit.unit_type,
            Unit.status,
            UnitYearFigure.convenience_coefficient,
            UnitYearFigure.market_rent,
        )
        .join(Building)
        .join(Estate)
        .join(Ward)
        .switch(Unit)
        .join(
            UnitYearFigure,
            JOIN.LEFT_OUTER,
            on=(UnitYearFigure.unit == Unit.id) & (UnitYearFigure.fiscal_year == fiscal_year),
        )
        .where(condition)
        .order_by(Ward.code, Estate.code, *natural(Building.number), *natural(Unit.room_number))
        .paginate(page, PER_PAGE)
        .dicts()
    )
    return Page([VacancyRow(**row) for row in query], total, page)


# --- history: who changed what, from the audit trail --------------------------------------------------


@dataclass(frozen=True)
class ChangeLine:
    label: str  # the column's Japanese name
    before: str | None
    after: str | None


@dataclass(frozen=True)
class Change:
    """One saved change of a record: when, who, which record (subject), each field before and after."""

    at: dt.datetime
    actor_login: str | None
    action: str
    table: str
    record_id: int
    subject: str
    lines: list[ChangeLine]


_MODELS = {m._meta.table_name: m for m in (Estate, Building, Unit, UnitYearFigure)}


@functools.lru_cache(maxsize=128)
def _field_of(qualified: str):
    table, _, column = qualified.partition(".")
    model = _MODELS.get(table)
    if model is None:
        return None
    for f in model._meta.sorted_fields:
        if f.column_name == column or f.name == column:
            return f
    return None


def _shown(f, value, wards: dict[int, str]) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return _l("あり") if value else _l("なし")
    if isinstance(f, CodeField):
        return f.label(value)
    if isinstance(f, YenField):
        return formatting.yen(int(value))
    if f is not None and getattr(f, "rel_model", None) is Ward:
        return wards.get(value, str(value))
    if f is not None and f.name == "fiscal_year":
        return wareki.fiscal_year_label(int(value))
    return str(value)


def history(targets: dict[str, dict[int, str]], *, limit: int = CHANGE_ROWS) -> list[Change]:
    """The saved changes of the records named, newest first, in one query.

    targets: {table: {record id: subject shown beside the change ("2号棟", "令和8年度")}}. The entries are
    those services.editing files under the record's own table (target_ids [id], fields "table.column").
    """
    conditions = [
        (AuditEntry.target_table == table)
        & AuditEntry.target_ids.in_([f"[{i}]" for i in ids])
        & (fn.LENGTH(AuditEntry.target_ids) < SINGLE_TARGET_LENGTH)
        for table, ids in targets.items()
        if ids
    ]
    if not conditions:
        return []
    rows = list(
        AuditEntry.select(
            AuditEntry.at,
            AuditEntry.actor_login,
            AuditEntry.action,
            AuditEntry.target_table,
            AuditEntry.target_ids,
            AuditEntry.fields,
            AuditEntry.changes,
        )
        .where(functools.reduce(operator.or_, conditions) & (AuditEntry.outcome == "allowed"))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    wards: dict[int, str] = {}
    if any('"estate.ward"' in (row.fields or "") for row in rows):
        wards = dict(ward_choices())
    changes = []
    for row in rows:
        try:
            fields = json.loads(row.fields or "[]")
            values = json.loads(row.changes or "{}")
            (record_id,) = json.loads(row.target_ids)
        except ValueError:
            continue
        lines = []
        for name in fields:
            if not isinstance(name, str) or "." not in name:
                continue
            f = _field_of(name)
            before, after = values.get(name, [None, None])
            label = (f.verbose_name if f is not None else None) or name
            lines.append(ChangeLine(label, _shown(f, before, wards), _shown(f, after, wards)))
        if lines:
            subject = targets.get(row.target_table, {}).get(record_id, "")
            changes.append(
                Change(row.at, row.actor_login, row.action, row.target_table, record_id, subject, lines)
            )
    return changes


# --- one estate's page ----------------------------------------------------------------------------------


@dataclass
class UnitRow:
    unit: Unit
    figure: UnitYearFigure | None  # the fiscal year's 利便性係数 and 近傍同種家賃


@dataclass
class BuildingBlock:
    building: Building
    units: list[UnitRow] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.units if row.unit.status == status)


@dataclass
class EstatePage:
    estate: Estate
    fiscal_year: int
    buildings: list[BuildingBlock]
    estate_changes: list[Change]
    building_changes: list[Change]

    @property
    def units(self) -> int:
        return sum(len(b.units) for b in self.buildings)

    def count(self, status: str) -> int:
        return sum(b.count(status) for b in self.buildings)


def building_subject(building: Building):
    """How a building is named beside its changes: 2号棟."""
    return _l("%(number)s号棟", number=building.number)


def load_estate(estate_id: int, *, today: dt.date | None = None) -> EstatePage | None:
    """One estate with its ward, its buildings and their units (with this fiscal year's figures), and
    the histories of the estate and its buildings: five queries whatever the size of the estate."""
    estate = Estate.select(Estate, Ward).join(Ward).where(Estate.id == estate_id).first()
    if estate is None:
        return None
    fy = current_fiscal_year(today)
    buildings = list(
        Building.select().where(Building.estate == estate.id).order_by(*natural(Building.number))
    )
    blocks = {b.id: BuildingBlock(b) for b in buildings}
    units = (
        Unit.select(Unit, UnitYearFigure)
        .join(
            UnitYearFigure,
            JOIN.LEFT_OUTER,
            on=(UnitYearFigure.unit == Unit.id) & (UnitYearFigure.fiscal_year == fy),
            attr="figure",
        )
        .where(Unit.building.in_(list(blocks)))
        .order_by(Unit.floor, *natural(Unit.room_number))
    )
    for unit in units if blocks else ():
        figure = getattr(unit, "figure", None)
        block = blocks[unit.building_id]
        unit.building = block.building  # no query when the template reads unit.building
        block.units.append(UnitRow(unit, figure if figure is not None and figure.id else None))
    return EstatePage(
        estate=estate,
        fiscal_year=fy,
        buildings=list(blocks.values()),
        estate_changes=history({"estate": {estate.id: ""}}),
        building_changes=history({"building": {b.id: building_subject(b) for b in buildings}}),
    )


# --- one unit's page ----------------------------------------------------------------------------------


@dataclass
class Occupant:
    household_id: int
    household_no: str
    move_in_date: dt.date
    visible: bool  # the user may open the household (DV support measures hide some)


@dataclass
class UnitPage:
    unit: Unit  # with unit.building, unit.building.estate and its ward loaded
    fiscal_year: int
    figures: list[UnitYearFigure]  # newest year first
    current_figure: UnitYearFigure | None
    occupant: Occupant | None
    unit_changes: list[Change]
    figure_changes: list[Change]
    convenience_range: tuple[Decimal, Decimal]


def load_unit(unit_id: int, *, visible_households=None, today: dt.date | None = None) -> UnitPage | None:
    """One unit with its building, estate and ward, its yearly figures, the active tenancy's household
    (household number only) and the histories: a fixed number of queries.

    visible_households: the ids query of services.access.visible_households(user); a household outside
    it is shown as occupied without its number.
    """
    unit = (
        Unit.select(Unit, Building, Estate, Ward)
        .join(Building)
        .join(Estate)
        .join(Ward)
        .where(Unit.id == unit_id)
        .first()
    )
    if unit is None:
        return None
    fy = current_fiscal_year(today)
    figures = list(
        UnitYearFigure.select()
        .where(UnitYearFigure.unit == unit.id)
        .order_by(UnitYearFigure.fiscal_year.desc())
    )
    occupant = None
    visible = (
        Household.id.in_(visible_households) if visible_households is not None else Household.id.is_null()
    )
    tenancy = (
        Tenancy.select(
            Tenancy.move_in_date,
            Household.id.alias("household_id"),
            Household.household_no,
            Case(None, [(visible, 1)], 0).alias("visible"),
        )
        .join(Household)
        .where((Tenancy.unit == unit.id) & (Tenancy.status == "active"))
        .dicts()
        .first()
    )
    if tenancy is not None:
        occupant = Occupant(
            tenancy["household_id"],
            tenancy["household_no"],
            tenancy["move_in_date"],
            bool(tenancy["visible"]),
        )
    changes = history(
        {
            "unit": {unit.id: ""},
            "unit_year_figure": {f.id: wareki.fiscal_year_label(f.fiscal_year) for f in figures},
        }
    )
    return UnitPage(
        unit=unit,
        fiscal_year=fy,
        figures=figures,
        current_figure=next((f for f in figures if f.fiscal_year == fy), None),
        occupant=occupant,
        unit_changes=[c for c in changes if c.table == "unit"],
        figure_changes=[c for c in changes if c.table == "unit_year_figure"],
        convenience_range=convenience_range(fy),
    )


# --- the rules of the masters ---------------------------------------------------------------------------


def convenience_range(fiscal_year: int) -> tuple[Decimal, Decimal]:
    """The 利便性係数 allowed in a fiscal year: (min, min(max, cap_numerator ÷ 立地係数)) from the
    masters in force on 1 April (令2条1項5号), rounded inward to the column's 3 places."""
    try:
        values = masters.parameters(
            (
                "convenience_coefficient.min",
                "convenience_coefficient.max",
                "convenience_coefficient.cap_numerator",
                "location_coefficient",
            ),
            masters.fiscal_year_start(fiscal_year),
        )
    except masters.MasterMissing:
        return CONVENIENCE_BOUNDS
    low = values["convenience_coefficient.min"]
    high = values["convenience_coefficient.max"]
    location = values["location_coefficient"]
    if location > 0:
        high = min(high, values["convenience_coefficient.cap_numerator"] / location)
    low = max(low, CONVENIENCE_BOUNDS[0]).quantize(COEFFICIENT_PLACES, rounding=ROUND_CEILING)
    high = min(high, CONVENIENCE_BOUNDS[1]).quantize(COEFFICIENT_PLACES, rounding=ROUND_FLOOR)
    return low, high


# --- saves ------------------------------------------------------------------------------------------------


def _decimals_as_stored(instance, values: dict) -> dict:
    """Decimals equal in value to the stored ones are passed as stored (45.5 from SQLite and 45.50
    from the form are no change); changed ones normalised (0.800 → 0.8) for the audit entry."""
    out = dict(values)
    for name, value in values.items():
        if isinstance(value, Decimal):
            current = getattr(instance, name, None)
            if current is not None and Decimal(str(current)) == value:
                out[name] = current
            else:
                out[name] = value.normalize() if value != value.to_integral() else value
    return out


def save_estate(estate: Estate, version: int, values: dict, **context) -> dict:
    """Save an estate's facts (name, kana, ward, postal code, address, 自治会, note)."""
    return editing.update(estate, version, values, household_id=None, action="estate.update", **context)


def save_building(building: Building, version: int, values: dict, **context) -> dict:
    """Save a building; never lower than its highest unit, the 棟番号 unique in the estate."""
    with db.atomic():
        floors = values.get("floors")
        highest = Unit.select(fn.MAX(Unit.floor)).where(Unit.building == building.id).scalar()
        if floors is not None and highest is not None and floors < highest:
            raise editing.RuleViolation(
                _l(
                    "この棟には%(floor)s階の住戸があります。階数は%(floor)s以上にしてください。",
                    floor=highest,
                ),
                "floors",
            )
        try:
            return editing.update(
                building, version, values, household_id=None, action="building.update", **context
            )
        except editing.RuleViolation as exc:
            if _taken(Building, building.id, estate=building.estate_id, number=values.get("number")):
                raise editing.RuleViolation(_l("この団地には同じ棟番号の棟があります。"), "number") from exc
            raise


def _taken(model, own_id: int, **columns) -> bool:
    """After a unique violation: does another row hold these values? (for the message's field only; the
    database has already refused the write)."""
    condition = model.id != own_id
    for name, value in columns.items():
        condition &= getattr(model, name) == value
    return model.select(model.id).where(condition).exists()


def status_problem(unit: Unit, status: str | None):
    """The message when the status does not match the unit's tenancies, else None (SPEC §2: a unit is
    入居中 exactly when a household lives there; the move-in and move-out procedures change it)."""
    occupied = _active_tenancy_of(unit.id)
    if occupied and status != "occupied":
        return _l(
            "入居中の世帯があるため、状態は「入居中」のままです。退去の手続きが済んでから変更してください。"
        )
    if not occupied and status == "occupied":
        return _l("入居中の世帯がないため「入居中」にはできません。入居は入居の手続きで登録します。")
    return None


def _active_tenancy_of(unit_id: int) -> bool:
    return Tenancy.select(Tenancy.id).where((Tenancy.unit == unit_id) & (Tenancy.status == "active")).exists()


def save_unit(unit: Unit, version: int, values: dict, **context) -> dict:
    """Save a unit: its status must match its tenancies, its floor be within the building's floors,
    its 住宅コード unique in the city and its 部屋番号 in the building."""
    with db.atomic():
        problem = status_problem(unit, values.get("status", unit.status))
        if problem is not None:
            raise editing.RuleViolation(problem, "status")
        floor = values.get("floor")
        floors = Building.select(Building.floors).where(Building.id == unit.building_id).scalar()
        if floor is not None and floors is not None and floor > floors:
            raise editing.RuleViolation(
                _l(
                    "この棟は%(floors)s階建てです。階は1から%(floors)sまでで入力してください。", floors=floors
                ),
                "floor",
            )
        try:
            return editing.update(
                unit,
                version,
                _decimals_as_stored(unit, values),
                household_id=None,
                action="unit.update",
                **context,
            )
        except editing.RuleViolation as exc:
            if _taken(Unit, unit.id, housing_code=values.get("housing_code")):
                raise editing.RuleViolation(
                    _l("この住宅コードはほかの住戸で使われています。"), "housing_code"
                ) from exc
            if _taken(Unit, unit.id, building=unit.building_id, room_number=values.get("room_number")):
                raise editing.RuleViolation(
                    _l("この棟には同じ部屋番号の住戸があります。"), "room_number"
                ) from exc
            raise


def _check_coefficient(fiscal_year: int, coefficient: Decimal | None) -> None:
    if coefficient is None:
        return
    low, high = convenience_range(fiscal_year)
    if not low <= coefficient <= high:
        raise editing.RuleViolation(
            _l(
                "%(year)sの利便性係数は%(low)sから%(high)sまでです（令2条1項5号）。",
                year=wareki.fiscal_year_label(fiscal_year),
                low=low,
                high=high,
            ),
            "convenience_coefficient",
        )


def add_figure(unit: Unit, values: dict, **context) -> UnitYearFigure:
    """Add a fiscal year's 利便性係数 and 近傍同種家賃 to a unit (one row per unit and year)."""
    _check_coefficient(values["fiscal_year"], values.get("convenience_coefficient"))
    try:
        return editing.create(
            UnitYearFigure,
            {"unit": unit.id, **_decimals_as_stored(UnitYearFigure(), values)},
            household_id=None,
            action="unit_year_figure.create",
            **context,
        )
    except editing.RuleViolation as exc:
        exists = (
            UnitYearFigure.select(UnitYearFigure.id)
            .where((UnitYearFigure.unit == unit.id) & (UnitYearFigure.fiscal_year == values["fiscal_year"]))
            .exists()
        )
        if exists:
            raise editing.RuleViolation(
                _l("この年度の数値はすでに登録されています。一覧の「編集」から変更してください。"),
                "fiscal_year",
            ) from exc
        raise


def save_figure(figure: UnitYearFigure, version: int, values: dict, **context) -> dict:
    """Save a fiscal year's 利便性係数 and 近傍同種家賃 (the year itself is not changed)."""
    _check_coefficient(figure.fiscal_year, values.get("convenience_coefficient"))
    return editing.update(
        figure,
        version,
        _decimals_as_stored(figure, values),
        household_id=None,
        action="unit_year_figure.update",
        **context,
    )


def next_fiscal_year_for(unit_id: int, today: dt.date | None = None) -> int:
    """The year to suggest for a new figure: this fiscal year, or the first later one not yet entered."""
    taken = {
        row.fiscal_year
        for row in UnitYearFigure.select(UnitYearFigure.fiscal_year).where(UnitYearFigure.unit == unit_id)
    }
    year = current_fiscal_year(today)
    while year in taken:
        year += 1
    return year
