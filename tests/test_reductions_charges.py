"""減免 and 徴収猶予 reflected in the charges (SPEC §4.5, §8): the reduced monthly rent with worked
numbers, daily proration, the month's charge from the rent decision in force, the corrections when an
officer grants or ends a reduction (paid months left alone), 徴収猶予 postponing the 納期限, renewals
decided again, and the monthly charge run that never duplicates a charge."""

from __future__ import annotations

import datetime as dt
import json
import re
from contextlib import contextmanager
from decimal import Decimal

import pytest
from flask_babel import force_locale

from extensions import db
from models import AuditEntry, Charge, Payment, RentDecision, RentReduction
from rules import charges as rules
from rules.filters import today_tokyo
from rules.household import month_end
from services import billing, charges
from tests.conftest import csrf_token_of
from tests.factories import make_household, make_person, make_tenancy

HX = {"HX-Request": "true"}
RENT = 38_600  # SPEC §4.6 E1
TODAY = today_tokyo()


def months_from(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


M = [months_from(TODAY, n) for n in range(-3, 1)]  # the last three months and this one


@contextmanager
def opened(app):
    with app.app_context(), db.connection_context():
        yield


def post(client, url, data, htmx=True):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data}, headers=HX if htmx else {})


def toast(response) -> str:
    return json.loads(response.headers["HX-Trigger"])["toast"]["message"]


# --- the rule: worked numbers --------------------------------------------------------------------------


def test_a_rate_with_a_minimum_rent():
    result = rules.reduced_rent(RENT, rules.ReductionTerms(rate=Decimal("0.5"), minimum_rent=10_000))
    assert (result.reduced, result.reduction) == (19_300, 19_300)
    assert "38,600円 × (1 − 50%) = 19,300円" in result.explanation


def test_an_amount_is_never_below_the_minimum_rent():
    result = rules.reduced_rent(RENT, rules.ReductionTerms(amount=30_000, minimum_rent=10_000))
    assert (result.reduced, result.reduction) == (10_000, 28_600)
    assert "最低家賃 10,000円 を下回るため 10,000円" in result.explanation


@pytest.mark.parametrize(
    ("terms", "reduced"),
    [
        (rules.ReductionTerms(rate=Decimal("1")), 0),  # a full reduction, no minimum
        (rules.ReductionTerms(amount=50_000), 0),  # never below 0
        (rules.ReductionTerms(rate=Decimal("0.3333")), 25_734),  # 38,600 × 0.6667 = 25,734.62 → yen down
        (rules.ReductionTerms(amount=1_000, minimum_rent=50_000), RENT),  # a minimum above the rent
    ],
)
def test_the_reduced_rent_stays_within_zero_and_the_rent(terms, reduced):
    assert rules.reduced_rent(RENT, terms).reduced == reduced


def test_half_a_month_is_prorated_by_day():
    june = dt.date(2026, 6, 1)  # 30 days
    terms = rules.ReductionTerms(rate=Decimal("0.5"), minimum_rent=10_000)
    spans = rules.month_spans(
        june,
        occupied=[(dt.date(2010, 4, 1), None)],
        decisions=[(dt.date(2026, 4, 1), RENT)],
        reductions=[(dt.date(2026, 6, 16), dt.date(2027, 3, 31), terms)],
    )
    charge = rules.month_charge(june, spans)
    # 調定額 38,600 (the whole month); 減免額 19,300 × 15 ÷ 30 = 9,650 (16-30 June)
    assert (charge.amount, charge.reduction, charge.payable) == (38_600, 9_650, 28_950)
    assert "19,300円 × 15日 ÷ 30日 = 9,650円" in "\n".join(charge.explanation)
    # A move-in on 16 June with the reduction from then: half the rent, half reduced.
    moved_in = rules.month_spans(
        june,
        occupied=[(dt.date(2026, 6, 16), None)],
        decisions=[(dt.date(2026, 6, 16), RENT)],
        reductions=[(dt.date(2026, 6, 16), dt.date(2027, 3, 31), terms)],
    )
    charge = rules.month_charge(june, moved_in)
    assert (charge.amount, charge.reduction, charge.payable) == (19_300, 9_650, 9_650)


