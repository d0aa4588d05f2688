"""The yearly rent run: every household's rent for the next fiscal year, its preview, approval, notices.

A small city where each household is in one situation, with the rents computed by hand (SPEC §4.2,
§4.3): 60.00㎡, 耐火, built 2007 (20 years old in 2027 → 経過年数係数 0.922), 立地係数 1.00, 利便性係数
1.000, 近傍同種家賃 80,000円 in both years. 規模係数 = 60/65 = 0.923077.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from extensions import db
from models import (
    Certification,
    Household,
    IncomeDeclaration,
    Job,
    Notice,
    NoticeRun,
    RentDecision,
    RentRun,
    Tenancy,
    UnitYearFigure,
)
from models.rent_runs import RentRunItem
from services import jobs, rent_decisions, rent_run
from tests.factories import (
    make_account,
    make_building,
    make_estate,
    make_household,
    make_person,
    make_tenancy,
    make_unit,
)

FY = 2027
MARKET = 80_000


def declaration(household, fiscal_year, seirei, status="submitted"):
    bracket = None
    if seirei is not None:
        bracket = next(b for b, top in enumerate((104_000, 123_000, 139_000, 158_000, 186_000, 214_000,
                                                  259_000, 10**9), start=1) if seirei <= top)  # fmt: skip
    return IncomeDeclaration.create(
        household=household,
        fiscal_year=fiscal_year,
        income_year=fiscal_year - 1,
        status=status,
        seirei_getsushu=seirei,
        bracket=bracket,
    )


def in_force(household, tenancy, rent, *, bracket, status="normal", years_over=0, kind="annual", **kw):
    """The approved decision of fiscal year 2026 (this year)."""
    values = {
        "household": household,
        "tenancy": tenancy,
        "unit": tenancy.unit,
        "fiscal_year": FY - 1,
        "kind": kind,
        "effective_from": dt.date(FY - 1, 4, 1),
        "seirei_getsushu": 125_000,
        "bracket": bracket,
        "market_rent": MARKET,
        "rent_status": status,
        "years_over": years_over,
        "rent": rent,
        "state": "approved",
        "decided_on": dt.date(FY - 1, 2, 10),
        "masters_used": "{}",
        "explanation": "[]",
    }
    values.update(kw)
    return RentDecision.create(**values)


def resident(estate, moved_in, *, figures=True, category="general"):
    building = make_building(estate=estate, structure="fire_resistant", year_built=2007)
    unit = make_unit(building=building, floor_area="60.00", status="occupied")
    if figures:
        for year in (FY - 1, FY):
            UnitYearFigure.create(
                unit=unit, fiscal_year=year, convenience_coefficient="1.000", market_rent=MARKET
            )
    household = make_household(first_move_in_date=moved_in, category=category)
    make_person(household, member_from=moved_in)
    tenancy = make_tenancy(household, unit, move_in_date=moved_in)
    return household, tenancy


@pytest.fixture
def city(database):
    """Seven households, one per situation, and the people who run and approve the year."""
    return build_city()


def build_city() -> SimpleNamespace:
    """The city of the module docstring (in the current connection)."""
    estate = make_estate()
    other = make_estate()
    c = SimpleNamespace(estate=estate, other=other)

    # 1. Nothing changes but the building's age: 区分3 (政令月収 125,833) → 38,638.9 → 38,600 (SPEC E1).
    c.normal, t = resident(estate, dt.date(2010, 4, 1))
    declaration(c.normal, FY - 1, 125_833)
    in_force(c.normal, t, 38_800, bracket=3)

    # 2. A lower income: 区分3 → 区分2: 39,700 × 0.923077 × 0.922 = 33,787.7 → 33,700.
    c.lower, t = resident(estate, dt.date(2012, 7, 1))
    declaration(c.lower, FY - 1, 110_000)
    in_force(c.lower, t, 38_800, bracket=3)

    # 3. 収入超過 year 1 → year 2 (政令月収 170,000 ≤ 186,000: 2/5): 本来家賃 58,500 × 0.923077 × 0.922
    #    = 49,788 → 49,700; 49,700 + (80,000 − 49,700) × 2/5 = 61,820 → 61,800.
    c.over, t = resident(estate, dt.date(2015, 5, 1))
    declaration(c.over, FY - 2, 165_000)
    declaration(c.over, FY - 1, 170_000)
    Certification.create(household=c.over, fiscal_year=FY - 1, kind="over_income", seirei_getsushu=165_000,
                         years_over=1, state="certified", certified_on=dt.date(FY - 1, 1, 25))  # fmt: skip
    in_force(c.over, t, 55_900, bracket=5, status="over_income", years_over=1)

    # 4. 高額所得者: above 313,000 two years running, resident 22 years → 近傍同種家賃 80,000.
    c.high, t = resident(other, dt.date(2005, 4, 1))
    declaration(c.high, FY - 2, 340_000)
    declaration(c.high, FY - 1, 350_000)
    Certification.create(household=c.high, fiscal_year=FY - 1, kind="over_income", seirei_getsushu=340_000,
                         years_over=2, state="certified", certified_on=dt.date(FY - 1, 1, 25))  # fmt: skip
    in_force(c.high, t, MARKET, bracket=8, status="over_income", years_over=2)

    # 5. No declaration (未提出) → 近傍同種家賃 80,000.
    c.undeclared, t = resident(estate, dt.date(2011, 4, 1))
    declaration(c.undeclared, FY - 1, None, status="not_submitted")
    in_force(c.undeclared, t, 38_800, bracket=3)

    # 6. The unit has no 近傍同種家賃 / 利便性係数 for 2027: listed as a problem, no draft.
    c.no_figures, t = resident(other, dt.date(2013, 4, 1), figures=False)
    declaration(c.no_figures, FY - 1, 125_833)
    in_force(c.no_figures, t, 38_800, bracket=3)

    # 7. Moved in during 2026, after the declarations were sent: the move-in decision's 政令月収 (区分2)
    #    stands; 33,700 as in 2; resident 0 years (no 収入超過者認定通知書).
    c.newcomer, t = resident(estate, dt.date(2026, 8, 1))
    in_force(c.newcomer, t, 33_900, bracket=2, kind="move_in", seirei_getsushu=120_000,
             effective_from=dt.date(2026, 8, 1))  # fmt: skip

    # Not in residence on 1 April 2027: moved out in 2026.
    gone, t = resident(estate, dt.date(2000, 4, 1))
    t.move_out_date, t.status = dt.date(2026, 9, 30), "ended"
    t.save()
    Household.update(status="moved_out").where(Household.id == gone.id).execute()
    c.gone = gone

    c.staff = make_account("staff")
    c.officer = make_account("officer")
    c.other_officer = make_account("officer")
    return c


def computed(city) -> RentRun:
    run = rent_run.start(FY, city.staff)
    return rent_run.compute_pending(run, batch=3)


def item_of(run, household) -> RentRunItem:
    return RentRunItem.get((RentRunItem.run == run.id) & (RentRunItem.household == household.id))


def test_compute_one_household_reads_and_writes_nothing(city):
    before = RentDecision.select().count()
    result = rent_decisions.compute(city.normal, FY)
    assert result.result.rent == 38_600 and result.result.bracket == 3 and result.result.status == "normal"
    assert result.years_resided == 17 and result.resident_three_years
    assert result.masters_used["income_declaration"].endswith(f"fiscal_year={FY - 1}")
    assert "rent_base_band" in result.masters_used and "unit_year_figure" in result.masters_used
    assert any("政令月収 125,833円" in line for line in result.explanation)
    assert result.explanation[-1] == "家賃 38,600円"
    assert RentDecision.select().count() == before
    with pytest.raises(rent_decisions.Incomplete) as problem:
        rent_decisions.compute(city.no_figures, FY)
    assert problem.value.code == "no_figures"


def test_preview_reasons_and_rents_are_as_computed_by_hand(city):
    run = computed(city)
    assert run.state == "preview"
    assert run.households_done == run.households_total == 7  # the household that moved out is not in it
    expected = {
        city.normal: (38_600, ["coefficients"], "normal", 0),
        city.lower: (33_700, ["new_bracket"], "normal", 0),
        city.over: (61_800, ["over_income"], "over_income", 2),
        city.high: (MARKET, ["high_income"], "high_income", 3),
        city.undeclared: (MARKET, ["undeclared"], "undeclared", 0),
        city.newcomer: (33_700, ["coefficients"], "normal", 0),
    }
    for household, (rent, reasons, status, years_over) in expected.items():
        item = item_of(run, household)
        draft = RentDecision.get_by_id(item.decision_id)
        assert (item.rent, item.reason_codes, draft.rent_status, draft.years_over) == (
            rent, reasons, status, years_over,
        ), household.household_no  # fmt: skip
        assert draft.state == "draft" and draft.kind == "annual" and draft.effective_from == dt.date(FY, 4, 1)
        assert json.loads(draft.masters_used)["rent_base_band"].startswith("valid_from=")
    problem = item_of(run, city.no_figures)
    assert problem.problem == "no_figures" and problem.decision_id is None
    assert not RentRunItem.select().where(RentRunItem.household == city.gone.id).exists()

    figures = rent_run.summary(run)
    assert (figures.drafts, figures.problems, figures.changed) == (6, 1, 6)
    assert figures.rent_total == 38_600 + 33_700 + 61_800 + MARKET + MARKET + 33_700
    assert figures.previous_total == 38_800 + 38_800 + 55_900 + MARKET + 38_800 + 33_900
    assert figures.by_reason == {"new_bracket": 1, "over_income": 1, "high_income": 1, "undeclared": 1,
                                 "coefficients": 2}  # fmt: skip
    assert figures.by_problem == {"no_figures": 1}
    assert figures.resident_three_years == 5

    page = rent_run.preview(run, rent_run.Filters(reason="over_income"))
    assert [r.household_id for r in page.rows] == [city.over.id]
    assert page.rows[0].reason_labels == ["収入超過2年目"] and page.rows[0].difference == 5_900
    undeclared = rent_run.preview(run, rent_run.Filters(reason="undeclared")).rows[0]
    assert undeclared.reason_labels == ["未申告 → 近傍同種家賃"] and undeclared.previous_status == "normal"
    in_other = rent_run.preview(run, rent_run.Filters(estate_id=city.other.id))
    assert {r.household_id for r in in_other.rows} == {city.high.id, city.no_figures.id}
    problems = rent_run.preview(run, rent_run.Filters(problems_only=True)).rows
    assert [(r.household_id, r.problem_label) for r in problems] == [
        (city.no_figures.id, "住戸の近傍同種家賃・利便性係数が未登録")
    ]


def test_approval_is_an_officers_and_never_the_starters(city):
    run = computed(city)
    with pytest.raises(rent_run.RunRefused) as refused:
        rent_run.approve(run, city.staff)
    assert refused.value.status == 403
    starter_run = run
    RentRun.update(started_by=city.officer).where(RentRun.id == run.id).execute()
    with pytest.raises(rent_run.RunRefused) as own:
        rent_run.approve(RentRun.get_by_id(starter_run.id), city.officer)
    assert own.value.status == 403 and "開始した職員" in own.value.message
    assert RentRun.get_by_id(run.id).state == "preview"
    assert (
        not RentDecision.select().where(RentDecision.run == run.id, RentDecision.state == "approved").exists()
    )


def test_approval_writes_decisions_certifications_flags_and_issues_the_notices(city):
    run = computed(city)
    run = rent_run.approve(run, city.officer, batch=2)
    assert run.state == "approved" and run.approved_by_id == city.officer.id
    decisions = list(RentDecision.select().where(RentDecision.run == run.id))
    assert len(decisions) == 6 and {d.state for d in decisions} == {"approved"}
    today = decisions[0].decided_on
    assert all(d.objection_deadline == today + dt.timedelta(days=30) for d in decisions)
    assert all(d.approved_by_id == city.officer.id for d in decisions)

    certified = {
        (c.household_id, c.kind): c for c in Certification.select().where(Certification.fiscal_year == FY)
    }
    assert set(certified) == {
        (city.over.id, "over_income"), (city.high.id, "over_income"), (city.high.id, "high_income"),
    }  # fmt: skip
    assert certified[(city.over.id, "over_income")].years_over == 2
    assert all(c.state == "certified" and c.certified_by_id == city.officer.id for c in certified.values())
    flags = {h.id: (h.over_income, h.high_income) for h in Household.select()}
    assert flags[city.over.id] == (True, False)
    assert flags[city.high.id] == (True, True)
    assert flags[city.normal.id] == (False, False)

    assert jobs.run_pending() == 3
    assert {j.state for j in Job.select().where(Job.kind == "rent_run.notices")} == {"done"}
    issued = {r.kind: r for r in NoticeRun.select()}
    assert set(issued) == {"rent_decision", "over_income", "high_income"}
    counts = {kind: Notice.select().where(Notice.run == r.id).count() for kind, r in issued.items()}
    # 家賃決定通知書: every decision; 収入超過者認定通知書: every household resident 3+ years with a
    # decision (1-5; the newcomer is not); 高額所得者認定通知書: the one certified.
    assert counts == {"rent_decision": 6, "over_income": 5, "high_income": 1}
    over_notices = {n.household_id for n in Notice.select().where(Notice.run == issued["over_income"].id)}
    assert over_notices == {city.normal.id, city.lower.id, city.over.id, city.high.id, city.undeclared.id}
    assert all(r.pages >= counts[kind] and r.file_sha256 for kind, r in issued.items())
    assert RentRun.get_by_id(run.id).state == "issued"

    # Everything again: no second decision, certification, job or notice.
    rows = (RentDecision.select().count(), Certification.select().count(), Job.select().count(),
            Notice.select().count(), RentRunItem.select().count())  # fmt: skip
    again = rent_run.start(FY, city.staff)
    assert again.id == run.id
    rent_run.compute_pending(again)
    rent_run.approve(again, city.other_officer)
    rent_run.queue_notices(again)
    jobs.run_pending()
    assert rows == (RentDecision.select().count(), Certification.select().count(), Job.select().count(),
                    Notice.select().count(), RentRunItem.select().count())  # fmt: skip


def test_cancel_releases_the_year(city):
    run = computed(city)
    cancelled = rent_run.cancel(run, city.staff)
    assert cancelled.state == "cancelled"
    assert {d.state for d in RentDecision.select().where(RentDecision.run == run.id)} == {"cancelled"}
    fresh = rent_run.compute_pending(rent_run.start(FY, city.staff))
    assert fresh.id != run.id and fresh.state == "preview" and fresh.households_done == 7
    with pytest.raises(rent_run.RunRefused):
        rent_run.cancel(rent_run.approve(fresh, city.officer), city.staff)


def test_an_interrupted_batch_leaves_nothing_and_the_rerun_finishes(city, monkeypatch):
    run = rent_run.start(FY, city.staff)
    rent_run.compute_batch(run.id, 2)
    calls = {"n": 0}
    real = rent_decisions.compute_from

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the process died here")
        return real(*args, **kwargs)

    monkeypatch.setattr(rent_decisions, "compute_from", failing)
    with pytest.raises(RuntimeError):
        rent_run.compute_batch(run.id, 3)
    assert RentRunItem.select().where(RentRunItem.run == run.id).count() == 2
    assert RentRun.get_by_id(run.id).households_done == 2
    monkeypatch.setattr(rent_decisions, "compute_from", real)
    done = rent_run.compute_pending(RentRun.get_by_id(run.id))
    assert done.state == "preview" and done.households_done == 7
    assert RentDecision.select().where(RentDecision.run == run.id).count() == 6
    assert db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_the_whole_year_on_each_engine(engine_db):
    """PostgreSQL locks the run row (SELECT … FOR UPDATE) where SQLite's write lock serialises."""
    c = build_city()
    run = rent_run.compute_pending(rent_run.start(FY, c.staff), batch=2)
    assert (run.state, run.households_done) == ("preview", 7)
    assert rent_run.summary(run).rent_total == 38_600 + 33_700 + 61_800 + MARKET + MARKET + 33_700
    rent_run.approve(run, c.officer, batch=4)
    assert jobs.run_pending() == 3
    assert RentRun.get_by_id(run.id).state == "issued"
    assert {r.kind: r.pages > 0 for r in NoticeRun.select()} == dict.fromkeys(rent_run.NOTICE_KINDS, True)
    assert Certification.select().where(Certification.fiscal_year == FY).count() == 3


