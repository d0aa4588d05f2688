"""The city's plan (which households, how many) and its housing stock: offices, wards, estates, buildings, units."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

from models import Building, Estate, Office, ParkingLot, ParkingSpace, Unit, UnitYearFigure, Ward
from services.demo import places
from services.demo.writer import BulkWriter

# Household kinds of a municipal estate (about half are elderly, as in Kawasaki's own figures), weights in %.
KINDS = (
    ("elderly_single", 30),
    ("elderly_couple", 15),
    ("single", 8),
    ("couple", 7),
    ("family", 18),
    ("single_parent", 10),
    ("three_generation", 5),
    ("elderly_with_child", 5),
    ("large_family", 2),
)
ELDERLY_KINDS = frozenset({"elderly_single", "elderly_couple", "elderly_with_child"})
WORKING_KINDS = ("single", "couple", "family", "three_generation", "large_family")

# Layouts by kind: (layout, weight); floor areas by layout (㎡).
LAYOUTS = {
    "elderly_single": (("1DK", 45), ("2DK", 55)),
    "elderly_couple": (("2DK", 75), ("2LDK", 25)),
    "single": (("1DK", 55), ("2DK", 45)),
    "couple": (("2DK", 70), ("2LDK", 30)),
    "family": (("2DK", 20), ("3DK", 50), ("2LDK", 15), ("3LDK", 15)),
    "single_parent": (("2DK", 40), ("3DK", 45), ("2LDK", 15)),
    "three_generation": (("3DK", 55), ("3LDK", 45)),
    "elderly_with_child": (("2DK", 55), ("3DK", 45)),
    "large_family": (("3LDK", 100),),
    None: (("1DK", 15), ("2DK", 40), ("3DK", 30), ("2LDK", 10), ("3LDK", 5)),
}
AREAS = {"1DK": (30, 38), "2DK": (40, 52), "2LDK": (50, 62), "3DK": (55, 68), "3LDK": (68, 80)}
VACANT_STATUSES = (("vacant", 55), ("repair", 25), ("policy_vacant", 20))

DEMO_SEED = 14130  # 川崎市: 14130
DEMO_HOUSEHOLDS = 600


def fiscal_year(day: dt.date) -> int:
    """The fiscal year (年度, April-March) a day falls in."""
    return day.year if day.month >= 4 else day.year - 1


@dataclass
class CityPlan:
    """What the generator will build: one (kind, current members, former members) per household."""

    seed: int
    as_of: dt.date
    households: list[tuple[str, int, tuple[str, ...]]]
    # Rare features placed on purpose so every run has them: household index → "b2".."b8", "high", "dv", "fixed".
    forced: dict[int, str] = field(default_factory=dict)

    @property
    def persons(self) -> int:
        """Person rows the plan makes (current and former members)."""
        return sum(current + len(former) for _, current, former in self.households)

    @property
    def estates(self) -> int:
        """Estates of the city: 20 for the demo, more (and bigger) for a big city."""
        count = len(self.households)
        # ~30 units per estate for the demo; a city-scale data set has fewer, bigger estates (~270 units).
        return max(1, min(math.ceil(count / 30), 20 + count // 300))

    @property
    def units(self) -> int:
        """Units of the city, 95% of them occupied."""
        return math.ceil(len(self.households) / 0.95)  # 95% occupied

    @property
    def fiscal_year(self) -> int:
        """The fiscal year of as_of."""
        return fiscal_year(self.as_of)


def _compose(kind: str, rng: random.Random) -> tuple[int, tuple[str, ...]]:
    """(current members, former members) of a household of this kind."""
    former: list[str] = []
    if kind == "elderly_single":
        current = 1
        if rng.random() < 0.45:
            former.append("spouse_deceased")
        if rng.random() < 0.2:
            former.append("child_left")
    elif kind == "elderly_couple":
        current = 2
        if rng.random() < 0.3:
            former.append("child_left")
    elif kind == "single":
        current = 1
        if rng.random() < 0.12:
            former.append("parent_deceased")
    elif kind == "couple":
        current = 2
    elif kind == "family":
        current = 2 + rng.choices((1, 2, 3), (35, 45, 20))[0]
        if rng.random() < 0.05:
            former.append("child_left")
    elif kind == "single_parent":
        current = 1 + rng.choices((1, 2, 3), (50, 35, 15))[0]
        if rng.random() < 0.3:
            former.append("spouse_left")
    elif kind == "three_generation":
        current = 3 + rng.choices((1, 2, 3), (35, 45, 20))[0]
    elif kind == "elderly_with_child":
        current = 1 + rng.choices((1, 2), (80, 20))[0]
        if rng.random() < 0.5:
            former.append("spouse_deceased")
    else:  # large_family
        current = 2 + rng.choice((4, 4, 5, 5, 6))
    return current, tuple(former)


def plan_city(
    *, households: int | None = None, persons: int | None = None, seed: int = DEMO_SEED, as_of: dt.date
) -> CityPlan:
    """Choose the households: a number of them, or as many as make `persons` people (the last may overshoot)."""
    if (households is None) == (persons is None):
        raise ValueError("give households or persons")
    if (households or persons or 0) < 1:
        raise ValueError("a city needs at least one household")
    rng = random.Random(f"{seed}/plan")
    kinds, weights = zip(*KINDS, strict=True)
    chosen: list[tuple[str, int, tuple[str, ...]]] = []
    people = 0
    while (households is not None and len(chosen) < households) or (persons is not None and people < persons):
        kind = rng.choices(kinds, weights)[0]
        current, former = _compose(kind, rng)
        chosen.append((kind, current, former))
        people += current + len(former)
    plan = CityPlan(seed=seed, as_of=as_of, households=chosen)
    count = len(chosen)
    working = [i for i, (kind, _, _) in enumerate(chosen) if kind in WORKING_KINDS]
    rng.shuffle(working)
    # Every 収入分位 appears, a few high-income households (法29条) exist, a few DV and 定期使用許可 ones.
    wanted = [("high", max(2, round(count * 0.002)))]
    wanted += [(f"b{b}", max(1, round(count * 0.002))) for b in range(2, 9)]
    for label, number in wanted:
        for _ in range(number):
            if working:
                plan.forced[working.pop()] = label
    parents = [i for i, (kind, _, _) in enumerate(chosen) if kind == "single_parent" and i not in plan.forced]
    families = [i for i, (kind, _, _) in enumerate(chosen) if kind == "family" and i not in plan.forced]
    rng.shuffle(parents)
    rng.shuffle(families)
    for index in parents[: max(1, round(count * 0.004))]:
        plan.forced[index] = "dv"
    for index in families[: max(2, round(count * 0.008))]:
        plan.forced[index] = "fixed"
    return plan


@dataclass(slots=True)
class UnitInfo:
    """What the household generator needs to know about a unit (kept for every unit of the city)."""

    id: int
    estate: int  # index in City.estates
    building_no: str
    room: str
    housing_code: str
    structure: str
    year_built: int
    area: Decimal
    layout: str
    floor: int
    market: int
    convenience: Decimal


@dataclass
class EstateInfo:
    """An estate with what households need: ward, address, its 自治会, free parking spaces."""

    id: int
    code: str
    name: str
    ward_code: str
    place: places.Place
    address: str
    association: str
    spaces: list[tuple[int, int]] = field(default_factory=list)  # (space id, fee), taken from the end


@dataclass
class City:
    """The housing stock written before the households: estates, and units by household index."""

    estates: list[EstateInfo]
    units: list[UnitInfo]  # every unit
    occupied: list[UnitInfo]  # the unit of household i at index i
    office_ids: dict[str, int]
    ward_ids: dict[str, int]


def ensure_offices_and_wards() -> tuple[dict[str, int], dict[str, int]]:
    """The three 公社 offices and the seven wards, created when missing (kept as they are otherwise)."""
    offices = {o.code: o.id for o in Office.select()}
    for code, name, postal_code, banchi, phone in places.OFFICES:
        if code in offices:
            continue
        place = next(
            (p for ps in places.ward_places().values() for p in ps if p.postal_code == postal_code), None
        )
        address = f"{place.prefecture}{place.city}{place.town}{banchi}" if place else None
        offices[code] = Office.insert(
            code=code, name=name, postal_code=postal_code, address=address, phone=phone
        ).execute()
    wards = {w.code: w.id for w in Ward.select()}
    for code, name, office in places.WARDS:
        if code not in wards:
            wards[code] = Ward.insert(code=code, name=name, office=offices[office]).execute()
    return offices, wards


def _ward_counts(total: int) -> dict[str, int]:
    """Estates per ward, proportional to the demo's weights (largest remainder), at least one each."""
    weights = places.ESTATE_WEIGHTS
    whole = sum(weights.values())
    raw = {code: total * w / whole for code, w in weights.items()}
    counts = {code: max(1, int(value)) for code, value in raw.items()}
    by_remainder = sorted(raw, key=lambda c: raw[c] - int(raw[c]), reverse=True)
    i = 0
    while sum(counts.values()) < total:
        counts[by_remainder[i % len(by_remainder)]] += 1
        i += 1
    return counts


