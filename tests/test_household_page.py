"""The household page (staff.household.show): every 別添1 item, values, masking, access, audit, queries."""

from __future__ import annotations

import datetime as dt
import html
import json
import shutil
from contextlib import contextmanager

import pytest
from peewee import JOIN, fn

from app import create_app
from extensions import db
from models import (
    ArrearsAction,
    AuditEntry,
    BankTransfer,
    Certification,
    Charge,
    Guarantor,
    Household,
    HouseholdEvent,
    IncomeDeclaration,
    Inquiry,
    Notice,
    ParkingContract,
    Payment,
    Person,
    PersonalNumber,
    RentDecision,
    RentReduction,
    Tenancy,
    Vehicle,
)
from rules import wareki
from rules.filters import today_tokyo
from services import household_file, mynumber
from services.vault import keyring_for
from tests.conftest import test_config
from tests.factories import make_assignment, make_household, make_person, make_tenancy

# 別添1 特定個人情報ファイル記録項目: each label must be on the page of a household.
BETTEN1 = {
    "入居者情報": [
        "氏名", "生年月日", "年齢", "性別", "国籍", "住所", "電話番号", "送付先", "連絡先", "世帯主氏名",
        "世帯員名", "続柄", "住宅コード", "住宅名", "棟番号", "部屋番号", "当初入居日", "入居日", "退去日",
        "住宅使用料", "減免額", "収入額", "所得額", "控除額", "政令月収", "調定額", "収納額", "収納年月日",
        "障害者手帳", "種類", "等級", "生活保護", "代理納付", "収入超過", "高額所得", "収入申告区分",
    ],
    "連帯保証人・緊急連絡人情報": ["氏名", "生年月日", "続柄", "住所", "電話番号", "就任日", "解任日"],
    "納付方法情報": ["住宅使用料・駐車場使用料口座振替登録"],
    "駐車場登録情報": [
        "駐車場所在団地", "自治会", "区画番号", "区画使用者", "駐車場使用料", "減免額", "車両登録番号",
        "車種", "車台番号", "車の所有者", "車の使用者", "車検有効期間", "駐車場使用開始日", "廃止日",
    ],
    "調定収納情報": [
        "住宅使用料調定額", "収納額", "領収日", "収納日", "未納額", "損害賠償金", "駐車場使用料調定額",
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory, migrated_template):
    """A folder with a migrated database holding the demo city (`flask seed demo`) and the keys that
    encrypted its My Numbers, built once for the module."""
    base = tmp_path_factory.mktemp("household-demo")
    shutil.copy(migrated_template, base / "test.db")
    application = create_app(test_config(base))
    result = application.test_cli_runner().invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    if not db.is_closed():
        db.close()
    return base


@pytest.fixture
def app(tmp_path, demo_template):
    """The app on a copy of the demo city and its keys (overrides conftest's empty database)."""
    shutil.copy(demo_template / "test.db", tmp_path / "test.db")
    shutil.copytree(demo_template / "instance" / "keys", tmp_path / "instance" / "keys")
    application = create_app(test_config(tmp_path))
    yield application
    if not db.is_closed():
        db.close()


@contextmanager
def opened(app):
    with app.app_context(), db.connection_context():
        yield


def count_of(model, household_id) -> fn:
    return model.select(fn.COUNT(model.id)).where(model.household == household_id)


def full_household(app) -> int:
    """A demo household with a guarantor, bank transfers, a vehicle, arrears actions, declarations, an
    unpaid charge and My Numbers."""
    with opened(app):
        unpaid = (
            Charge.select(Charge.household)
            .join(Payment, JOIN.LEFT_OUTER, on=(Payment.charge == Charge.id))
            .group_by(Charge.id)
            .having(Charge.amount - Charge.reduction_amount - fn.COALESCE(fn.SUM(Payment.amount), 0) > 0)
        )
        with_vehicle = ParkingContract.select(ParkingContract.household).join(Vehicle)
        query = (
            Household.select(Household.id)
            .where(
                Household.id.in_(Guarantor.select(Guarantor.household))
                & Household.id.in_(BankTransfer.select(BankTransfer.household))
                & Household.id.in_(ArrearsAction.select(ArrearsAction.household))
                & Household.id.in_(IncomeDeclaration.select(IncomeDeclaration.household))
                & Household.id.in_(with_vehicle)
                & Household.id.in_(unpaid)
                & ~Household.support_measure
            )
            .order_by(Household.id)
        )
        return query.first().id


def enrich(app, household_id: int, user) -> None:
    """Add what the demo does not generate: a rent decision, a reduction, a certification, a notice, an
    inquiry, an event and an arrears action recorded by staff."""
    with opened(app):
        tenancy = (
            Tenancy.select().where(Tenancy.household == household_id).order_by(Tenancy.id.desc()).first()
        )
        head = Person.select().where(Person.household == household_id).order_by(Person.id).first()
        fy = today_tokyo().year
        RentDecision.create(
            household=household_id, tenancy=tenancy, unit=tenancy.unit_id, fiscal_year=fy, kind="change",
            effective_from=dt.date(fy, 10, 1), seirei_getsushu=104_000, bracket=1, market_rent=88_000,
            rent_status="normal", rent=23_456, state="approved", decided_on=dt.date(fy - 1, 12, 20),
            masters_used="{}", explanation="[]",
        )  # fmt: skip
        RentReduction.create(
            household=household_id, reason="income_drop", amount=5_000, start_date=dt.date(fy, 4, 1),
            end_date=dt.date(fy + 1, 3, 31), status="approved",
        )  # fmt: skip
        Certification.create(
            household=household_id, fiscal_year=fy, kind="over_income", seirei_getsushu=200_000
        )
        Notice.create(
            kind="rent_decision", household=household_id, person=head, fiscal_year=fy,
            document_no=f"家決-{household_id}", issued_on=dt.date(fy, 1, 10), issued_by=user.id,
        )  # fmt: skip
        Inquiry.create(
            household=household_id, channel="phone", received_at=dt.datetime(fy, 2, 1, 1, 0),
            subject="家賃の口座変更について", content="口座を変更したい。", recorded_by=user.id,
        )  # fmt: skip
        HouseholdEvent.create(
            household=household_id, kind="contact_change", event_date=dt.date(fy, 2, 2), recorded_by=user.id
        )
        ArrearsAction.create(
            household=household_id,
            kind="phone",
            action_date=dt.date(fy, 2, 3),
            note="納付相談の約束",
            staff=user.id,
        )


def page_of(client, household_id: int) -> str:
    response = client.get(f"/staff/household/{household_id}")
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


# --- what the page shows ---------------------------------------------------------------------------


def test_staff_sees_every_betten1_item(app, staff_client):
    hid = full_household(app)
    enrich(app, hid, staff_client.user)
    text = page_of(staff_client, hid)
    missing = [f"{group}: {item}" for group, items in BETTEN1.items() for item in items if item not in text]
    assert missing == []
    # Every section, in the table of contents and as a heading.
    for anchor, name in household_file.SECTIONS:
        assert f'href="#{anchor}"' in text
        assert f'id="{anchor}-heading">{name}</h2>' in text


def test_values_are_shown_in_japanese_formats(app, staff_client):
    hid = full_household(app)
    enrich(app, hid, staff_client.user)
    text = page_of(staff_client, hid)
    with opened(app):
        household = Household.get_by_id(hid)
        members = list(Person.select().where(Person.household == hid))
        charge = Charge.select().where(Charge.household == hid).order_by(Charge.period.desc()).first()
        file = household_file.load(household, keyring=keyring_for(app.config))
    for person in members:
        assert person.name_kana in text
    assert wareki.to_wareki(household.first_move_in_date) in text
    assert f"({household.first_move_in_date.isoformat()})" in text  # 西暦 beside 和暦
    assert f"¥{charge.amount:,}" in text
    assert file.totals[0].unpaid > 0
    assert f'data-testid="unpaid-total">¥{file.grand_total.unpaid:,}<' in text
    assert "¥23,456" in text  # the rent decision in force is the 住宅使用料
    assert "家賃の口座変更について" in text and f"家決-{hid}" in text and "納付相談の約束" in text


def test_balance_per_charge_and_totals(app, database):
    hid = full_household(app)
    household = Household.get_by_id(hid)
    file = household_file.load(household, keyring=keyring_for(app.config))
    for total in file.totals:
        for row in total.rows:
            charge = row.charge
            paid = sum(p.amount for p in charge.payments if not p.reversed)
            if not charge.cancelled:
                assert row.unpaid == max(charge.amount - charge.reduction_amount - paid, 0)
        live = [r for r in total.rows if not r.charge.cancelled]
        assert total.unpaid == sum(r.unpaid for r in live)
        assert total.amount == sum(r.charge.amount for r in live)
    assert file.grand_total.unpaid == sum(t.unpaid for t in file.totals)
    assert [t.kind for t in file.totals] == ["rent", "parking", "damages"]


def test_reversed_payments_do_not_count(app, database, staff_client):
    household = make_household()
    make_tenancy(household)
    make_person(household)
    charge = Charge.create(
        household=household, kind="rent", period=dt.date(2024, 4, 1), source_key="rent",
        amount=30_000, reduction_amount=2_000, due_date=dt.date(2024, 4, 30),
    )  # fmt: skip
    for amount, reversed_ in ((10_000, False), (18_000, True)):
        Payment.create(
            charge=charge, amount=amount, receipt_date=dt.date(2024, 4, 20), posted_date=dt.date(2024, 4, 22),
            method="counter", reversed=reversed_,
        )  # fmt: skip
    file = household_file.load(household, keyring=keyring_for(app.config), today=dt.date(2024, 8, 1))
    row = file.totals[0].rows[0]
    assert (row.paid, row.unpaid, row.overdue) == (10_000, 18_000, True)
    assert file.arrears_months == 1
    assert [f.code for f in file.flags] == ["no_contact", "arrears"]


def test_flags_for_missing_contacts_and_expired_inspection(app, database):
    hid = full_household(app)
    household = Household.get_by_id(hid)
    vehicle = Vehicle.select().join(ParkingContract).where(ParkingContract.household == hid).first()
    today = vehicle.inspection_expiry + dt.timedelta(days=1)
    file = household_file.load(household, keyring=keyring_for(app.config), today=today)
    if vehicle.valid_to is None and vehicle.contract.status == "active":
        assert ("inspection_expired", vehicle.registration_no) in [(f.code, f.detail) for f in file.flags]
    Guarantor.update(dismissed_on=dt.date(2000, 1, 1), appointed_on=dt.date(2000, 1, 1)).where(
        Guarantor.household == hid
    ).execute()
    file = household_file.load(household, keyring=keyring_for(app.config), today=today)
    assert "no_contact" in [f.code for f in file.flags]


def test_current_and_former_members_and_age(app, database):
    household = make_household()
    make_tenancy(household)
    make_person(household, birth_date=dt.date(1960, 5, 5))
    make_person(
        household, name="川崎 次郎", name_kana="カワサキ ジロウ", kana_key="カワサキジロウ", relation="child",
        is_head=False, birth_date=dt.date(1990, 1, 1), member_to=dt.date(2020, 3, 31), leave_reason="moved_out",
    )  # fmt: skip
    file = household_file.load(household, keyring=keyring_for(app.config), today=dt.date(2025, 5, 4))
    assert [m.person.name for m in file.members] == ["川崎 太郎"]
    assert file.members[0].age == 64
    assert [m.person.name for m in file.former_members] == ["川崎 次郎"]


# --- My Number and bank accounts ------------------------------------------------------------------


def test_my_number_only_masked_with_a_link_to_reveal(app, staff_client):
    hid = full_household(app)
    text = page_of(staff_client, hid)
    keyring = keyring_for(app.config)
    with opened(app):
        rows = list(PersonalNumber.select().join(Person).where(Person.household == hid))
        assert rows
        for row in rows:
            number = mynumber.decrypt_row(row, keyring)
            assert number not in text
            assert "********" + number[-4:] in text
            assert f"/staff/persons/{row.person_id}/my-number" in text


def test_account_numbers_show_only_the_last_three_digits(app, staff_client):
    hid = full_household(app)
    text = page_of(staff_client, hid)
    with opened(app):
        for transfer in BankTransfer.select().where(BankTransfer.household == hid):
            assert transfer.account_number not in text
            assert "****" + transfer.account_number[-3:] in text


# --- access and audit ------------------------------------------------------------------------------


@pytest.mark.parametrize("role_client", ["contractor_client", "auditor_client", "sysadmin_client"])
def test_other_roles_are_refused(app, request, role_client):
    client = request.getfixturevalue(role_client)
    assert client.get(f"/staff/household/{full_household(app)}").status_code == 403


def test_unknown_household_is_404(staff_client):
    assert staff_client.get("/staff/household/999999").status_code == 404


def test_unassigned_support_household_is_404_and_assigned_staff_sees_it(app, make_user, login, staff_client):
    hid = full_household(app)
    with opened(app):
        Household.update(support_measure=True).where(Household.id == hid).execute()
    assert staff_client.get(f"/staff/household/{hid}").status_code == 404
    assigned = app.test_client()
    assigned.user = make_user("staff")
    login(assigned, assigned.user)
    with opened(app):
        make_assignment(Household.get_by_id(hid), assigned.user)
    assert "支援措置対象の世帯です" in page_of(assigned, hid)


def test_view_is_audited_and_listed_in_the_history(app, staff_client):
    hid = full_household(app)
    page_of(staff_client, hid)
    with opened(app):
        entry = (
            AuditEntry.select()
            .where((AuditEntry.action == "household.view") & (AuditEntry.actor_id == staff_client.user.id))
            .order_by(AuditEntry.id.desc())
            .first()
        )
        assert (entry.target_table, json.loads(entry.target_ids), entry.outcome) == (
            "household",
            [hid],
            "allowed",
        )
        assert json.loads(entry.fields) == household_file.SECTION_NAMES
    text = page_of(staff_client, hid)  # the second view lists the first one
    assert staff_client.user.login_id in text and "household.view" in text


def test_read_budget_exceeded_is_429(app, staff_client):
    app.config["READ_BUDGET_PER_HOUR"] = 0
    assert staff_client.get(f"/staff/household/{full_household(app)}").status_code == 429


# --- queries -------------------------------------------------------------------------------------------


@contextmanager
def counting_queries():
    """Count the SQL statements the database runs (every peewee query goes through execute_sql)."""
    database = db.obj
    original = database.execute_sql
    statements: list[str] = []

    def counted(sql, params=None, *args, **kwargs):
        statements.append(sql)
        return original(sql, params, *args, **kwargs)

    database.execute_sql = counted
    try:
        yield statements
    finally:
        del database.execute_sql


def households_by_size(app) -> tuple[int, int]:
    """A demo household of one member and one of six or more members with more charges."""
    with opened(app):
        members = fn.COUNT(Person.id)
        sizes = (
            Person.select(Person.household, members.alias("n"))
            .join(Household)
            .where(~Household.support_measure)
            .group_by(Person.household)
        )
        small = next(r.household_id for r in sizes.having(members == 1).order_by(Person.household))
        large = next(r.household_id for r in sizes.having(members >= 6).order_by(members.desc()))
        assert count_of(Charge, large).scalar() > count_of(Charge, small).scalar()
    return small, large


def test_page_runs_a_fixed_number_of_queries(app, staff_client):
    small, large = households_by_size(app)
    for hid in (small, large):
        enrich(app, hid, staff_client.user)
    # Payments and vehicles on the large household too, so that every per-row path is exercised.
    page_of(staff_client, small)  # warm-up: the first request loads the session and caches
    page_of(staff_client, large)
    counts = {}
    for hid in (small, large):
        with counting_queries() as statements:
            page_of(staff_client, hid)
        counts[hid] = len(statements)
    assert counts[small] == counts[large], counts
    assert counts[small] <= 36, counts  # 23 for the file, the rest is the session, policy and audit


def test_service_runs_a_fixed_number_of_queries(app, database):
    small, large = households_by_size(app)
    keyring = keyring_for(app.config)
    counts = []
    for hid in (small, large):
        household = Household.get_by_id(hid)
        with counting_queries() as statements:
            household_file.load(household, keyring=keyring)
        counts.append(len(statements))
    assert counts[0] == counts[1] == SERVICE_QUERIES, counts


SERVICE_QUERIES = 23  # one per list: tenancies, members, welfare, My Numbers, guarantors, …, changes