def test_approval_recomputes_drafts_gone_stale_and_approves_nothing(city):
    """Inputs changed while the officer read the preview: nothing is approved on the old figures; the
    drafts are put right and the officer approves again."""
    run = computed(city)
    # A declaration keyed in during the preview (was 未提出 → 近傍同種家賃 80,000; now 区分3 → 38,600).
    IncomeDeclaration.update(status="submitted", seirei_getsushu=125_833, bracket=3).where(
        (IncomeDeclaration.household == city.undeclared.id) & (IncomeDeclaration.fiscal_year == FY - 1)
    ).execute()
    # A household that moved out on 31 March: not in residence on 1 April, no decision, no notice.
    Tenancy.update(move_out_date=dt.date(FY, 3, 31), status="ended").where(
        Tenancy.household == city.lower.id
    ).execute()
    # The unit's 2027 figures withdrawn: the household can no longer be computed.
    normal_unit = Tenancy.get(Tenancy.household == city.normal.id).unit_id
    UnitYearFigure.delete().where(
        (UnitYearFigure.unit == normal_unit) & (UnitYearFigure.fiscal_year == FY)
    ).execute()
    lower_draft = item_of(run, city.lower).decision_id

    with pytest.raises(rent_run.InputsChanged) as stale:
        rent_run.approve(run, city.officer)
    assert stale.value.status == 409
    assert sorted(stale.value.households) == sorted([city.undeclared.id, city.lower.id, city.normal.id])
    assert (
        "3世帯の入力が変わったため再計算しました。内容を確認して、もう一度承認してください"
        in stale.value.message
    )
    run = RentRun.get_by_id(run.id)
    assert run.state == "preview" and run.approved_by_id is None and run.households_total == 6
    assert (
        not RentDecision.select()
        .where(RentDecision.state == "approved", RentDecision.fiscal_year == FY)
        .exists()
    )

    declared = item_of(run, city.undeclared)
    draft = RentDecision.get_by_id(declared.decision_id)
    assert (declared.rent, declared.reason_codes) == (38_600, ["coefficients"])
    assert (draft.state, draft.rent, draft.rent_status, draft.seirei_getsushu, draft.bracket) == (
        "draft", 38_600, "normal", 125_833, 3,
    )  # fmt: skip
    assert (
        not RentRunItem.select()
        .where(RentRunItem.run == run.id, RentRunItem.household == city.lower.id)
        .exists()
    )
    assert RentDecision.get_by_id(lower_draft).state == "cancelled"
    unfigured = item_of(run, city.normal)
    assert (unfigured.problem, unfigured.decision_id, unfigured.rent) == ("no_figures", None, None)
    figures = rent_run.summary(run)
    assert (figures.households, figures.drafts, figures.problems) == (6, 4, 2)

    rent_run.approve(run, city.officer)  # the officer approves again: the figures now hold
    approved = {d.household_id: d for d in RentDecision.select().where(RentDecision.state == "approved")
                if d.fiscal_year == FY}  # fmt: skip
    assert set(approved) == {city.over.id, city.high.id, city.undeclared.id, city.newcomer.id}
    assert approved[city.undeclared.id].rent == 38_600
    assert jobs.run_pending() == 3
    noticed = {n.household_id for n in Notice.select()}
    assert city.lower.id not in noticed and city.undeclared.id in noticed


