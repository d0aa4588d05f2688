"""The demo city: believable, complete, My Numbers only as ciphertext, idempotent; the bench generator."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
import time_machine
from peewee import JOIN, fn

from app import create_app
from extensions import db
from models import (
    ALL_MODELS,
    BankTransfer,
    Certification,
    Charge,
    Estate,
    Household,
    IncomeDeclaration,
    Payment,
    Person,
    PersonalNumber,
    Tenancy,
    Unit,
    Vehicle,
    Ward,
)
from rules import mynumber
from rules.kana import BANK_KANA_ALLOWED
from services import mynumber as mynumber_service
from services.vault import keyring_for
from tests.conftest import test_config as make_config

TOKYO = ZoneInfo("Asia/Tokyo")
AS_OF = dt.datetime(2026, 11, 26, 10, 0, tzinfo=TOKYO)
TODAY = AS_OF.date()
FY = 2026


def row_counts() -> dict[str, int]:
    counts = {m._meta.table_name: m.select().count() for m in ALL_MODELS}
    counts["schema_migration"] = db.execute_sql("SELECT COUNT(*) FROM schema_migration").fetchone()[0]
    return counts


@pytest.fixture(scope="module")
def city(tmp_path_factory, migrated_template):
    """The demo city built once through `flask seed demo` (on 2026-11-26) into its own SQLite file."""
    base = tmp_path_factory.mktemp("demo")
    shutil.copy(migrated_template, base / "test.db")
    application = create_app(make_config(base))
    database = db.obj
    runner = application.test_cli_runner()
    with time_machine.travel(AS_OF, tick=False):
        result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    if not db.is_closed():
        db.close()
    return SimpleNamespace(
        app=application, database=database, runner=runner, path=base / "test.db", output=result
    )


@pytest.fixture
def demo_db(city):
    """An open connection to the demo city's database (the proxy may point elsewhere after other tests)."""
    db.initialize(city.database)
    db.connect(reuse_if_open=True)
    yield city
    if not db.is_closed():
        db.close()


def test_seed_reports_what_it_built(city):
    assert "demo city built" in city.output.output
    assert "600 households" in city.output.output


def test_a_believable_city(demo_db):
    estates = Estate.select().count()
    assert 18 <= estates <= 22
    wards = Ward.select().join(Estate).distinct().count()
    assert wards == 7
    assert all(w.office_id for w in Ward.select())
    households = Household.select().count()
    assert 570 <= households <= 630
    persons = Person.select().count()
    assert 1.5 * households <= persons <= 3 * households
    # One current head per household, one active tenancy per household and per occupied unit.
    heads = Person.select().where(Person.is_head & Person.member_to.is_null()).count()
    assert heads == households
    active = Tenancy.select().where(Tenancy.status == "active").count()
    assert active == households == Unit.select().where(Unit.status == "occupied").count()
    assert 0.9 < active / Unit.select().count() < 0.99
    # Kana names, and members that share the head's family name in most households.
    sample = Person.select().limit(50)
    assert all("\u3000" in p.name_kana and p.kana_key for p in sample)
    assert Person.select().where(Person.nationality != "日本").count() > 0
    assert Person.select().where(Person.disability_kind.is_null(False)).count() > 0
    assert Household.select().where(Household.category == "special").count() > 0
    assert Household.select().where(Household.support_measure).count() > 0
    assert Household.select().where(Household.permit_type == "fixed_term").count() > 0
    assert Household.select().where(Household.proxy_payment).count() > 0


def test_every_income_bracket_and_certifications(demo_db):
    brackets = {
        d.bracket
        for d in IncomeDeclaration.select(IncomeDeclaration.bracket).where(
            (IncomeDeclaration.fiscal_year == FY) & IncomeDeclaration.bracket.is_null(False)
        )
    }
    assert brackets == set(range(1, 9))
    # Most households are in 分位1, as in reality.
    first = IncomeDeclaration.select().where(
        (IncomeDeclaration.fiscal_year == FY) & (IncomeDeclaration.bracket == 1)
    )
    declared = IncomeDeclaration.select().where(
        (IncomeDeclaration.fiscal_year == FY) & IncomeDeclaration.bracket.is_null(False)
    )
    assert first.count() > declared.count() / 2
    for kind, flag in (("over_income", Household.over_income), ("high_income", Household.high_income)):
        certified = (
            Household.select()
            .join(Certification)
            .where(flag & (Certification.kind == kind) & (Certification.state == "certified"))
        )
        assert certified.count() >= 1, kind
    # 高額所得者: 政令月収 above 313,000 in both declarations and resident five years or more.
    for household in Household.select().where(Household.high_income):
        figures = [d.seirei_getsushu for d in household.declarations]
        assert len(figures) == 2 and min(figures) > 313_000
        assert household.first_move_in_date <= dt.date(FY - 5, 4, 1)


