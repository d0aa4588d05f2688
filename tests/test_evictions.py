"""明渡請求: the deadline the law allows, the officer's approval (four eyes), the 明渡請求書, extension,
明渡, and the 損害賠償金 charged after the deadline."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from models import (
    Certification,
    Charge,
    DamageClaim,
    EvictionRequest,
    Household,
    Notice,
    NoticeRun,
    RentDecision,
    Tenancy,
    UnitYearFigure,
)
from rules.damages import DamagesMasters, monthly_damages
from rules.filters import today_tokyo
from rules.wareki import to_wareki
from services import charges, editing, evictions, jobs
from tests.conftest import csrf_token_of
from tests.factories import make_account, make_household, make_person, make_tenancy, make_unit

TODAY = dt.date(2026, 11, 27)
REQUESTED = dt.date(2026, 1, 15)  # the request date of the examples: approved that day
MARKET = 80_000


def make_high_income_household(market_rent: int = MARKET, name: str = "高橋 一郎") -> Household:
    household = make_household(high_income=True)
    make_person(household, name=name)
    unit = make_unit()
    make_tenancy(household, unit, move_in_date=dt.date(2010, 4, 1))
    for year in range(2025, 2031):
        UnitYearFigure.create(
            unit=unit, fiscal_year=year, convenience_coefficient="1.000", market_rent=market_rent
        )
    Certification.create(
        household=household,
        fiscal_year=2026,
        kind="high_income",
        seirei_getsushu=340_000,
        state="certified",
        certified_on=dt.date(2025, 12, 1),
    )
    return household


@pytest.fixture
def people(app, database):
    """Accounts acting, inside a request context (the messages are translated lazily)."""
    with app.test_request_context():
        yield {
            "staff": make_account("staff"),
            "officer": make_account("officer"),
            "other_officer": make_account("officer"),
        }


def prepared(household, people, **kw) -> EvictionRequest:
    return evictions.prepare(
        household.id,
        ground="high_income",
        requested_on=kw.pop("requested_on", dt.date(2026, 1, 15)),
        today=TODAY,
        actor=kw.pop("actor", people["staff"]),
        **kw,
    )


# --- the deadline ------------------------------------------------------------------------------------------


def test_the_deadline_defaults_to_the_earliest_the_law_allows(database, people):
    request = prepared(make_high_income_household(), people)
    assert request.deadline == dt.date(2026, 7, 16)
    assert request.market_rent_multiplier == Decimal("2.00")  # the master's limit by default
    assert request.approved_by_id is None and request.prepared_by_id == people["staff"].id


def test_a_deadline_before_the_earliest_is_refused_with_the_date_it_may_be(database, people):
    household = make_high_income_household()
    with pytest.raises(editing.RuleViolation) as refused:
        prepared(household, people, deadline=dt.date(2026, 7, 15))
    assert refused.value.field == "deadline"
    assert "令和8年7月16日" in str(refused.value.message)
    assert EvictionRequest.select().count() == 0
    assert prepared(household, people, deadline=dt.date(2026, 7, 16)).deadline == dt.date(2026, 7, 16)


def test_a_multiplier_above_the_masters_limit_is_refused(database, people):
    with pytest.raises(editing.RuleViolation) as refused:
        prepared(make_high_income_household(), people, multiplier=Decimal("2.5"))
    assert refused.value.field == "multiplier"


def test_the_ground_must_hold(people):
    household = make_household()
    make_person(household)
    make_tenancy(household)
    with pytest.raises(editing.RuleViolation, match="高額所得者として認定されていません"):
        evictions.prepare(household.id, ground="high_income", requested_on=TODAY, today=TODAY)
    with pytest.raises(editing.RuleViolation, match="滞納は0か月分"):
        evictions.prepare(household.id, ground="arrears", requested_on=TODAY, today=TODAY)


def test_one_open_request_per_household(database, people):
    household = make_high_income_household()
    prepared(household, people)
    with pytest.raises(editing.RuleViolation, match="すでに手続中"):
        prepared(household, people)


# --- approval and the notice ---------------------------------------------------------------------------------


def test_an_officer_approves_but_never_their_own_and_the_notice_is_issued(database, people):
    household = make_high_income_household()
    own = prepared(household, people, actor=people["officer"])
    with pytest.raises(editing.RuleViolation, match="自分が起案した"):
        evictions.approve(own.id, actor=people["officer"], today=REQUESTED)
    assert EvictionRequest.get_by_id(own.id).approved_by_id is None

    job = evictions.approve(own.id, actor=people["other_officer"], today=REQUESTED)
    approved = EvictionRequest.get_by_id(own.id)
    assert approved.approved_by_id == people["other_officer"].id and approved.approved_at is not None
    with pytest.raises(editing.RuleViolation, match="すでに承認"):
        evictions.approve(own.id, actor=people["other_officer"], today=REQUESTED)

    assert jobs.run_pending() == 1
    notice = Notice.get(Notice.subject_table == "eviction_request", Notice.subject_id == own.id)
    assert notice.kind == "eviction" and notice.household_id == household.id
    assert NoticeRun.get_by_id(notice.run_id).pages == 1
    assert job.id


def test_a_request_date_already_past_cannot_be_approved(people):
    request = prepared(make_high_income_household(), people)
    with pytest.raises(editing.RuleViolation, match="請求日（令和8年1月15日）を過ぎている"):
        evictions.approve(request.id, actor=people["officer"], today=dt.date(2026, 1, 16))
    assert EvictionRequest.get_by_id(request.id).approved_by_id is None


def test_one_run_has_a_page_per_household(database, people):
    first = prepared(make_high_income_household(name="高橋 一郎"), people)
    second = prepared(make_high_income_household(name="田中 花子"), people)
    for request in (first, second):
        EvictionRequest.update(approved_by=people["officer"]).where(
            EvictionRequest.id == request.id
        ).execute()
    evictions.issue_notices([first.id, second.id], actor=people["officer"])
    jobs.run_pending()
    run = NoticeRun.select().order_by(NoticeRun.id.desc()).get()
    assert run.kind == "eviction" and run.pages == 2
    assert {n.household_id for n in run.notices} == {first.household_id, second.household_id}


def test_the_notice_states_the_law_the_deadline_in_wareki_and_the_damages(database, people):
    request = prepared(make_high_income_household(), people)
    page = evictions.notice_page(request)
    text = "\n".join(page.texts())
    assert page.title == "明渡請求書" and page.kind == "eviction"
    assert "公営住宅法第29条第1項" in text and "第3項" in text
    assert "令和8年7月16日" in text
    assert "公営住宅法第29条第6項" in text and "2倍" in text and "月額160,000円" in text


# --- extension ----------------------------------------------------------------------------------------------


def test_an_extension_is_asked_for_then_decided_by_an_officer(database, people):
    request = prepared(make_high_income_household(), people)
    with pytest.raises(editing.RuleViolation, match="請求中の明渡請求"):  # not approved yet
        evictions.request_extension(
            request.id,
            requested_on=dt.date(2026, 6, 1),
            until=dt.date(2026, 9, 30),
            reason="病気",
            actor=people["staff"],
        )
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    with pytest.raises(editing.RuleViolation) as refused:
        evictions.request_extension(
            request.id,
            requested_on=dt.date(2026, 6, 1),
            until=dt.date(2026, 7, 16),
            reason="病気",
            actor=people["staff"],
        )
    assert refused.value.field == "until"
    evictions.request_extension(
        request.id,
        requested_on=dt.date(2026, 6, 1),
        until=dt.date(2026, 9, 30),
        reason="病気療養のため",
        actor=people["staff"],
    )
    assert EvictionRequest.get_by_id(request.id).deadline == dt.date(2026, 7, 16)  # nothing granted yet
    evictions.decide_extension(request.id, grant=True, actor=people["officer"], today=TODAY)
    extended = EvictionRequest.get_by_id(request.id)
    assert extended.status == "extended" and extended.extended_until == dt.date(2026, 9, 30)
    assert extended.effective_deadline == dt.date(2026, 9, 30) and extended.extension_requested_until is None
    assert "延長承認" in extended.note


def test_a_refused_extension_leaves_the_deadline(database, people):
    request = prepared(make_high_income_household(), people)
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    evictions.request_extension(
        request.id,
        requested_on=dt.date(2026, 6, 1),
        until=dt.date(2026, 9, 30),
        reason="転居先未定",
        actor=people["staff"],
    )
    with pytest.raises(editing.RuleViolation, match="認めない理由"):
        evictions.decide_extension(request.id, grant=False, actor=people["officer"])
    evictions.decide_extension(
        request.id, grant=False, note="理由に当たらない", actor=people["officer"], today=TODAY
    )
    refused = EvictionRequest.get_by_id(request.id)
    assert refused.status == "requested" and refused.extended_until is None and "延長不承認" in refused.note


# --- damages ------------------------------------------------------------------------------------------------


def test_the_damages_rule_prorates_a_partial_month():
    # 2 × 80,000 = 160,000 a month; 17-31 July is 15 of 31 days: 160,000 × 15 ÷ 31 = 77,419.35 → 77,419
    rules = DamagesMasters(Decimal("2"), ((dt.date(2020, 4, 1), Decimal("0.03")),))
    result = monthly_damages(dt.date(2026, 7, 17), dt.date(2026, 7, 31), 80_000, rules, Decimal("2.00"))
    assert result.principal == 77_419
    half = monthly_damages(dt.date(2026, 9, 1), dt.date(2026, 9, 30), 80_001, rules, Decimal("1.5"))
    assert half.principal == 120_001  # floor(1.5 × 80,001) for a whole month
    with pytest.raises(ValueError):
        monthly_damages(dt.date(2026, 7, 1), dt.date(2026, 7, 31), 80_000, rules, Decimal("2.01"))


def _damages(household) -> list[tuple[dt.date, int]]:
    return [
        (c.period, c.amount)
        for c in Charge.select()
        .where((Charge.household == household.id) & (Charge.kind == "damages"))
        .order_by(Charge.period)
    ]


def test_damages_are_charged_once_a_month_from_the_day_after_the_deadline_until_vacated(database, people):
    household = make_high_income_household()
    request = prepared(household, people)
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)

    assert evictions.post_damages(dt.date(2026, 6, 1), actor=people["staff"]) == []  # before the deadline
    evictions.post_damages(dt.date(2026, 7, 1), actor=people["staff"])
    assert _damages(household) == [(dt.date(2026, 7, 1), 77_419)]
    again = evictions.post_damages(dt.date(2026, 7, 1), actor=people["staff"])
    assert [line.charge for line in again] == [None]  # idempotent
    assert _damages(household) == [(dt.date(2026, 7, 1), 77_419)]

    evictions.post_damages(dt.date(2026, 8, 1), actor=people["staff"])
    assert _damages(household)[-1] == (dt.date(2026, 8, 1), 160_000)
    claim = DamageClaim.get_by_id(EvictionRequest.get_by_id(request.id).damage_claim_id)
    assert claim.ground == "overstay" and claim.from_date == dt.date(2026, 7, 17)
    assert {c.source_key for c in Charge.select().where(Charge.kind == "damages")} == {f"damages:{claim.id}"}

    evictions.vacate(request.id, vacated_on=dt.date(2026, 9, 10), actor=people["staff"], today=TODAY)
    assert not Household.get_by_id(household.id).high_income  # cleared once vacated
    evictions.post_damages(dt.date(2026, 10, 1), actor=people["staff"])  # catches up September, nothing after
    assert _damages(household) == [
        (dt.date(2026, 7, 1), 77_419),
        (dt.date(2026, 8, 1), 160_000),
        (dt.date(2026, 9, 1), 53_333),  # 160,000 × 10 ÷ 30
    ]
    assert DamageClaim.get_by_id(claim.id).to_date == dt.date(2026, 9, 10)


def test_damages_start_after_the_extended_deadline(database, people):
    household = make_high_income_household()
    request = prepared(household, people)
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    evictions.request_extension(
        request.id,
        requested_on=dt.date(2026, 6, 1),
        until=dt.date(2026, 8, 15),
        reason="入院",
        actor=people["staff"],
    )
    evictions.decide_extension(request.id, grant=True, actor=people["officer"], today=TODAY)
    evictions.post_damages(dt.date(2026, 8, 1), actor=people["staff"])
    assert _damages(household) == [(dt.date(2026, 8, 1), 160_000 * 16 // 31)]


def test_an_unapproved_or_withdrawn_request_charges_nothing(database, people):
    household = make_high_income_household()
    request = prepared(household, people)
    evictions.post_damages(dt.date(2026, 9, 1), actor=people["staff"])
    assert _damages(household) == []
    evictions.withdraw(request.id, reason="収入が基準以下に", actor=people["officer"], today=TODAY)
    assert not Household.get_by_id(household.id).high_income
    evictions.post_damages(dt.date(2026, 9, 1), actor=people["staff"])
    assert _damages(household) == []


def _rent_in_force(household, rent_status="high_income") -> RentDecision:
    tenancy = Tenancy.get(Tenancy.household == household.id)
    return RentDecision.create(
        household=household,
        tenancy=tenancy,
        unit=tenancy.unit_id,
        fiscal_year=2025,
        kind="annual",
        effective_from=dt.date(2025, 4, 1),
        market_rent=MARKET,
        rent_status=rent_status,
        rent=MARKET,
        state="approved",
        masters_used="{}",
        explanation="",
    )


def _rent(household) -> list[tuple[dt.date, int]]:
    return [
        (c.period, c.amount)
        for c in Charge.select()
        .where((Charge.household == household.id) & (Charge.kind == "rent"))
        .order_by(Charge.period)
    ]


@pytest.mark.parametrize("damages_first", [False, True])
def test_after_the_deadline_the_damages_replace_the_rent_whichever_runs_first(
    database, people, damages_first
):
    household = make_high_income_household()
    _rent_in_force(household)
    request = prepared(household, people)  # deadline 2026-07-16
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)

    def rent_run():
        for month in (6, 7, 8):
            charges.charge_month(dt.date(2026, month, 1))

    if damages_first:
        evictions.post_damages(dt.date(2026, 8, 1), actor=people["staff"])
        rent_run()
    else:
        rent_run()
        evictions.post_damages(dt.date(2026, 8, 1), actor=people["staff"])
    assert _rent(household) == [
        (dt.date(2026, 6, 1), 80_000),
        (dt.date(2026, 7, 1), 80_000 * 16 // 31),  # 1-16 July
    ]
    assert _damages(household) == [
        (dt.date(2026, 7, 1), 160_000 * 15 // 31),  # 17-31 July
        (dt.date(2026, 8, 1), 160_000),
    ]
    skipped = dict(charges.charge_month(dt.date(2026, 9, 1), dry_run=True).skipped)
    assert "損害賠償金" in str(skipped[household.household_no])
    evictions.vacate(request.id, vacated_on=dt.date(2026, 9, 10), actor=people["staff"], today=TODAY)
    charges.charge_month(dt.date(2026, 9, 1))
    evictions.post_damages(dt.date(2026, 9, 1), actor=people["staff"])
    assert _rent(household)[-1][0] == dt.date(2026, 7, 1)  # no rent for the days the damages cover
    assert _damages(household)[-1] == (dt.date(2026, 9, 1), 160_000 * 10 // 30)


def test_a_full_rent_charge_after_the_deadline_is_reported_not_doubled(database, people):
    household = make_high_income_household()
    _rent_in_force(household)
    request = prepared(household, people)
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    full = Charge.create(
        household=household,
        kind="rent",
        period=dt.date(2026, 8, 1),
        source_key="rent",
        amount=80_000,
        due_date=dt.date(2026, 8, 31),
    )
    lines = evictions.post_damages(dt.date(2026, 8, 1), actor=people["staff"])
    assert _damages(household) == [(dt.date(2026, 7, 1), 77_419)]  # August is not charged twice
    august = [line for line in lines if line.period == dt.date(2026, 8, 1)][0]
    assert august.charge is None and august.rent_to_correct.id == full.id
    assert "訂正" in august.problem


def test_only_a_certification_of_the_current_year_or_the_rent_in_force_is_a_ground(database, people):
    household = make_household(high_income=True)
    make_person(household)
    make_tenancy(household)
    Certification.create(
        household=household,
        fiscal_year=2023,
        kind="high_income",
        seirei_getsushu=340_000,
        state="certified",
        certified_on=dt.date(2022, 12, 1),
    )
    with pytest.raises(editing.RuleViolation, match="高額所得者として認定されていません"):
        evictions.prepare(household.id, ground="high_income", requested_on=REQUESTED, today=REQUESTED)
    decision = _rent_in_force(household, rent_status="normal")
    with pytest.raises(editing.RuleViolation, match="高額所得者として認定されていません"):
        evictions.prepare(household.id, ground="high_income", requested_on=REQUESTED, today=REQUESTED)
    RentDecision.update(rent_status="high_income").where(RentDecision.id == decision.id).execute()
    request = evictions.prepare(household.id, ground="high_income", requested_on=REQUESTED, today=REQUESTED)
    assert request.ground == "high_income"


def test_other_grounds_have_no_six_month_minimum_and_no_monthly_damages(database, people):
    household = make_high_income_household()
    _rent_in_force(household)
    kw = {"ground": "fraud", "requested_on": REQUESTED, "note": "収入を偽って入居", "today": REQUESTED}
    with pytest.raises(editing.RuleViolation) as refused:
        evictions.prepare(household.id, deadline=REQUESTED, actor=people["staff"], **kw)
    assert refused.value.field == "deadline"
    request = evictions.prepare(
        household.id, deadline=dt.date(2026, 2, 28), actor=people["staff"], **kw
    )  # six weeks: no 法29条3項 minimum for 不正入居
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    assert evictions.post_damages(dt.date(2026, 4, 1), actor=people["staff"]) == []
    assert _damages(household) == []
    charges.charge_month(dt.date(2026, 4, 1))
    assert _rent(household) == [(dt.date(2026, 4, 1), 80_000)]  # the rent goes on until vacated


# --- the screens --------------------------------------------------------------------------------------------


def _form(client, url: str, data: dict):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data})


def test_staff_prepare_and_an_officer_approves_on_the_screens(app, staff_client, officer_client):
    with app.app_context():
        household = make_high_income_household()
        today = today_tokyo()
        earliest = evictions.earliest_deadline(today)
    url = f"/staff/evictions/new/{household.id}"
    page = staff_client.get(url)
    assert page.status_code == 200 and to_wareki(earliest) in page.get_data(as_text=True)
    early = _form(
        staff_client,
        url,
        {
            "eviction_ground": "high_income",
            "eviction_requested_on": today.isoformat(),
            "eviction_deadline": (earliest - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert early.status_code == 422
    assert f"（{to_wareki(earliest)}）以降にしてください" in early.get_data(as_text=True)
    saved = _form(
        staff_client, url, {"eviction_ground": "high_income", "eviction_requested_on": today.isoformat()}
    )
    assert saved.status_code == 303
    request_id = int(re.search(r"/staff/evictions/(\d+)", saved.headers["Location"]).group(1))

    assert _form(staff_client, f"/staff/evictions/{request_id}/approve", {}).status_code == 403
    approved = _form(officer_client, f"/staff/evictions/{request_id}/approve", {})
    assert approved.status_code == 303
    with app.app_context():
        record = EvictionRequest.get_by_id(request_id)
        assert record.approved_by_id == officer_client.user.id and record.deadline == earliest

    tracking = staff_client.get("/staff/evictions/")
    text = tracking.get_data(as_text=True)
    assert tracking.status_code == 200 and household.household_no in text
    assert f"あと{(earliest - today).days}日" in text
    listing = staff_client.get("/staff/certifications/2026?kind=high_income")
    assert listing.status_code == 200 and household.household_no in listing.get_data(as_text=True)
    assert household.household_no not in staff_client.get(
        "/staff/certifications/2026?kind=over_income"
    ).get_data(as_text=True)
    file = staff_client.get(f"/staff/household/{household.id}")
    assert f"/staff/evictions/{request_id}" in file.get_data(as_text=True)


def _every_route(app, ids: int = 1):
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff.certifications."):
            continue
        url = rule.rule
        for argument in rule.arguments:
            url = url.replace(f"<int:{argument}>", str(ids))
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            yield method, url


def test_the_page_of_a_fraud_request_says_its_damages_are_claimed_separately(app, staff_client):
    with app.app_context(), app.test_request_context():
        household = make_high_income_household()
        fraud = evictions.prepare(
            household.id,
            ground="fraud",
            requested_on=today_tokyo(),
            deadline=today_tokyo() + dt.timedelta(days=30),
            note="収入を偽って入居",
            actor=staff_client.user,
        )
    shown = staff_client.get(f"/staff/evictions/{fraud.id}").get_data(as_text=True)
    assert "別途請求" in shown and "損害金倍率" not in shown


def test_contractors_and_auditors_are_refused_every_route(app, contractor_client, auditor_client):
    routes = list(_every_route(app))
    assert len(routes) >= 17
    for client in (contractor_client, auditor_client):
        token = csrf_token_of(client)
        for method, url in routes:
            data = {"csrf_token": token}
            response = client.get(url) if method == "GET" else client.post(url, data=data)
            assert response.status_code == 403, (client.user.role, method, url, response.status_code)


def test_the_tracking_screens_record_an_extension_the_vacating_and_the_damages(
    app, staff_client, officer_client
):
    with app.app_context(), app.test_request_context():
        household = make_high_income_household()
        today = today_tokyo()
        request = evictions.prepare(
            household.id, ground="high_income", requested_on=today, actor=staff_client.user
        )
    page = f"/staff/evictions/{request.id}"
    assert "承認待ち" in staff_client.get(page).get_data(as_text=True)
    approved = _form(officer_client, f"{page}/approve", {})
    assert approved.status_code == 303 and approved.headers["Location"].startswith("/staff/jobs/")
    with app.app_context():
        jobs.run_pending()
    shown = officer_client.get(page).get_data(as_text=True)
    assert "明請" in shown and "/staff/notices/" in shown  # the document number and its PDF

    deadline = request.deadline
    until = deadline + dt.timedelta(days=45)
    wrong = _form(
        staff_client,
        f"{page}/extension",
        {"extension_requested_on": today.isoformat(), "extension_until": deadline.isoformat()},
    )
    assert wrong.status_code == 422
    asked = _form(
        staff_client,
        f"{page}/extension",
        {
            "extension_requested_on": today.isoformat(),
            "extension_until": until.isoformat(),
            "extension_reason": "病気療養のため",
        },
    )
    assert asked.status_code == 303
    assert _form(staff_client, f"{page}/extension/decide", {"decision_decision": "grant"}).status_code == 403
    assert (
        _form(officer_client, f"{page}/extension/decide", {"decision_decision": "grant"}).status_code == 303
    )

    first_day = until + dt.timedelta(days=1)
    charged = _form(staff_client, "/staff/evictions/damages", {"damages_month": first_day.isoformat()})
    assert charged.status_code == 303
    with app.app_context():
        assert [period for period, _ in _damages(household)] == [first_day.replace(day=1)]

    future = _form(staff_client, f"{page}/vacate", {"vacate_vacated_on": "2099-01-01"})
    assert future.status_code == 422 and "未来の日" in future.get_data(as_text=True)
    vacated = _form(staff_client, f"{page}/vacate", {"vacate_vacated_on": today.isoformat()})
    assert vacated.status_code == 303
    assert "調定済みの損害賠償金が1件" in staff_client.get(page).get_data(as_text=True)  # to correct in 調定
    with app.app_context():
        record = EvictionRequest.get_by_id(request.id)
        assert (record.status, record.vacated_on) == ("vacated", today)
    assert staff_client.get("/staff/evictions/?all=1").status_code == 200
    assert staff_client.get("/staff/evictions/999999").status_code == 404


def test_the_damages_command_is_idempotent(app, runner, people):
    household = make_high_income_household()
    request = prepared(household, people)
    evictions.approve(request.id, actor=people["officer"], today=REQUESTED)
    first = runner.invoke(args=["evictions", "damages", "--month", "2026-08"])
    assert first.exit_code == 0 and "2 件" in first.output
    second = runner.invoke(args=["evictions", "damages", "--month", "2026-08"])
    assert second.exit_code == 0 and "0 件" in second.output
    assert _damages(household) == [(dt.date(2026, 7, 1), 77_419), (dt.date(2026, 8, 1), 160_000)]
    assert runner.invoke(args=["evictions", "damages", "--month", "2026-13"]).exit_code == 2


def test_damages_posting_on_each_engine(engine_db):
    """The deadline in force is COALESCE(extended_until, deadline) in SQL: the same on both engines."""
    staff, officer = make_account("staff"), make_account("officer")
    household = make_high_income_household()
    request = evictions.prepare(
        household.id, ground="high_income", requested_on=REQUESTED, actor=staff, today=REQUESTED
    )
    evictions.approve(request.id, actor=officer, today=REQUESTED)
    for _ in range(2):
        evictions.post_damages(dt.date(2026, 8, 1), actor=staff)
    assert _damages(household) == [(dt.date(2026, 7, 1), 77_419), (dt.date(2026, 8, 1), 160_000)]