def _layout_area(rng: random.Random, kind: str | None) -> tuple[str, Decimal]:
    layouts, weights = zip(*LAYOUTS[kind], strict=True)
    layout = rng.choices(layouts, weights)[0]
    low, high = AREAS[layout]
    return layout, Decimal(rng.randint(low * 100, high * 100)) / 100


def build_housing(plan: CityPlan, writer: BulkWriter, rng: random.Random) -> City:
    """Write estates, buildings, units, their yearly figures and parking lots; return what households need."""
    offices, wards = ensure_offices_and_wards()
    fy = plan.fiscal_year
    towns = places.ward_places()
    estates: list[EstateInfo] = []
    for ward_code, count in _ward_counts(plan.estates).items():
        chosen = rng.sample(towns[ward_code], min(count, len(towns[ward_code])))
        for serial in range(1, count + 1):
            place = chosen[(serial - 1) % len(chosen)]
            round_ = (serial - 1) // len(chosen)
            suffix, suffix_kana = ("", "") if round_ == 0 else (f"第{round_ + 1}", f"ダイ{round_ + 1}")
            name = f"市営{place.town}{suffix}住宅"
            address = place.address(rng.randint(1, 5), rng.randint(1, 30))
            estate = EstateInfo(
                id=writer.new_id(Estate),
                code=f"{ward_code[2:]}{serial:03d}",
                name=name,
                ward_code=ward_code,
                place=place,
                address=address,
                association=f"{name}自治会",
            )
            writer.add(
                Estate,
                id=estate.id,
                code=estate.code,
                name=name,
                name_kana=f"シエイ{place.town_kana}{suffix_kana}ジュウタク",
                ward=wards[ward_code],
                postal_code=place.postal_code,
                address=address,
                residents_association=estate.association,
            )
            estates.append(estate)

    # One slot per unit: the household that lives there (by index) or a vacancy; shuffled over the city.
    count = len(plan.households)
    slots: list[int | None] = list(range(count)) + [None] * (plan.units - count)
    rng.shuffle(slots)
    sizes = [rng.uniform(0.4, 1.8) for _ in estates]
    scale = len(slots) / sum(sizes)
    cuts = [0]
    for size in sizes:
        cuts.append(min(len(slots), cuts[-1] + max(1, round(size * scale))))
    cuts[-1] = len(slots)
    for i in range(len(cuts) - 2, 0, -1):  # keep every estate non-empty after rounding
        cuts[i] = min(cuts[i], cuts[i + 1] - 1)

    units: list[UnitInfo] = []
    occupied: list[UnitInfo | None] = [None] * count
    vacancies, vacancy_weights = zip(*VACANT_STATUSES, strict=True)
    for e_index, estate in enumerate(estates):
        estate_slots = slots[cuts[e_index] : cuts[e_index + 1]]
        era = rng.randint(1965, 2015)
        convenience_base = rng.uniform(0.75, 0.95)
        building_no = 0
        position = 0
        while position < len(estate_slots):
            building_no += 1
            structure = rng.choices(("fire_resistant", "quasi_fire_resistant", "wooden"), (85, 9, 6))[0]
            if structure == "wooden":
                year = min(rng.randint(1965, 1990), 2015)
                floors, per_floor = rng.randint(1, 2), rng.randint(2, 6)
            elif structure == "quasi_fire_resistant":
                year = min(max(1965, era + rng.randint(-5, 5)), 2015)
                floors, per_floor = rng.randint(2, 3), rng.randint(4, 6)
            else:
                year = min(max(1965, era + rng.randint(-4, 4)), 2015)
                floors = rng.choice((3, 4, 5, 5, 5, 6, 7, 8, 10, 11, 14))
                per_floor = rng.randint(4, 10)
            elevator = structure == "fire_resistant" and (floors >= 6 or (year >= 1995 and floors >= 3))
            building_id = writer.add(
                Building,
                estate=estate.id,
                number=str(building_no),
                structure=structure,
                year_built=year,
                floors=floors,
                has_elevator=elevator,
            )
            building_slots = estate_slots[position : position + floors * per_floor]
            position += len(building_slots)
            age = max(0, fy - year)
            for k, slot in enumerate(building_slots):
                floor, column = divmod(k, per_floor)
                floor += 1
                room = f"{floor}{column + 1:02d}"
                kind = plan.households[slot][0] if slot is not None else None
                layout, area = _layout_area(rng, kind)
                unit_type = "general"
                if layout == "1DK" and rng.random() < 0.5:
                    unit_type = "single"
                elif layout == "3LDK" and rng.random() < 0.5:
                    unit_type = "large_family"
                elif kind in ELDERLY_KINDS and rng.random() < 0.15:
                    unit_type = "silver_housing" if elevator and rng.random() < 0.3 else "elderly"
                elif floor == 1 and rng.random() < 0.03:
                    unit_type = "wheelchair"
                status = "occupied" if slot is not None else rng.choices(vacancies, vacancy_weights)[0]
                # 近傍同種家賃: the ward's market for 65 ㎡, lower for older buildings, scaled by floor area.
                per_65 = min(
                    140_000, max(80_000, places.MARKET_RENT_65[estate.ward_code] * (1 - 0.006 * age))
                )
                market = int(per_65 * rng.uniform(0.96, 1.04) * float(area) / 65) // 100 * 100
                convenience = Decimal(
                    f"{min(1.0, max(0.7, convenience_base + rng.uniform(-0.05, 0.05))):.3f}"
                )
                housing_code = f"{estate.code}{building_no:02d}{floor:02d}{column + 1:02d}"
                unit = UnitInfo(
                    id=writer.new_id(Unit),
                    estate=e_index,
                    building_no=str(building_no),
                    room=room,
                    housing_code=housing_code,
                    structure=structure,
                    year_built=year,
                    area=area,
                    layout=layout,
                    floor=floor,
                    market=market,
                    convenience=convenience,
                )
                writer.add(
                    Unit,
                    id=unit.id,
                    housing_code=housing_code,
                    building=building_id,
                    room_number=room,
                    floor_area=area,
                    layout=layout,
                    floor=floor,
                    unit_type=unit_type,
                    status=status,
                )
                writer.add(
                    UnitYearFigure,
                    unit=unit.id,
                    fiscal_year=fy,
                    convenience_coefficient=convenience,
                    market_rent=market,
                )
                market_next = int(market * rng.uniform(1.0, 1.02)) // 100 * 100
                writer.add(
                    UnitYearFigure,
                    unit=unit.id,
                    fiscal_year=fy + 1,
                    convenience_coefficient=convenience,
                    market_rent=market_next,
                )
                units.append(unit)
                if slot is not None:
                    occupied[slot] = unit
        _parking(writer, rng, estate, sum(1 for s in estate_slots if s is not None))
    assert all(u is not None for u in occupied)
    return City(estates, units, occupied, offices, wards)  # type: ignore[arg-type]


