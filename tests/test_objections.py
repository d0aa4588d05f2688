"""意見申出 and 更正: the 30-day period, the re-decision with the masters of the decision's year, four eyes,
the superseded decision kept, the notice issued, and the months already charged that differ."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from models import (
    Certification,
    Charge,
    Household,
    IncomeDeclaration,
    MasterParameter,
    Notice,
    NoticeRun,
    RentDecision,
    RentReview,
    UnitYearFigure,
)
from services import editing, evictions, jobs, masters, objections, rent_decisions
from tests.conftest import csrf_token_of
from tests.factories import make_account, make_building, make_household, make_person, make_tenancy, make_unit

TODAY = dt.date(2026, 11, 27)
DECIDED = dt.date(2026, 3, 10)  # the 家賃決定通知書 of 令和8年度 went out that day: objections until 4 April


def make_decided_household(seirei: int = 125_833):
    """A household with the 令和8年度 rent decided (approved) from its 令和7年度 declaration."""
    household = make_household(first_move_in_date=dt.date(2010, 4, 1))
    make_person(household)
    unit = make_unit(make_building(year_built=2006))
    make_tenancy(household, unit, move_in_date=dt.date(2010, 4, 1))
    UnitYearFigure.create(unit=unit, fiscal_year=2026, convenience_coefficient="1.000", market_rent=90_000)
    IncomeDeclaration.create(
        household=household, fiscal_year=2025, income_year=2024, status="submitted", seirei_getsushu=seirei
    )
    computation = rent_decisions.compute(household, 2026)
    decision = rent_decisions.write_decision(
        household,
        computation,
        "annual",
        state="approved",
        decided_on=DECIDED,
        objection_deadline=DECIDED + dt.timedelta(days=30),
    )
    return household, decision


@pytest.fixture
def people(app, database):
    with app.test_request_context():
        yield {
            "staff": make_account("staff"),
            "officer": make_account("officer"),
            "other_officer": make_account("officer"),
        }


def test_the_fixture_decision_is_the_specs_worked_example(people):
    _, decision = make_decided_household()
    assert (decision.bracket, decision.rent) == (3, 38_600)  # SPEC E1


# --- the period ------------------------------------------------------------------------------------------------


def test_an_objection_within_the_period_is_received(people):
    household, decision = make_decided_household()
    review = objections.receive(
        household.id,
        decision.id,
        received_on=dt.date(2026, 4, 9),  # the 30th day after the notice
        content="収入申告の給与収入が誤っています",
        today=TODAY,
        actor=people["staff"],
    )
    assert review.kind == "objection" and review.status == "received" and review.late_reason is None
    with pytest.raises(editing.RuleViolation, match="決定を待っている"):
        objections.receive(
            household.id,
            decision.id,
            received_on=dt.date(2026, 4, 9),
            content="再度",
            today=TODAY,
            actor=people["staff"],
        )


def test_a_late_objection_is_refused_unless_an_officer_records_why(people):
    household, decision = make_decided_household()
    late = {"received_on": dt.date(2026, 4, 10), "content": "家賃が高すぎます", "today": TODAY}
    with pytest.raises(editing.RuleViolation) as refused:
        objections.receive(household.id, decision.id, actor=people["staff"], **late)
    assert refused.value.field == "received_on" and "令和8年4月9日" in str(refused.value.message)
    with pytest.raises(editing.RuleViolation) as refused:
        objections.receive(household.id, decision.id, actor=people["officer"], **late)
    assert refused.value.field == "late_reason"
    assert RentReview.select().count() == 0
    review = objections.receive(
        household.id,
        decision.id,
        actor=people["officer"],
        late_reason="通知書が転送されず届いていなかった",
        **late,
    )
    assert review.late_reason == "通知書が転送されず届いていなかった"


# --- the re-decision --------------------------------------------------------------------------------------------


def _correct_declaration(household, seirei: int) -> None:
    IncomeDeclaration.update(seirei_getsushu=seirei).where(
        IncomeDeclaration.household == household.id
    ).execute()


def test_uphold_records_the_answer_and_changes_nothing(people):
    household, decision = make_decided_household()
    review = objections.receive(
        household.id,
        decision.id,
        received_on=dt.date(2026, 4, 1),
        content="高い",
        today=TODAY,
        actor=people["staff"],
    )
    with pytest.raises(editing.RuleViolation, match="回答"):
        objections.uphold(review.id, answer="", actor=people["officer"])
    objections.uphold(review.id, answer="算定に誤りはありません", actor=people["officer"])
    assert RentReview.get_by_id(review.id).status == "upheld"
    assert RentDecision.get_by_id(decision.id).state == "approved"
    assert RentDecision.select().count() == 1


def test_the_re_decision_uses_the_masters_of_the_decisions_year_not_a_later_change(people):
    household, decision = make_decided_household()
    review = objections.receive(
        household.id,
        decision.id,
        received_on=dt.date(2026, 4, 1),
        content="収入が違う",
        today=TODAY,
        actor=people["staff"],
    )
    _correct_declaration(household, 110_000)  # the corrected declaration: 区分2, 基礎額 39,700
    before = objections.compare(review)
    # A new 立地係数 from 令和9年度: in force for 2027, never for the 2026 decision being re-decided.
    MasterParameter.create(code="location_coefficient", valid_from=dt.date(2027, 4, 1), value="1.150000")
    assert masters.rent_masters(2027).location_coefficient == Decimal("1.15")
    assert masters.rent_masters(2026).location_coefficient == Decimal("1")
    # had today's masters been used, the figure would differ
    assert rent_decisions.compute(household, 2026, masters=masters.rent_masters(2027)).result.rent != 33_700

    comparison = objections.compare(review)
    assert comparison.new_rent == before.new_rent == 33_700  # 39,700 × 60/65 × 0.922 → 33,700
    assert comparison.masters_used == before.masters_used
    assert "in force on 2026-04-01" in comparison.masters_used["master_parameter"]

    with pytest.raises(editing.RuleViolation, match="自分が受け付けた"):
        objections.redecide(review.id, answer="再計算", actor=people["staff"])
    result = objections.redecide(
        review.id, answer="申告の訂正により再計算", actor=people["officer"], today=TODAY
    )
    new = RentDecision.get_by_id(result.decision.id)
    assert (new.kind, new.state, new.rent, new.fiscal_year) == ("correction", "approved", 33_700, 2026)
    assert new.supersedes_id == decision.id and new.effective_from == decision.effective_from
    assert new.objection_deadline == TODAY + dt.timedelta(days=30)
    assert RentDecision.get_by_id(decision.id).state == "superseded"  # kept, not deleted
    done = RentReview.get_by_id(review.id)
    assert (done.status, done.new_decision_id, done.decided_by_id) == (
        "redecided",
        new.id,
        people["officer"].id,
    )

    assert jobs.run_pending() == 1
    notice = Notice.get((Notice.subject_table == "rent_decision") & (Notice.subject_id == new.id))
    assert notice.kind == "rent_decision" and NoticeRun.get_by_id(notice.run_id).pages == 1


def test_a_correction_of_a_past_year_supersedes_and_lists_the_months_that_differ(people):
    household, decision = make_decided_household()
    for month in (4, 5, 6):
        period = dt.date(2026, month, 1)
        Charge.create(
            household=household, kind="rent", period=period, source_key="rent", amount=38_600, due_date=period
        )
    with pytest.raises(editing.RuleViolation) as refused:
        objections.prepare_correction(
            household.id, 2024, reason="申告の訂正", actor=people["staff"], today=TODAY
        )
    assert refused.value.field == "fiscal_year"
    review = objections.prepare_correction(
        household.id, 2026, reason="収入申告の訂正", actor=people["staff"], today=TODAY
    )
    _correct_declaration(household, 110_000)
    comparison = objections.compare(review)
    assert comparison.changed and comparison.new_rent == 33_700
    assert [(m.period.month, m.difference) for m in comparison.months] == [
        (4, -4_900),
        (5, -4_900),
        (6, -4_900),
    ]
    assert comparison.total_difference == -14_700

    objections.redecide(review.id, answer="訂正後の申告で更正", actor=people["officer"], today=TODAY)
    history = list(
        RentDecision.select().where(RentDecision.household == household.id).order_by(RentDecision.id)
    )
    assert [(d.kind, d.state, d.rent) for d in history] == [
        ("annual", "superseded", 38_600),
        ("correction", "approved", 33_700),
    ]
    # a second correction of the same year now reviews the correction decision
    again = objections.prepare_correction(
        household.id, 2026, reason="再訂正", actor=people["staff"], today=TODAY
    )
    assert again.decision_id == history[1].id


def test_a_re_decision_below_the_limits_withdraws_the_years_certifications_and_clears_the_flags(people):
    household, decision = make_decided_household()
    RentDecision.update(rent_status="high_income", years_over=3).where(
        RentDecision.id == decision.id
    ).execute()
    Household.update(over_income=True, high_income=True).where(Household.id == household.id).execute()
    for kind in ("over_income", "high_income"):
        Certification.create(
            household=household,
            fiscal_year=2026,
            kind=kind,
            seirei_getsushu=340_000,
            years_over=3,
            state="certified",
            certified_on=dt.date(2025, 12, 1),
        )
    earlier = Certification.create(
        household=household, fiscal_year=2025, kind="high_income", seirei_getsushu=340_000, state="certified"
    )
    review = objections.prepare_correction(
        household.id, 2026, reason="収入申告の訂正", actor=people["staff"], today=TODAY
    )
    objections.redecide(review.id, answer="訂正後の申告で更正", actor=people["officer"], today=TODAY)

    states = {
        (c.fiscal_year, c.kind): c.state
        for c in Certification.select().where(Certification.household == household.id)
    }
    assert states == {
        (2026, "over_income"): "withdrawn",
        (2026, "high_income"): "withdrawn",
        (2025, "high_income"): "certified",  # another year's certification is not this decision's
    }
    assert Certification.get_by_id(earlier.id).state == "certified"
    household = Household.get_by_id(household.id)
    assert not household.over_income and not household.high_income
    # the 高額所得者 ground is gone: a 明渡請求 on it is refused
    with pytest.raises(editing.RuleViolation, match="高額所得者として認定されていません"):
        evictions.prepare(household.id, ground="high_income", requested_on=TODAY, today=TODAY)


# --- the screens ----------------------------------------------------------------------------------------------


def _form(client, url: str, data: dict):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data})


def test_the_objection_and_decision_screens(app, staff_client, officer_client):
    with app.app_context(), app.test_request_context():
        household, decision = make_decided_household()
    url = f"/staff/rent-reviews/household/{household.id}/objection"
    assert staff_client.get(url).status_code == 200
    late = _form(
        staff_client,
        url,
        {
            "objection_decision": str(decision.id),
            "objection_received_on": "2026-04-10",
            "objection_content": "高い",
        },
    )
    assert late.status_code == 422 and "意見申出の期間" in late.get_data(as_text=True)
    saved = _form(
        staff_client,
        url,
        {
            "objection_decision": str(decision.id),
            "objection_received_on": "2026-04-09",
            "objection_content": "高い",
        },
    )
    assert saved.status_code == 303
    review_id = int(re.search(r"/staff/rent-reviews/(\d+)", saved.headers["Location"]).group(1))
    page = staff_client.get(f"/staff/rent-reviews/{review_id}")
    assert page.status_code == 200 and "38,600" in page.get_data(as_text=True)

    decide = f"/staff/rent-reviews/{review_id}/decide"
    assert _form(staff_client, decide, {"review_decision": "uphold", "review_answer": "x"}).status_code == 403
    empty = _form(officer_client, decide, {"review_decision": "uphold"})
    assert empty.status_code == 422
    upheld = _form(officer_client, decide, {"review_decision": "uphold", "review_answer": "算定は正しい"})
    assert upheld.status_code == 303
    with app.app_context():
        assert RentReview.get_by_id(review_id).status == "upheld"
    file = staff_client.get(f"/staff/household/{household.id}").get_data(as_text=True)
    assert f"/staff/rent-reviews/{review_id}" in file and "意見申出の受付" in file
