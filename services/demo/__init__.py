"""The demo city: one generator for `flask seed demo` (600 households) and `bench.generate` (city scale).

    plan = plan_city(households=600, as_of=today)          # or persons=100_000
    report = build_city(plan, keyring, progress=callback)  # writes everything, chunk by chunk
    result = seed_demo(keyring)                            # the idempotent demo: built / present / not empty

Same seed and same as_of → the same city. Rows are bulk-inserted with ids assigned in Python, one
transaction per chunk of households (seed_demo wraps the whole build in one transaction, so the demo
is there entirely or not at all). My Numbers go only to PersonalNumber, as ciphertext and blind index.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from faker import Faker

from extensions import db
from models import (
    ALL_MODELS,
    ArrearsAction,
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
    InstallmentPlan,
    MemberIncome,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Payment,
    Person,
    PersonalNumber,
    RentDecision,
    Tenancy,
    Unit,
    UnitYearFigure,
    Vehicle,
    WelfarePeriod,
)
from services.demo.city import DEMO_HOUSEHOLDS, DEMO_SEED, CityPlan, build_housing, fiscal_year, plan_city
from services.demo.households import HouseholdMaker
from services.demo.money import Money
from services.demo.writer import BulkWriter

__all__ = [
    "DEMO_HOUSEHOLDS",
    "DEMO_SEED",
    "BuildReport",
    "CityPlan",
    "SeedResult",
    "build_city",
    "database_is_empty",
    "demo_present",
    "fiscal_year",
    "plan_city",
    "seed_demo",
    "today",
]

CHUNK_HOUSEHOLDS = 500
# Tables the generator bulk-writes, in dependency order (offices and wards are created one by one when
# missing; user accounts never).
WRITTEN = {
    Estate, Building, Unit, UnitYearFigure, ParkingLot, ParkingSpace,
    Household, Person, PersonalNumber, WelfarePeriod, Tenancy, HouseholdEvent, Guarantor, BankTransfer,
    ParkingContract, Vehicle, IncomeDeclaration, MemberIncome, Certification, EvictionRequest, RentDecision,
    Charge, Payment, ArrearsAction, InstallmentPlan,
}  # fmt: skip
GENERATED = [m for m in ALL_MODELS if m in WRITTEN]


def today() -> dt.date:
    """Today in Japan: the demo's charges, 車検 and arrears are dated relative to it."""
    return dt.datetime.now(ZoneInfo("Asia/Tokyo")).date()


@dataclass
class BuildReport:
    """What a build wrote: rows per table, a few facts worth printing, and how long it took."""

    rows: dict[str, int]
    seconds: float
    facts: dict[str, int] = field(default_factory=dict)

    @property
    def households(self) -> int:
        """Households written."""
        return self.rows.get("household", 0)

    @property
    def persons(self) -> int:
        """Persons written (current and former members)."""
        return self.rows.get("person", 0)

    def summary(self) -> str:
        """One line for the CLI: the main counts and the time taken."""
        r = self.rows
        return (
            f"{r.get('estate', 0)} estates, {r.get('unit', 0)} units, {r.get('household', 0)} households, "
            f"{r.get('person', 0)} persons, {r.get('charge', 0)} charges, {r.get('payment', 0)} payments "
            f"({sum(r.values())} rows) in {self.seconds:.1f} s"
        )


def demo_present() -> bool:
    """True when the demo city's first estate (natural key: its code) is in the database."""
    return Estate.select().where(Estate.code == "131001").exists()


def database_is_empty() -> bool:
    """No estates and no households: the state `seed demo --if-empty` seeds."""
    return not Estate.select().exists() and not Household.select().exists()


def build_city(
    plan: CityPlan,
    keyring,
    *,
    progress: Callable[[int], None] | None = None,
    chunk_households: int = CHUNK_HOUSEHOLDS,
) -> BuildReport:
    """Write the planned city into the current database (which must not hold another city).

    progress(n) is called after each chunk with the number of households just written.
    """
    started = time.perf_counter()
    database = db.obj
    rng = random.Random(plan.seed)
    fake = Faker("ja_JP")
    fake.seed_instance(plan.seed)
    fy = plan.fiscal_year
    money = Money(fy, income_years=(fy - 2, fy - 1))
    writer = BulkWriter(database, GENERATED)
    with db.atomic():
        city = build_housing(plan, writer, rng)
        writer.flush()
    maker = HouseholdMaker(plan, city, money, writer, keyring, rng, fake)
    total = len(plan.households)
    for start in range(0, total, chunk_households):
        stop = min(total, start + chunk_households)
        for index in range(start, stop):
            maker.make(index)
        with db.atomic():
            writer.flush()
        if progress is not None:
            progress(stop - start)
    with db.atomic():
        # Spaces with an active contract are 契約中 (contracts were placed after the spaces were written).
        contracted = ParkingContract.select(ParkingContract.space).where(ParkingContract.status == "active")
        ParkingSpace.update(status="contracted").where(ParkingSpace.id.in_(contracted)).execute()
        writer.sync_sequences()
    return BuildReport(
        rows=dict(writer.counts), seconds=time.perf_counter() - started, facts=dict(maker.stats)
    )


@dataclass
class SeedResult:
    """The outcome of seed_demo: "built", "present" (the demo is already there) or "not_empty"."""

    status: str
    report: BuildReport | None = None
    if_empty: bool = False

    @property
    def ok(self) -> bool:
        """Built, already there, or (with --if-empty) skipped because the database holds data."""
        return self.status != "not_empty" or self.if_empty

    def message(self) -> str:
        """What the CLI prints."""
        if self.status == "built" and self.report is not None:
            return f"demo city built: {self.report.summary()}."
        if self.status == "present":
            return "the demo city is already in the database; nothing done."
        if self.if_empty:
            return "the database is not empty; the demo was not added."
        return "the database already holds estates or households that are not the demo; nothing done."


def seed_demo(
    keyring,
    *,
    if_empty: bool = False,
    households: int = DEMO_HOUSEHOLDS,
    seed: int = DEMO_SEED,
    as_of: dt.date | None = None,
) -> SeedResult:
    """Build the demo city unless it (or any other data) is already there; all in one transaction.

    The demo is never mixed into a database that holds other estates or households, and a second run
    adds nothing. if_empty (what `make run` uses) only tells the caller that "not_empty" is no error.
    """
    with db.atomic():
        if demo_present():
            return SeedResult("present", if_empty=if_empty)
        if not database_is_empty():
            return SeedResult("not_empty", if_empty=if_empty)
        plan = plan_city(households=households, seed=seed, as_of=as_of or today())
        report = build_city(plan, keyring)
    return SeedResult("built", report, if_empty=if_empty)