def test_a_move_in_decision_corrected_still_gives_the_seirei_getsushu(city):
    """The newcomer's move-in decision was corrected (更正) twice: the chain leads back to the move-in
    decision, so the correction's 政令月収 stands in for the declaration the household never had."""
    move_in = RentDecision.get(RentDecision.household == city.newcomer.id)
    tenancy = Tenancy.get(Tenancy.household == city.newcomer.id)
    latest = move_in
    for seirei in (118_000, 110_000):
        RentDecision.update(state="superseded").where(RentDecision.id == latest.id).execute()
        latest = in_force(city.newcomer, tenancy, 33_900, bracket=2, kind="correction", seirei_getsushu=seirei,
                          effective_from=dt.date(FY - 1, 8, 1), supersedes=latest)  # fmt: skip
    computation = rent_decisions.compute(city.newcomer, FY)
    assert computation.seirei_source == "move_in" and computation.result.seirei_getsushu == 110_000
    assert computation.result.rent == 33_700
    assert (
        computation.masters_used["rent_decision"] == f"id={latest.id} (correction of move_in id={move_in.id})"
    )
    run = computed(city)
    item = item_of(run, city.newcomer)
    assert item.problem is None and item.rent == 33_700 and item.previous_id == latest.id


def test_a_draft_already_holding_the_day_is_listed_not_overwritten(city):
    held = rent_decisions.compute(city.normal, FY)
    correction = rent_decisions.write_decision(city.normal, held, "correction")
    run = computed(city)
    assert item_of(run, city.normal).problem == "already_decided"
    assert RentDecision.get_by_id(correction.id).state == "draft" and correction.run_id is None
    assert rent_run.summary(run).drafts == 5