def test_some_expired_inspections_and_arrears(demo_db):
    vehicles = Vehicle.select().count()
    expired = Vehicle.select().where(Vehicle.inspection_expiry < TODAY).count()
    assert vehicles > 0 and 0 < expired < 0.2 * vehicles
    paid = fn.COALESCE(fn.SUM(Payment.amount), 0)
    unpaid = (
        Charge.select(Charge.household, Charge.id)
        .join(Payment, JOIN.LEFT_OUTER)
        .where((Charge.kind == "rent") & (Charge.due_date < TODAY))
        .group_by(Charge.id)
        .having(Charge.amount - Charge.reduction_amount - paid > 0)
    )
    months_due: dict[int, int] = {}
    for charge in unpaid:
        months_due[charge.household_id] = months_due.get(charge.household_id, 0) + 1
    assert any(months >= 3 for months in months_due.values())
    assert len(months_due) < 0.15 * Household.select().count()  # most pay on time


def test_my_numbers_valid_and_only_ciphertext(demo_db):
    keyring = keyring_for(demo_db.app.config)
    rows = list(PersonalNumber.select())
    assert len(rows) == Person.select().count()
    numbers = set()
    for row in rows:
        number = mynumber_service.decrypt_row(row, keyring)
        assert mynumber.is_valid(number)
        assert keyring.blind_index(number) == row.blind_index
        numbers.add(number)
    assert len(numbers) == len(rows)
    db.close()
    # No clear number anywhere in the database file or its WAL.
    raw = b"".join(p.read_bytes() for p in demo_db.path.parent.glob("test.db*"))
    windows = {m[i : i + 12].decode() for m in re.findall(rb"[0-9]{12,}", raw) for i in range(len(m) - 11)}
    assert not windows & numbers


def test_bank_codes_exist_and_holders_are_half_width_kana(demo_db):
    from zengin_code import Bank

    transfers = list(BankTransfer.select())
    households = Household.select().count()
    rent = {t.household_id for t in transfers if t.purpose == "rent" and t.valid_to is None}
    assert 0.6 * households < len(rent) < 0.8 * households
    assert any(t.purpose == "parking" for t in transfers)
    for transfer in transfers:
        assert transfer.branch_code in Bank.all[transfer.bank_code].branches
        assert re.fullmatch(r"[0-9]{7}", transfer.account_number)
        assert set(transfer.holder_kana) <= BANK_KANA_ALLOWED
        assert re.search("[\uff71-\uff9d]", transfer.holder_kana)


def test_seeding_again_changes_nothing(demo_db):
    before = row_counts()
    db.close()
    again = demo_db.runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0, again.output
    assert "already" in again.output
    quiet = demo_db.runner.invoke(args=["seed", "demo", "--if-empty"])
    assert quiet.exit_code == 0, quiet.output
    db.initialize(demo_db.database)
    db.connect(reuse_if_open=True)
    assert row_counts() == before


def test_the_demo_is_never_mixed_into_other_data(app, runner):
    with app.app_context():
        db.connect(reuse_if_open=True)
        ward = Ward.create(code="99999", name="試験区")
        Estate.create(code="X1", name="既存団地", ward=ward, address="どこか")
        db.close()
    refused = runner.invoke(args=["seed", "demo"])
    assert refused.exit_code == 1
    skipped = runner.invoke(args=["seed", "demo", "--if-empty"])
    assert skipped.exit_code == 0 and "not empty" in skipped.output
    with app.app_context():
        db.connect(reuse_if_open=True)
        assert Estate.select().count() == 1 and Household.select().count() == 0
        db.close()


def test_bench_generate_builds_a_city_into_a_fresh_file(tmp_path, capsys):
    from bench import generate

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    args = ["--persons", "2000", "--database-url", url, "--key-dir", str(tmp_path / "keys"), "--quiet"]
    assert generate.main([*args, "--as-of", "2026-11-26"]) == 0
    out = capsys.readouterr().out
    assert "elapsed:" in out and "peak memory" in out
    db.connect(reuse_if_open=True)
    try:
        persons = Person.select().count()
        assert 2000 <= persons < 2010
        assert Estate.select().count() >= 20
    finally:
        db.close()
    # A second run into the same database refuses rather than doubling the city.
    assert generate.main([*args, "--as-of", "2026-11-26"]) == 1


def test_same_seed_same_city(tmp_path):
    from bench import generate

    def build(name):
        url = f"sqlite:///{tmp_path / name}"
        args = ["--persons", "300", "--database-url", url, "--key-dir", str(tmp_path / "keys")]
        assert generate.main([*args, "--quiet", "--as-of", "2026-11-26"]) == 0
        db.connect(reuse_if_open=True)
        try:
            people = [
                (p.name, p.name_kana, p.birth_date, p.atena_no) for p in Person.select().order_by(Person.id)
            ]
            money = [(c.period, c.amount) for c in Charge.select().order_by(Charge.id)]
            return people, money
        finally:
            db.close()

    assert build("a.db") == build("b.db")