def test_a_rent_changing_mid_month_is_prorated_and_a_missing_decision_is_refused():
    june = dt.date(2026, 6, 1)
    spans = rules.month_spans(
        june,
        occupied=[(dt.date(2010, 4, 1), None)],
        decisions=[(dt.date(2026, 4, 1), RENT), (dt.date(2026, 6, 16), 40_000)],
    )
    assert rules.month_charge(june, spans).amount == 19_300 + 20_000
    with pytest.raises(rules.NoRentInForce) as missing:
        rules.month_spans(
            june, occupied=[(dt.date(2010, 4, 1), None)], decisions=[(dt.date(2026, 6, 10), RENT)]
        )
    assert missing.value.day == june


def test_a_postponement_moves_the_due_date_to_its_end():
    june = dt.date(2026, 6, 1)
    assert rules.postponed_due(june, dt.date(2026, 6, 30), [(dt.date(2026, 6, 20), dt.date(2026, 9, 30))])[
        0
    ] == (dt.date(2026, 9, 30))
    # Not before the 納期限 itself, and only for months the postponement touches.
    assert rules.postponed_due(june, dt.date(2026, 6, 30), [(dt.date(2026, 5, 1), dt.date(2026, 6, 10))])[
        0
    ] == (dt.date(2026, 6, 30))
    assert (
        rules.postponed_due(june, dt.date(2026, 6, 30), [(dt.date(2026, 7, 1), dt.date(2026, 9, 30))])[1]
        is None
    )


# --- the household and its charges ---------------------------------------------------------------------


def add_decision(household, tenancy, effective_from, rent=RENT, state="approved") -> RentDecision:
    return RentDecision.create(
        household=household,
        tenancy=tenancy,
        unit=tenancy.unit_id,
        fiscal_year=effective_from.year if effective_from.month >= 4 else effective_from.year - 1,
        kind="annual",
        effective_from=effective_from,
        market_rent=80_000,
        rent_status="normal",
        rent=rent,
        state=state,
        masters_used="{}",
        explanation="",
    )


def add_charge(household_id, period, amount=RENT) -> Charge:
    return Charge.create(
        household=household_id,
        kind="rent",
        period=period,
        source_key="rent",
        amount=amount,
        due_date=month_end(period),
    )


@pytest.fixture
def household(app):
    """A household living in its unit since 2010 with a rent decision of 38,600 from a year ago, and
    rent charged for the last three months and this one; the oldest month is paid in full."""
    with opened(app):
        h = make_household()
        make_person(h)
        tenancy = make_tenancy(h)
        add_decision(h, tenancy, months_from(TODAY, -12))
        charge_ids = [add_charge(h.id, month).id for month in M]
        Payment.create(
            charge=charge_ids[0],
            amount=RENT,
            receipt_date=month_end(M[0]),
            posted_date=month_end(M[0]),
            method="counter",
        )
        return {"id": h.id, "tenancy": tenancy.id, "charges": charge_ids}


def add_reduction(hid, **kw) -> int:
    values = {
        "household": hid,
        "kind": "reduction",
        "reason": "income_drop",
        "rate": Decimal("0.5"),
        "minimum_rent": 10_000,
        "start_date": M[0],
        "end_date": month_end(months_from(TODAY, 8)),
        **kw,
    }
    return RentReduction.create(**values).id


def charge_rows(app, ids) -> list[Charge]:
    with opened(app):
        return [Charge.get_by_id(i) for i in ids]


def test_the_rent_charge_comes_from_the_decision_in_force(app, household):
    with opened(app):
        june = charges.rent_charge_for(household["id"], M[1])
        assert (june.amount, june.reduction, june.due_date) == (RENT, 0, month_end(M[1]))
        add_reduction(household["id"], status="approved")
        reduced = charges.rent_charge_for(household["id"], M[1])
        assert (reduced.amount, reduced.reduction, reduced.payable) == (RENT, 19_300, 19_300)
        # No approved decision in force: no figure, never the last charge's amount.
        other = make_household()
        tenancy = make_tenancy(other)
        add_charge(other.id, M[2], amount=41_000)
        add_decision(other, tenancy, M[3], state="draft")
        assert charges.rent_charge_for(other.id, M[3]) is None
    with app.test_request_context(), db.connection_context():
        assert "家賃決定（承認済み）がありません" in charges.missing_rent_reason(other.id, M[3])


