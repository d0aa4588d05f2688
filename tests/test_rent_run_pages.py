"""The yearly rent run's pages: staff start and read it, only another officer approves it."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager

import pytest

from extensions import db
from models import AuditEntry, Job, RentDecision, RentRun
from services import jobs
from tests.conftest import csrf_token_of
from tests.test_rent_run import FY, build_city


@pytest.fixture
def city(app):
    """The small city of the service tests, written before the clients sign in."""
    with app.app_context(), db.connection_context():
        return build_city()


@contextmanager
def connected(app):
    with app.app_context(), db.connection_context():
        yield


@pytest.fixture(autouse=True)
def next_year(monkeypatch):
    """The pages start the next fiscal year's run: make it 2027 whatever today is."""
    from services import rent_run

    monkeypatch.setattr(rent_run, "next_fiscal_year", lambda today=None: FY)


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token_of(client), **data})


def test_staff_start_and_read_the_preview_but_cannot_approve(app, city, staff_client, officer_client):
    page = staff_client.get("/staff/rent/runs/")
    assert page.status_code == 200 and "令和9年度" in page.get_data(as_text=True)
    started = post(staff_client, "/staff/rent/runs/start")
    assert started.status_code == 303
    with connected(app):
        run = RentRun.get(RentRun.fiscal_year == FY)
        assert started.headers["Location"].endswith(f"/staff/rent/runs/{run.id}")
        assert Job.select().where(Job.kind == "rent_run.compute").count() == 1
    again = post(staff_client, "/staff/rent/runs/start")  # a second click queues nothing more
    assert again.status_code == 303
    running = staff_client.get(f"/staff/rent/runs/{run.id}")
    assert running.status_code == 200 and 'hx-trigger="every 2s"' in running.get_data(as_text=True)
    with connected(app):
        assert Job.select().where(Job.kind == "rent_run.compute").count() == 1
        jobs.run_pending()
        assert RentRun.get_by_id(run.id).state == "preview"

    html = staff_client.get(f"/staff/rent/runs/{run.id}?reason=over_income").get_data(as_text=True)
    assert (
        "収入超過2年目" in html and "¥61,800" in html and "+5,900" in html and city.over.household_no in html
    )
    assert city.normal.household_no not in html
    with connected(app):
        entry = (
            AuditEntry.select()
            .where(AuditEntry.action == "rent_run.read")
            .order_by(AuditEntry.id.desc())
            .first()
        )
        assert entry is not None and str(city.over.id) in entry.target_ids
    problems = staff_client.get(f"/staff/rent/runs/{run.id}?problems=y").get_data(as_text=True)
    assert "住戸の近傍同種家賃・利便性係数が未登録" in problems and city.no_figures.household_no in problems
    assert staff_client.get(f"/staff/rent/runs/{run.id}?reason=bogus").status_code == 422
    assert "承認して通知書を作成" not in html

    refused = post(staff_client, f"/staff/rent/runs/{run.id}/approve")
    assert refused.status_code == 403
    approved = post(officer_client, f"/staff/rent/runs/{run.id}/approve")
    assert approved.status_code == 303 and "/staff/jobs/" in approved.headers["Location"]
    with connected(app):
        jobs.run_pending()
        assert RentRun.get_by_id(run.id).state == "issued"
        assert {d.state for d in RentDecision.select().where(RentDecision.run == run.id)} == {"approved"}
    done = staff_client.get(f"/staff/rent/runs/{run.id}").get_data(as_text=True)
    assert len(re.findall(r"/staff/notices/\d+\.pdf", done)) == 3


def test_the_officer_who_started_the_run_cannot_approve_it(app, city, officer_client):
    assert post(officer_client, "/staff/rent/runs/start").status_code == 303
    with connected(app):
        jobs.run_pending()
        run = RentRun.get(RentRun.fiscal_year == FY)
    page = officer_client.get(f"/staff/rent/runs/{run.id}").get_data(as_text=True)
    assert "計算を開始した職員は承認できません" in page
    refused = post(officer_client, f"/staff/rent/runs/{run.id}/approve")
    assert refused.status_code == 403 and "計算を開始した職員は" in refused.get_data(as_text=True)
    cancelled = post(officer_client, f"/staff/rent/runs/{run.id}/cancel")
    assert cancelled.status_code == 303
    with connected(app):
        assert RentRun.get_by_id(run.id).state == "cancelled"


def test_the_preview_hides_a_protected_household_from_staff_not_assigned(
    app, city, staff_client, officer_client
):
    """支援措置: the run decides the protected household, but only an assigned member of staff sees its
    number, rent and counts in the preview."""
    from models import Household
    from services import rent_run
    from tests.factories import make_assignment

    with connected(app):
        Household.update(support_measure=True).where(Household.id == city.over.id).execute()
        make_assignment(city.over, officer_client.user)
        run = rent_run.compute_pending(rent_run.start(FY, city.staff))
    hidden = staff_client.get(f"/staff/rent/runs/{run.id}").get_data(as_text=True)
    assert city.normal.household_no in hidden and city.over.household_no not in hidden
    assert "reason=over_income" not in hidden and "¥61,800" not in hidden  # nor in the counts by reason
    seen = officer_client.get(f"/staff/rent/runs/{run.id}").get_data(as_text=True)
    assert city.over.household_no in seen and "¥61,800" in seen and "reason=over_income" in seen
    with connected(app):
        entry = (
            AuditEntry.select()
            .where((AuditEntry.action == "rent_run.read") & (AuditEntry.actor_id == staff_client.user.id))
            .first()
        )
        assert entry is not None and city.normal.id in json.loads(entry.target_ids)
        assert city.over.id not in json.loads(entry.target_ids)
        assert rent_run.summary(run, viewer=staff_client.user).households == 6
        assert rent_run.summary(run).households == 7  # the approval covers every household


def test_approving_stale_drafts_recomputes_them_and_asks_again(app, city, officer_client):
    from models import IncomeDeclaration
    from services import rent_run

    with connected(app):
        run = rent_run.compute_pending(rent_run.start(FY, city.staff))
        IncomeDeclaration.update(status="submitted", seirei_getsushu=125_833, bracket=3).where(
            (IncomeDeclaration.household == city.undeclared.id) & (IncomeDeclaration.fiscal_year == FY - 1)
        ).execute()
    stale = post(officer_client, f"/staff/rent/runs/{run.id}/approve")
    assert stale.status_code == 303 and stale.headers["Location"].endswith(f"/staff/rent/runs/{run.id}")
    page = officer_client.get(f"/staff/rent/runs/{run.id}").get_data(as_text=True)
    assert "1世帯の入力が変わったため再計算しました。内容を確認して、もう一度承認してください" in page
    assert "承認して通知書を作成" in page
    with connected(app):
        assert RentRun.get_by_id(run.id).state == "preview"
        assert not Job.select().where(Job.kind == "rent_run.approve").exists()
    again = post(officer_client, f"/staff/rent/runs/{run.id}/approve")
    assert again.status_code == 303 and "/staff/jobs/" in again.headers["Location"]
    with connected(app):
        jobs.run_pending()
        assert RentRun.get_by_id(run.id).state == "issued"
