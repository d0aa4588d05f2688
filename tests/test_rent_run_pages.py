"""The yearly rent run's pages: staff start and read it, only another officer approves it."""

from __future__ import annotations

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