def test_approving_a_reduction_corrects_the_unpaid_charges_and_leaves_the_paid_one(
    app, officer_client, household
):
    hid = household["id"]
    with opened(app):
        rid = add_reduction(hid)
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    message = toast(response)
    assert message.startswith("減免を承認しました。") and "3か月分の調定を訂正しました。" in message
    assert "収納済みのため訂正していない月" in message
    # The 調定・収納 section comes along, swapped out of band, with the new 減免額.
    assert re.search(r'<section[^>]*id="charges"[^>]*hx-swap-oob="true"', html)
    assert "¥19,300" in html

    paid, *unpaid = charge_rows(app, household["charges"])
    assert (paid.amount, paid.reduction_amount) == (RENT, 0)
    assert [(c.amount, c.reduction_amount) for c in unpaid] == [(RENT, 19_300)] * 3
    assert all("減免の承認" in c.note for c in unpaid)
    with opened(app):
        corrections = list(
            AuditEntry.select().where(
                (AuditEntry.action == "charge.correct") & (AuditEntry.target_ids == f"[{hid}]")
            )
        )
        assert len(corrections) == 3 and {e.actor_login for e in corrections} == {
            officer_client.user.login_id
        }
        assert json.loads(corrections[0].changes)["charge.reduction_amount"] == [0, 19_300]
        assert billing.totals(hid).unpaid == 3 * 19_300


def test_without_javascript_the_correction_is_flashed(app, officer_client, household):
    hid = household["id"]
    with opened(app):
        rid = add_reduction(hid)
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
        htmx=False,
    )
    assert response.status_code == 303
    page = officer_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    assert "減免を承認しました。" in page and "3か月分の調定を訂正しました。" in page