def _parking(writer: BulkWriter, rng: random.Random, estate: EstateInfo, households: int) -> None:
    """Most estates have a lot run with the 自治会; spaces for about 40% of households."""
    if households < 6 and rng.random() < 0.5 or rng.random() < 0.12:
        return
    spaces = max(3, math.ceil(households * rng.uniform(0.34, 0.46)))
    low, high = places.PARKING_FEES[estate.ward_code]
    lots = 1 if spaces <= 80 else 2
    per_lot = math.ceil(spaces / lots)
    for lot_no in range(1, lots + 1):
        fee = rng.randrange(low, high + 1, 500)
        suffix = "" if lots == 1 else f"第{lot_no}"
        lot_id = writer.add(
            ParkingLot,
            estate=estate.id,
            code=f"P{lot_no}",
            name=f"{estate.name}{suffix}駐車場",
            residents_association=estate.association,
            monthly_fee=fee,
        )
        for number in range(1, per_lot + 1):
            closed = rng.random() < 0.02  # 使用不可: marked off for repairs or a fire lane
            space_fee = fee + (1000 if rng.random() < 0.08 else 0)  # a few wider spaces cost more
            space_id = writer.add(
                ParkingSpace,
                lot=lot_id,
                space_no=str(number),
                monthly_fee=space_fee,
                status="closed" if closed else "available",
            )
            if not closed:
                estate.spaces.append((space_id, space_fee))
    rng.shuffle(estate.spaces)