def test_the_command_runs_resumes_and_approves_with_four_eyes(city, app):
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["rent", "run", "--fiscal-year", str(FY)])
    assert missing.exit_code != 0 and "--as" in missing.output
    first = runner.invoke(
        args=["rent", "run", "--fiscal-year", str(FY), "--as", city.staff.login_id, "--quiet"]
    )
    assert first.exit_code == 0, first.output
    assert "対象 7 世帯、計算済 6、計算できない 1" in first.output
    assert (
        "理由 収入超過者: 1" in first.output and "住戸の近傍同種家賃・利便性係数が未登録: 1" in first.output
    )
    own = runner.invoke(args=["rent", "run", "--fiscal-year", str(FY), "--approve-as", city.staff.login_id])
    assert own.exit_code != 0 and "保護責任者" in own.output
    approved = runner.invoke(
        args=["rent", "run", "--fiscal-year", str(FY), "--approve-as", city.officer.login_id, "--quiet"]
    )
    assert approved.exit_code == 0, approved.output
    assert "承認しました" in approved.output
    db.connect(reuse_if_open=True)
    assert (
        RentDecision.select().where(RentDecision.fiscal_year == FY, RentDecision.state == "approved").count()
        == 6
    )
    assert Job.select().where(Job.kind == "rent_run.notices").count() == 3
    again = runner.invoke(
        args=["rent", "run", "--fiscal-year", str(FY), "--approve-as", city.officer.login_id, "--quiet"]
    )
    assert again.exit_code == 0, again.output
    db.connect(reuse_if_open=True)
    assert RentRun.select().count() == 1 and Job.select().where(Job.kind == "rent_run.notices").count() == 3