def test_ending_a_reduction_early_gives_the_later_months_their_rent_back(app, officer_client, household):
    hid = household["id"]
    with opened(app):
        rid = add_reduction(hid)
    approve = {"decision_version": "1", "decision_decision": "approve"}
    assert post(officer_client, f"/staff/household/{hid}/reductions/{rid}/decide", approve).status_code == 200
    last_reduced = month_end(M[1])
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/end",
        {"end_version": "2", "end_end_date": last_reduced.isoformat(), "end_reason": "収入が回復"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "2か月分の調定を訂正しました。" in toast(response)
    paid, kept, *restored = charge_rows(app, household["charges"])
    assert kept.reduction_amount == 19_300
    assert [c.reduction_amount for c in restored] == [0, 0]
    assert paid.reduction_amount == 0


def test_a_postponement_moves_the_due_dates_of_the_unpaid_months(
    app, officer_client, staff_client, household
):
    hid = household["id"]
    until = month_end(months_from(TODAY, 3))
    data = {
        "reduction_kind": "postponement",
        "reduction_reason": "disaster",
        "reduction_rate": "50",
        "reduction_amount": "",
        "reduction_minimum_rent": "",
        "reduction_start_date": M[0].isoformat(),
        "reduction_end_date": until.isoformat(),
        "reduction_note": "",
    }
    refused = post(staff_client, f"/staff/household/{hid}/reductions/new", data)
    assert refused.status_code == 422
    assert "徴収猶予は納期限を延ばすもので" in refused.get_data(as_text=True)
    created = post(staff_client, f"/staff/household/{hid}/reductions/new", {**data, "reduction_rate": ""})
    assert created.status_code == 200, created.get_data(as_text=True)
    with opened(app):
        rid = RentReduction.get(RentReduction.household == hid).id
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert toast(response).startswith("徴収猶予を承認しました。")
    paid, *unpaid = charge_rows(app, household["charges"])
    assert (paid.due_date, paid.original_due_date) == (month_end(M[0]), None)
    assert [(c.due_date, c.original_due_date) for c in unpaid] == [(until, month_end(m)) for m in M[1:]]
    assert all(c.reduction_amount == 0 for c in unpaid)  # postponed, not reduced
    with opened(app):
        assert billing.totals(hid).overdue == 0  # nothing is overdue while postponed
    page = officer_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    assert "徴収猶予（当初" in page

    # Ended early (today): the 納期限 go back, never before their own.
    response = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{rid}/end",
        {"end_version": "2", "end_end_date": TODAY.isoformat(), "end_reason": "再建の見通し"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    _, *unpaid = charge_rows(app, household["charges"])
    assert [(c.due_date, c.original_due_date) for c in unpaid] == [
        (TODAY, month_end(M[1])),
        (TODAY, month_end(M[2])),
        (month_end(M[3]), None),
    ]


def test_a_renewal_continues_a_granted_reduction_and_is_decided_again(
    app, staff_client, officer_client, household
):
    hid = household["id"]
    with opened(app):
        first = add_reduction(
            hid, status="approved", start_date=months_from(TODAY, -11), end_date=month_end(M[3])
        )
        far = add_reduction(
            hid,
            kind="postponement",
            rate=None,
            minimum_rent=None,
            status="approved",
            start_date=M[3],
            end_date=month_end(months_from(TODAY, 6)),
        )
    assert staff_client.get(f"/staff/household/{hid}/reductions/{far}/renew", headers=HX).status_code == 409
    url = f"/staff/household/{hid}/reductions/{first}/renew"
    form = staff_client.get(url, headers=HX)
    html = form.get_data(as_text=True)
    assert form.status_code == 200, html
    start, end = months_from(TODAY, 1), month_end(months_from(TODAY, 12))
    assert f'value="{start.isoformat()}"' in html and f'value="{end.isoformat()}"' in html
    assert 'value="50"' in html and 'value="10000"' in html  # the same terms
    data = {
        "reduction_kind": "reduction",
        "reduction_reason": "income_drop",
        "reduction_rate": "50",
        "reduction_amount": "",
        "reduction_minimum_rent": "10000",
        "reduction_start_date": start.isoformat(),
        "reduction_end_date": end.isoformat(),
        "reduction_note": "",
    }
    response = post(staff_client, url, data)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert "更新（前の期間" in html
    with opened(app):
        renewal = RentReduction.get(RentReduction.renews == first)
    assert renewal.status == "requested" and renewal.start_date == start
    again = post(staff_client, url, data)
    assert again.status_code == 409 and "すでに登録されています" in again.get_data(as_text=True)
    # An officer decides the renewal like any request.
    decided = post(
        officer_client,
        f"/staff/household/{hid}/reductions/{renewal.id}/decide",
        {"decision_version": "1", "decision_decision": "approve"},
    )
    assert decided.status_code == 200, decided.get_data(as_text=True)
    with opened(app):
        renewal = RentReduction.get_by_id(renewal.id)
        assert renewal.status == "approved"
        # The chain goes on: near its end, the renewal is renewed in turn.
        near_end = renewal.end_date - dt.timedelta(days=10)
        third = billing.create_reduction(
            hid,
            {
                "kind": "reduction",
                "reason": "income_drop",
                "rate": Decimal("0.5"),
                "amount": None,
                "minimum_rent": 10_000,
                "start_date": renewal.end_date + dt.timedelta(days=1),
                "end_date": renewal.end_date + dt.timedelta(days=365),
                "note": None,
            },
            renews=renewal,
            today=near_end,
        )
        assert third.renews_id == renewal.id and renewal.renews_id == first
        with force_locale("ja"), pytest.raises(billing.RuleViolation, match="から登録できます"):
            billing.check_renewal(renewal, today=renewal.end_date - dt.timedelta(days=90))


# --- the monthly charge run --------------------------------------------------------------------------------


def test_the_charge_run_twice_makes_the_same_rows(app, runner, household):
    month = months_from(TODAY, 1)
    with opened(app):
        add_reduction(household["id"], status="approved")
        postponed = make_household()
        tenancy = make_tenancy(postponed)
        add_decision(postponed, tenancy, months_from(TODAY, -12), rent=40_000)
        RentReduction.create(
            household=postponed,
            kind="postponement",
            reason="disaster",
            start_date=month,
            end_date=month_end(months_from(TODAY, 3)),
            status="approved",
        )
        undecided = make_household(household_no="H-NODECISION")
        make_tenancy(undecided)
        charged = make_household()
        charged_tenancy = make_tenancy(charged)
        add_decision(charged, charged_tenancy, months_from(TODAY, -12))
        add_charge(charged.id, month, amount=12_345)
        moved_out = make_household()
        make_tenancy(moved_out, move_out_date=month - dt.timedelta(days=1), status="ended")
        before = Charge.select().count()

    dry = runner.invoke(args=["billing", "charge", "--month", f"{month:%Y-%m}", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "created: 2" in dry.output and "existing: 1" in dry.output and "skipped: 1" in dry.output
    assert "H-NODECISION" in dry.output and "家賃決定（承認済み）がありません" in dry.output
    with opened(app):
        assert Charge.select().count() == before

    first = runner.invoke(args=["billing", "charge", "--month", f"{month:%Y-%m}"])
    assert first.exit_code == 0, first.output
    assert "created: 2（減免 reduced 1、徴収猶予 postponed 1）" in first.output
    assert f"total payable: {19_300 + 40_000:,}円" in first.output
    with opened(app):
        rows = {
            c.household_id: c
            for c in Charge.select().where((Charge.period == month) & (Charge.source_key == "rent"))
        }
        assert len(rows) == 3
        mine = rows[household["id"]]
        assert (mine.amount, mine.reduction_amount, mine.due_date) == (RENT, 19_300, month_end(month))
        assert "減免額" in mine.note
        theirs = rows[postponed.id]
        assert (theirs.amount, theirs.reduction_amount) == (40_000, 0)
        assert (theirs.due_date, theirs.original_due_date) == (
            month_end(months_from(TODAY, 3)),
            month_end(month),
        )
        assert rows[charged.id].amount == 12_345  # an existing charge is left as it is
        assert AuditEntry.select().where(AuditEntry.action == "charge.create").count() == 2
        after_first = Charge.select().count()

    second = runner.invoke(args=["billing", "charge", "--month", f"{month:%Y-%m}"])
    assert second.exit_code == 0, second.output
    assert "created: 0" in second.output and "existing: 3" in second.output
    with opened(app):
        assert Charge.select().count() == after_first == before + 2

    bad = runner.invoke(args=["billing", "charge", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output


def test_the_charge_run_and_the_corrections_on_each_engine_and_two_runs_at_once(engine_db):
    """The same figures on SQLite and PostgreSQL; two runs started together make each charge once (the
    unique household + month + rent decides, the loser counts it as existing)."""
    import threading

    from flask import current_app

    app = current_app._get_current_object()
    month = months_from(TODAY, 1)
    households = []
    for _ in range(6):
        h = make_household()
        tenancy = make_tenancy(h)
        add_decision(h, tenancy, months_from(TODAY, -12))
        households.append(h.id)
    rid = add_reduction(households[0], start_date=month, status="approved")
    results, errors = [], []
    barrier = threading.Barrier(2)

    def run():
        try:
            with app.app_context(), db.connection_context():
                barrier.wait(timeout=10)
                results.append(charges.charge_month(month))
        except Exception as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(r.created for r in results) in ([0, 6], [1, 5], [2, 4], [3, 3])
    assert sum(r.created for r in results) == 6 and all(r.households == 6 for r in results)
    rows = list(Charge.select().where((Charge.period == month) & (Charge.source_key == "rent")))
    assert len(rows) == 6
    assert sorted((c.amount - c.reduction_amount) for c in rows) == [19_300] + [RENT] * 5

    # The reduction ends before the month: the month's charge gets its full rent back.
    reduction = RentReduction.get_by_id(rid)
    reduction.status, reduction.end_date = "ended", month + dt.timedelta(days=14)
    reduction.save()
    with force_locale("ja"):
        outcome = charges.apply_reduction(reduction, until=month_end(months_from(TODAY, 8)))
    prorated = 19_300 * 15 // month_end(month).day  # the first 15 days of the month keep the reduction
    assert len(outcome.corrected) == 1 and outcome.corrected[0].after == (RENT, prorated)
    assert (
        Charge.get((Charge.household == households[0]) & (Charge.period == month)).reduction_amount
        == prorated
    )
