"""Migrations from an empty database on SQLite and PostgreSQL; the constraints and locks the model relies on."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from decimal import Decimal

import pytest
from peewee import IntegrityError
from playhouse.schema_diff import diff_models

from app import create_app
from extensions import db
from models import ALL_MODELS, ConflictError, Household, MasterParameter, RentBaseBand, Tenancy
from services import masters, schema
from tests.conftest import test_config
from tests.factories import make_household, make_person, make_tenancy, make_unit


def _assert_schema_matches_models():
    diff = diff_models(db.obj, ALL_MODELS)
    drops = [i for i in diff.drop_indexes if i.name not in schema.EXTRA_INDEX_NAMES]
    assert not diff.create_tables and not diff.add_columns and not diff.drop_columns, str(diff)
    assert not diff.add_indexes and not drops, str(diff)


def _upgrade_from_empty(app):
    with app.app_context(), db.connection_context():
        names = [path.stem for path in sorted(schema.MIGRATIONS.glob("[0-9]*.py"))]
        assert names[:3] == ["0001_initial", "0002_seed_masters", "0003_security"]
        assert schema.pending() == names
        assert schema.upgrade() == names
        assert schema.pending() == []
        assert schema.upgrade() == []  # running it again changes nothing
        _assert_schema_matches_models()
        assert RentBaseBand.select().count() == 8


def test_upgrade_from_empty_sqlite(tmp_path):
    app = create_app(test_config(tmp_path))
    _upgrade_from_empty(app)


@pytest.mark.pg
def test_upgrade_from_empty_postgresql(pg_app):
    _upgrade_from_empty(pg_app)


def test_db_commands(tmp_path, monkeypatch):
    app = create_app(test_config(tmp_path))
    runner = app.test_cli_runner()
    before = runner.invoke(args=["db", "status"])
    assert before.exit_code == 1 and "[ ] 0001_initial" in before.output
    upgrade = runner.invoke(args=["db", "upgrade"])
    assert upgrade.exit_code == 0 and "applied: 0003_security" in upgrade.output
    after = runner.invoke(args=["db", "status"])
    assert after.exit_code == 0 and "[x] 0003_security" in after.output
    assert "[ ]" not in after.output


def test_sqlite_connection_settings(app, database):
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_sqlite_transactions_take_the_write_lock_up_front(app, database, tmp_path):
    """A transaction that has only read still holds the write lock (BEGIN IMMEDIATE), so a
    read-then-write transaction cannot fail half-way with SQLITE_BUSY."""
    other = sqlite3.connect(tmp_path / "test.db", timeout=0)
    try:
        with db.atomic():
            Household.select().count()
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after commit
        other.rollback()
    finally:
        other.close()


def test_codes_are_checked_by_the_database(engine_db):
    with pytest.raises(IntegrityError), engine_db.atomic():
        make_household(status="gone")


def test_amounts_cannot_be_negative(engine_db):
    household = make_household()
    with pytest.raises(IntegrityError), engine_db.atomic():
        make_tenancy(household=household, deposit=-1)


def test_foreign_keys_are_enforced(engine_db):
    with pytest.raises(IntegrityError), engine_db.atomic():
        Tenancy.create(household=make_household(), unit=999_999, move_in_date=dt.date(2020, 1, 1))


def test_one_active_tenancy_per_unit(engine_db):
    unit = make_unit()
    make_tenancy(unit=unit)
    with pytest.raises(IntegrityError), engine_db.atomic():
        make_tenancy(unit=unit)
    # An ended tenancy does not block the unit.
    make_tenancy(unit=make_unit())
    ended = make_tenancy(
        unit=unit.__class__.get_by_id(unit.id), status="ended", move_out_date=dt.date(2011, 1, 1)
    )
    assert ended.id


def test_one_current_head_per_household(engine_db):
    household = make_household()
    make_person(household=household)
    with pytest.raises(IntegrityError), engine_db.atomic():
        make_person(household=household, name="川崎 花子")
    # A former head (member_to set) does not count.
    make_person(household=make_household(), member_to=dt.date(2020, 1, 1))


def test_optimistic_locking_refuses_a_stale_save(engine_db):
    household = make_household(contact_phone="0442002948")
    first = Household.get_by_id(household.id)
    second = Household.get_by_id(household.id)
    first.contact_phone = "0441111111"
    first.save_versioned(expected_version=1)
    second.contact_phone = "0442222222"
    with pytest.raises(ConflictError):
        second.save_versioned(expected_version=1)
    fresh = Household.get_by_id(household.id)
    assert (fresh.contact_phone, fresh.version) == ("0441111111", 2)


def test_concurrent_move_ins_to_one_unit_admit_exactly_one(app, database):
    """16 clerks allocate the same vacant unit at once: one tenancy, fifteen refusals, no corruption."""
    unit = make_unit()
    households = [make_household() for _ in range(16)]
    database.close()
    results: list[str] = []
    barrier = threading.Barrier(16)

    def attempt(household_id):
        barrier.wait()
        try:
            with db.connection_context(), db.atomic():
                Tenancy.create(household=household_id, unit=unit.id, move_in_date=dt.date(2026, 4, 1))
            results.append("ok")
        except IntegrityError:
            results.append("refused")

    threads = [threading.Thread(target=attempt, args=(h.id,)) for h in households]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 15
    with db.connection_context():
        assert Tenancy.select().where(Tenancy.unit == unit.id).count() == 1
        assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_masters_are_effective_dated(engine_db):
    assert masters.parameter("location_coefficient", dt.date(2026, 4, 1)) == Decimal("1")
    MasterParameter.create(code="location_coefficient", valid_from=dt.date(2027, 4, 1), value="1.15")
    assert masters.parameter("location_coefficient", dt.date(2027, 3, 31)) == Decimal("1")
    assert masters.parameter("location_coefficient", dt.date(2027, 4, 1)) == Decimal("1.15")
    with pytest.raises(masters.MasterMissing):
        masters.parameter("location_coefficient", dt.date(2000, 1, 1))


def test_seeded_rent_table_is_the_law(engine_db):
    bands = masters.rent_bands(dt.date(2026, 4, 1))
    assert [(b.bracket, b.income_min, b.income_max, b.base_amount) for b in bands] == [
        (1, 0, 104_000, 34_400),
        (2, 104_001, 123_000, 39_700),
        (3, 123_001, 139_000, 45_400),
        (4, 139_001, 158_000, 51_200),
        (5, 158_001, 186_000, 58_500),
        (6, 186_001, 214_000, 67_500),
        (7, 214_001, 259_000, 79_000),
        (8, 259_001, None, 91_100),
    ]
    assert masters.parameter("income_limit.general", dt.date(2026, 4, 1)) == 158_000
    assert masters.parameter("income_limit.special", dt.date(2026, 4, 1)) == 214_000
    assert masters.parameter("income_limit.high_income", dt.date(2026, 4, 1)) == 313_000
    assert masters.parameter("statutory_interest_rate", dt.date(2026, 4, 1)) == Decimal("0.03")


def test_audit_trail_is_append_only(engine_db):
    from peewee import DatabaseError

    from models import AuditEntry

    entry = AuditEntry.create(action="test.append", prev_hmac="0" * 64, hmac="1" * 64)
    for change in (
        lambda: AuditEntry.update(action="test.changed").where(AuditEntry.id == entry.id).execute(),
        lambda: AuditEntry.delete().where(AuditEntry.id == entry.id).execute(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine_db.atomic():
            change()
    assert AuditEntry.get_by_id(entry.id).action == "test.append"
