"""The staff rent calculator (/staff/rent/quote): E1 through the form, rows added without JavaScript,
a bad date answered 422 beside the field, a unit by its 住宅コード (audited), and who may open it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import csrf_token_of

URL = "/staff/rent/quote"
HX = {"HX-Request": "true"}


def e1_form(client, **changes) -> dict:
    """SPEC E1 as the form posts it: head 給与収入 3,500,000 (令和7年分), spouse, child 10; the unit
    60.00㎡, 耐火, 20 years, 利便性係数 1.00; 立地係数 left to the master (1.00)."""
    data = {
        "csrf_token": csrf_token_of(client),
        "fiscal_year": "2026",
        "household_category": "general",
        "members-0-relation": "本人",
        "members-0-birth_date": "昭和60年5月1日",
        "members-0-salary_revenue": "3,500,000",
        "members-0-disability": "none",
        "members-1-relation": "配偶者",
        "members-1-birth_date": "1987-06-01",
        "members-1-disability": "none",
        "members-1-dependent": "y",
        "members-2-relation": "子",
        "members-2-birth_date": "H27.4.1",
        "members-2-disability": "none",
        "members-2-dependent": "y",
        "unit_source": "facts",
        "floor_area": "60.00",
        "structure": "fire_resistant",
        "age_years": "20",
        "convenience_coefficient": "1.00",
        "market_rent": "90000",
        "years_resided": "0",
        "declared": "y",
        "action": "calculate",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def result_of(html: str, testid: str) -> str:
    match = re.search(rf'data-testid="{testid}">(.*?)</dd>', html, re.S)
    assert match, testid
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_e1_through_the_form(staff_client):
    page = staff_client.get(URL)
    assert page.status_code == 200
    assert "家賃試算" in page.get_data(as_text=True)
    response = staff_client.post(URL, data=e1_form(staff_client))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert result_of(html, "quote-seirei") == "¥125,833"
    assert result_of(html, "quote-bracket").startswith("区分3")
    assert result_of(html, "quote-rent") == "¥38,600"
    assert result_of(html, "quote-deposit") == "¥115,800"
    assert "基準以内" in result_of(html, "quote-eligible")
    assert "令和8年度" in html  # the fiscal year in 和暦
    assert "昭和60年5月1日 (1985-05-01)" in html  # birth dates in 和暦 and 西暦
    assert "<html" in html  # without htmx: the whole page


def test_e1_with_the_citys_figures_overridden(staff_client):
    data = e1_form(staff_client, location_coefficient="1.15", convenience_coefficient="0.85")
    html = staff_client.post(URL, data=data, headers=HX).get_data(as_text=True)
    assert result_of(html, "quote-rent") == "¥37,700"
    assert "<html" not in html  # htmx: the fragment only


def test_bad_date_is_422_with_the_message_beside_the_field(staff_client):
    response = staff_client.post(
        URL, data=e1_form(staff_client, **{"members-1-birth_date": "2025-02-30"}), headers=HX
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="members-1-birth_date-error"' in html
    assert 'aria-invalid="true"' in html
    assert 'data-testid="quote-rent"' not in html  # no figures from bad input


def test_missing_unit_facts_and_convenience_bound(staff_client):
    response = staff_client.post(URL, data=e1_form(staff_client, market_rent=""))
    assert response.status_code == 422
    assert 'id="market_rent-error"' in response.get_data(as_text=True)
    # 立地係数 1.6 → 利便性係数 at most 1.0.
    response = staff_client.post(
        URL, data=e1_form(staff_client, location_coefficient="1.6", convenience_coefficient="1.1")
    )
    assert response.status_code == 422
    assert 'id="convenience_coefficient-error"' in response.get_data(as_text=True)


def test_rows_are_added_and_removed_without_javascript(staff_client):
    data = e1_form(staff_client, action="add_members")
    html = staff_client.post(URL, data=data).get_data(as_text=True)
    assert html.count('data-testid="quote-member"') == 4
    assert 'data-testid="quote-rent"' not in html  # nothing computed on a row button
    data = e1_form(staff_client, action="remove_members:2")
    html = staff_client.post(URL, data=data).get_data(as_text=True)
    assert html.count('data-testid="quote-member"') == 2
    html = staff_client.post(URL, data=e1_form(staff_client, action="add_remote")).get_data(as_text=True)
    assert html.count('data-testid="quote-remote"') == 1


def test_unit_by_housing_code_is_audited(app, staff_client):
    from models import AuditEntry
    from models.housing import UnitYearFigure
    from tests.factories import make_building, make_unit

    with app.app_context():
        unit = make_unit(building=make_building(year_built=2006))  # 2026 − 2006 = 20 years
        UnitYearFigure.create(
            unit=unit, fiscal_year=2026, convenience_coefficient="1.000", market_rent=90_000
        )
        code = unit.housing_code
        before = AuditEntry.select().where(AuditEntry.action == "rent.quote").count()
    html = staff_client.post(URL, data=e1_form(staff_client, unit_source="code", housing_code=code)).get_data(
        as_text=True
    )
    assert result_of(html, "quote-rent") == "¥38,600"
    with app.app_context():
        entries = list(AuditEntry.select().where(AuditEntry.action == "rent.quote"))
        assert len(entries) == before + 1
        assert str(unit.id) in entries[-1].target_ids
    # Typed-in facts reference no unit: nothing is logged.
    staff_client.post(URL, data=e1_form(staff_client))
    with app.app_context():
        assert AuditEntry.select().where(AuditEntry.action == "rent.quote").count() == before + 1
    response = staff_client.post(URL, data=e1_form(staff_client, unit_source="code", housing_code="NOPE"))
    assert response.status_code == 422
    assert "この住宅コードの住戸はありません" in response.get_data(as_text=True)


@pytest.mark.parametrize("role_client", ["contractor_client", "auditor_client"])
def test_contractor_and_auditor_are_refused(request, role_client):
    client = request.getfixturevalue(role_client)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data=e1_form(client)).status_code == 403


def test_officer_may_use_it(officer_client):
    assert officer_client.get(URL).status_code == 200
