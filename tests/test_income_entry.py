"""収入申告 entered by staff in the household file: the worked examples of SPEC §4 reproduced through the
form (stored 政令月収 and 収入分位 equal the rules' result), 和暦 dates, amounts typed the Japanese way,
422 beside the fields with nothing written, 409 with both versions, plain forms without JavaScript,
roles and scope, audit entries and the section's history line."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from extensions import db
from models import AuditEntry, Household, IncomeDeclaration, MemberIncome, Person, RemoteDependent
from models.classification import classify
from rules.income import Member, bracket_for, household_income
from rules.income import RemoteDependent as RulesRemote
from services import declarations
from services.masters import fiscal_year_start, income_masters, rent_bands
from tests.conftest import csrf_token_of
from tests.factories import make_household, make_person, make_tenancy

HX = {"HX-Request": "true"}
FY = 2026  # incomes of 2025 (令和7年分): the 給与所得 table from 2025 applies
SUBMITTED = "令和8年7月15日"


class Inside:
    """with Inside(app): the models usable outside a request."""

    def __init__(self, app):
        self.app = app

    def __enter__(self):
        self.ctx = self.app.app_context()
        self.ctx.push()
        self.conn = db.connection_context()
        self.conn.__enter__()

    def __exit__(self, *exc):
        self.conn.__exit__(*exc)
        self.ctx.pop()


@pytest.fixture
def couple(app):
    """A household: a salaried head (born 1975) and a pensioner spouse aged 70 at the end of 2025."""
    with Inside(app):
        h = make_household()
        make_tenancy(h)
        head = make_person(h, name="川崎 太郎", birth_date=dt.date(1975, 5, 1))
        spouse = make_person(
            h, name="川崎 花子", name_kana="カワサキ ハナコ", kana_key="カワサキハナコ", sex="female",
            relation="spouse", is_head=False, birth_date=dt.date(1955, 3, 1),
        )  # fmt: skip
        return {"household": h.id, "head": head.id, "spouse": spouse.id}


def url(hid, fy=FY, what="edit"):
    return (
        f"/staff/household/{hid}/income/{fy}/{what}"
        if what == "edit"
        else f"/staff/household/{hid}/income/new"
    )


def member(index, person_id, salary="", pension="", other="", non_taxable="", dependent=False, widow=False,
           single_parent=False, disability="none") -> dict:  # fmt: skip
    data = {
        f"members-{index}-person_id": str(person_id),
        f"members-{index}-salary_revenue": salary,
        f"members-{index}-pension_revenue": pension,
        f"members-{index}-other_income": other,
        f"members-{index}-non_taxable_revenue": non_taxable,
        f"members-{index}-disability": disability,
    }
    for name, on in (("is_dependent", dependent), ("is_widow", widow), ("is_single_parent", single_parent)):
        if on:
            data[f"members-{index}-{name}"] = "y"
    return data


def form(client, *members, version=0, status="submitted", source="self", submitted_on=SUBMITTED, remote=(),
         **extra) -> dict:  # fmt: skip
    data = {
        "csrf_token": csrf_token_of(client),
        "version": str(version),
        "status": status,
        "source": source,
        "submitted_on": submitted_on,
    }
    for m in members:
        data.update(m)
    for index, (name, birth, disability) in enumerate(remote):
        data.update(
            {
                f"remote-{index}-name": name,
                f"remote-{index}-birth_date": birth,
                f"remote-{index}-disability": disability,
            }
        )
    data.update(extra)
    return data


def declaration(app, hid, fy=FY) -> IncomeDeclaration | None:
    with Inside(app):
        return IncomeDeclaration.get_or_none(
            (IncomeDeclaration.household == hid) & (IncomeDeclaration.fiscal_year == fy)
        )


def incomes(app, hid) -> dict[int, MemberIncome]:
    with Inside(app):
        rows = MemberIncome.select().join(IncomeDeclaration).where(IncomeDeclaration.household == hid)
        return {row.person_id: row for row in rows}


def entries(app, hid, prefix="") -> list[AuditEntry]:
    with Inside(app):
        return list(
            AuditEntry.select()
            .where(
                (AuditEntry.target_ids == f"[{hid}]")
                & AuditEntry.action.startswith(prefix)
                & AuditEntry.fields.contains(".")
            )
            .order_by(AuditEntry.id)
        )


def expected(app, members, remote=()):
    """The rules' own result for the members (head first) of income year 2025 and its 収入分位."""
    with Inside(app):
        result = household_income(members, remote, income_masters(FY - 1))
        band = bracket_for(result.seirei_getsushu, rent_bands(fiscal_year_start(FY)))
    return result, band.bracket


def save_couple(client, couple, salary="3,500,000", pension="2,000,000", version=0, headers=HX):
    return client.post(
        url(couple["household"]),
        data=form(
            client,
            member(0, couple["head"], salary=salary),
            member(1, couple["spouse"], pension=pension),
            version=version,
        ),
        headers=headers,
    )


# --- the form ----------------------------------------------------------------------------------------


def test_the_form_lists_every_current_member_with_the_hints(app, staff_client, couple):
    with Inside(app):
        former = make_person(
            Household.get_by_id(couple["household"]), name="川崎 次郎", relation="child", is_head=False,
            birth_date=dt.date(2000, 1, 1), member_to=dt.date(2020, 3, 31),
        )  # fmt: skip
    response = staff_client.get(url(couple["household"]), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "川崎 太郎" in html and "川崎 花子" in html
    assert "川崎 次郎" not in html and f'value="{former.id}"' not in html  # not a current member
    assert 'name="version" type="hidden" value="0"' in html  # not entered yet
    for label in (
        "給与収入",
        "公的年金等収入",
        "その他の所得",
        "非課税収入",
        "扶養親族",
        "寡婦",
        "ひとり親",
        "障害者控除区分",
    ):
        assert label in html, label
    assert "遺族年金・障害年金・失業給付" in html  # the non-taxable hint
    assert "遠隔地扶養親族を追加" in html
    assert "70歳" in html  # the spouse's age at 31 December 2025
    assert response.headers["Cache-Control"] == "no-store"


def test_without_javascript_the_form_is_a_page(staff_client, couple):
    response = staff_client.get(url(couple["household"]))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in html and "令和8年度の収入申告" in html
    assert f'action="{url(couple["household"])}"' in html


# --- worked examples through the form ------------------------------------------------------------


def test_salaried_head_and_pensioner_spouse(app, staff_client, couple):
    hid = couple["household"]
    response = save_couple(staff_client, couple)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert response.headers["HX-Retarget"] == "#income"
    toast = json.loads(response.headers["HX-Trigger"])["toast"]
    assert toast["message"] == "令和8年度の収入申告を保存しました（政令月収 224,166円・収入分位 7）。"

    result, bracket = expected(
        app,
        [
            Member("head", dt.date(1975, 5, 1), salary_revenue=3_500_000),
            Member("spouse", dt.date(1955, 3, 1), pension_revenue=2_000_000),
        ],
    )
    # 給与所得 2,370,000 (ヘ 100,000); 雑所得 900,000 at 70 (イ 380,000 + ヘ 100,000).
    assert (result.seirei_getsushu, bracket) == (224_166, 7)
    d = declaration(app, hid)
    assert (d.seirei_getsushu, d.bracket) == (result.seirei_getsushu, bracket)
    assert (d.total_income, d.total_deduction) == (3_270_000, 580_000)
    assert (d.status, d.source, d.submitted_on, d.income_year) == (
        "submitted",
        "self",
        dt.date(2026, 7, 15),
        2025,
    )
    assert d.computed_at is not None and d.version == 1
    assert set(json.loads(d.masters_used)) == {
        "salary_income_band", "pension_deduction_band", "master_parameter", "rent_base_band",
    }  # fmt: skip
    steps = json.loads(d.explanation)
    assert any("224,166円" in step for step in steps)
    assert any("川崎 花子" in step for step in steps)
    rows = incomes(app, hid)
    head, spouse = rows[couple["head"]], rows[couple["spouse"]]
    assert (head.salary_income, head.income_amount, head.deduction_amount) == (2_370_000, 2_370_000, 100_000)
    assert (spouse.pension_income, spouse.income_amount, spouse.deduction_amount) == (
        900_000,
        900_000,
        480_000,
    )

    # The section: the year's line with 政令月収 and 区分, the members' figures and the explanation.
    assert 'data-testid="seirei-getsushu">¥224,166<' in html
    assert 'data-testid="bracket">7<' in html
    assert "¥2,370,000" in html and "¥480,000" in html
    assert "政令月収の計算過程" in html and "名義人 = 川崎 太郎" in html
    assert "income_year_from=2025" in (d.masters_used or "")  # the masters used are stored with it


@pytest.mark.parametrize(
    ("people", "given", "seirei", "bracket"),
    [
        # SPEC E1: head 給与収入 3,500,000, spouse without income, child 10 → 125,833, 区分3.
        (
            [("head", dt.date(1985, 5, 1)), ("spouse", dt.date(1987, 6, 1)), ("child", dt.date(2015, 4, 1))],
            [{"salary": "3,500,000"}, {"dependent": True}, {"dependent": True}],
            125_833,
            3,
        ),
        # SPEC E2: a single person with 給与収入 3,000,000 → 160,000; with a disability 137,500.
        ([("head", dt.date(1980, 1, 1))], [{"salary": "3000000"}], 160_000, 5),
        ([("head", dt.date(1980, 1, 1))], [{"salary": "3000000", "disability": "ordinary"}], 137_500, 3),
    ],
)
def test_worked_examples_of_the_spec(app, staff_client, people, given, seirei, bracket):
    with Inside(app):
        h = make_household()
        ids = []
        for index, (relation, birth) in enumerate(people):
            person = make_person(
                h, relation=relation, is_head=index == 0, birth_date=birth, name=f"試験 {index}"
            )
            ids.append(person.id)
    rows = [member(i, pid, **given[i]) for i, pid in enumerate(ids)]
    response = staff_client.post(url(h.id), data=form(staff_client, *rows), headers=HX)
    assert response.status_code == 200, response.get_data(as_text=True)
    d = declaration(app, h.id)
    assert (d.seirei_getsushu, d.bracket) == (seirei, bracket)


def test_remote_dependent_with_a_wareki_birth_date(app, staff_client, couple):
    """A dependent living elsewhere born 昭和20年 (80 at the end of 2025): イ 380,000 + ロ 100,000."""
    hid = couple["household"]
    response = staff_client.post(
        url(hid),
        data=form(
            staff_client,
            member(0, couple["head"], salary="3,500,000"),
            member(1, couple["spouse"], pension="2,000,000"),
            remote=[("山田　一郎", "昭和20年1月1日", "none")],
            submitted_on="R8.7.15",
        ),
        headers=HX,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    result, bracket = expected(
        app,
        [
            Member("head", dt.date(1975, 5, 1), salary_revenue=3_500_000),
            Member("spouse", dt.date(1955, 3, 1), pension_revenue=2_000_000),
        ],
        [RulesRemote(dt.date(1945, 1, 1))],
    )
    d = declaration(app, hid)
    assert d.submitted_on == dt.date(2026, 7, 15)
    assert d.total_deduction == 580_000 + 480_000 == result.total_deduction
    assert (d.seirei_getsushu, d.bracket) == (result.seirei_getsushu, bracket) == (184_166, 5)
    with Inside(app):
        (remote,) = list(RemoteDependent.select().where(RemoteDependent.declaration == d.id))
    assert (remote.name, remote.birth_date, remote.disability) == ("山田　一郎", dt.date(1945, 1, 1), "none")
    # Shown in the form again, as entered.
    html = staff_client.get(url(hid), headers=HX).get_data(as_text=True)
    assert 'value="山田　一郎"' in html and 'value="1945-01-01"' in html


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("12,000", 12_000),
        ("１２０００円", 12_000),
        ("１２，０００円", 12_000),
        ("¥3,500,000", 3_500_000),
        ("￥３５０００００", 3_500_000),
        (" 999,999,999 ", 999_999_999),
        ("", 0),
    ],
)
def test_amounts_are_normalised(app, staff_client, couple, typed, stored):
    hid = couple["household"]
    response = staff_client.post(
        url(hid),
        data=form(
            staff_client,
            member(0, couple["head"], salary=typed, non_taxable=typed),
            member(1, couple["spouse"]),
        ),
        headers=HX,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    head = incomes(app, hid)[couple["head"]]
    assert head.salary_revenue == stored and head.non_taxable_revenue == stored


def test_non_taxable_income_is_kept_but_not_counted(app, staff_client, couple):
    hid = couple["household"]
    staff_client.post(
        url(hid),
        data=form(
            staff_client,
            member(0, couple["head"], salary="3,500,000"),
            member(1, couple["spouse"], pension="2,000,000", non_taxable="1,200,000"),  # 遺族年金
        ),
        headers=HX,
    )
    d = declaration(app, hid)
    assert d.seirei_getsushu == 224_166  # as without it
    assert incomes(app, hid)[couple["spouse"]].non_taxable_revenue == 1_200_000
    assert any("非課税収入" in step and "1,200,000円" in step for step in json.loads(d.explanation))


# --- 422: messages beside the fields, nothing written ---------------------------------------------------


def test_invalid_input_is_422_beside_the_fields_and_nothing_is_written(app, staff_client, couple):
    hid = couple["household"]
    data = form(
        staff_client,
        member(0, couple["head"], salary="abc", pension="1,000,000,000"),
        member(1, couple["spouse"], pension="2,000,000", widow=True, single_parent=True),
        remote=[("山田　一郎", "", "none"), ("", "令和9年1月1日", "none")],
        submitted_on="令和8年2月30日",
    )
    response = staff_client.post(url(hid), data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (
        'id="members-0-salary_revenue-error"' in html
        and "金額は0以上の整数（円）で入力してください。" in html
    )
    assert (
        'id="members-0-pension_revenue-error"' in html
        and "金額は999,999,999円以下で入力してください。" in html
    )
    assert 'id="submitted_on-error"' in html
    assert 'value="abc"' in html  # what was typed stays
    assert declaration(app, hid) is None and incomes(app, hid) == {}

    # The rules' combinations, once the amounts can be read.
    data.update(
        {"members-0-salary_revenue": "3,500,000", "members-0-pension_revenue": "", "submitted_on": SUBMITTED}
    )
    response = staff_client.post(url(hid), data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(r'id="members-1-is_single_parent-error">(.*?)</ul>', html, re.S).group(1)
    assert "寡婦とひとり親は同時に選べません。" in error
    assert re.search(r'id="remote-0-birth_date-error">.*?生年月日を入力してください。', html, re.S)
    assert re.search(r'id="remote-1-name-error">.*?氏名を入力してください。', html, re.S)
    assert re.search(r'id="remote-1-birth_date-error">.*?年齢の基準日', html, re.S)
    assert declaration(app, hid) is None and incomes(app, hid) == {}
    assert entries(app, hid) == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"submitted_on": ""}, "submitted_on", "提出済の申告は提出日を入力してください。"),
        ({"submitted_on": "2025-12-31"}, "submitted_on", "2025年分の収入の申告です。"),
        ({"submitted_on": "2099-01-01"}, "submitted_on", "今日より後の日付"),
        ({"source": ""}, "source", "収入の根拠を選んでください。"),
        ({"status": "tax_certified"}, "source", "「税情報照会」にしてください。"),
        ({"status": "not_submitted", "submitted_on": ""}, "status", "申告状況を「提出済」"),
        ({"status": "bogus"}, "status", "一覧から選んでください。"),
        ({"members-1-disability": "bogus"}, "members-1-disability", "一覧から選んでください。"),
        ({"members-0-is_dependent": "y"}, "members-0-is_dependent", "名義人は扶養親族にできません。"),
    ],
)
def test_invalid_combinations_leave_a_saved_declaration_unchanged(
    app, staff_client, couple, changes, field, message
):
    hid = couple["household"]
    assert save_couple(staff_client, couple).status_code == 200
    before = declaration(app, hid)
    before_rows = {pid: row.__data__ for pid, row in incomes(app, hid).items()}
    before_entries = len(entries(app, hid))
    data = form(
        staff_client,
        member(0, couple["head"], salary="4,000,000"),
        member(1, couple["spouse"], pension="2,000,000"),
        version=1,
    )
    data.update(changes)
    response = staff_client.post(url(hid), data=data, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 422, html
    assert re.search(rf'id="{field}-error">.*?{re.escape(message)}', html, re.S), html
    after = declaration(app, hid)
    assert after.version == before.version and after.seirei_getsushu == before.seirei_getsushu
    assert {pid: row.__data__ for pid, row in incomes(app, hid).items()} == before_rows
    assert len(entries(app, hid)) == before_entries


def test_a_declaration_without_incomes_holds_no_figures(app, staff_client, couple):
    hid = couple["household"]
    assert save_couple(staff_client, couple).status_code == 200
    response = staff_client.post(
        url(hid),
        data=form(
            staff_client,
            member(0, couple["head"]),
            member(1, couple["spouse"]),
            version=1,
            status="not_submitted",
            source="",
            submitted_on="",
        ),  # fmt: skip
        headers=HX,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    d = declaration(app, hid)
    assert (d.status, d.seirei_getsushu, d.bracket, d.explanation) == ("not_submitted", None, None, None)
    assert incomes(app, hid) == {}
    deleted = entries(app, hid, "member_income.delete")
    assert len(deleted) == 2
    assert json.loads(deleted[0].changes)["member_income.salary_revenue"][1] is None


def test_masters_missing_for_an_old_year_is_422(app, staff_client, couple):
    hid = couple["household"]
    response = staff_client.post(
        url(hid, fy=2019),
        data=form(
            staff_client,
            member(0, couple["head"], salary="1"),
            member(1, couple["spouse"]),
            submitted_on="2019-07-01",
        ),
        headers=HX,
    )
    assert response.status_code == 422
    assert "2018年分の収入に適用するマスタ" in response.get_data(as_text=True)
    assert declaration(app, hid, 2019) is None


# --- 409: two people, one declaration -----------------------------------------------------------------


def test_two_people_editing_get_a_409_with_both_versions(app, make_user, login, staff_client, couple):
    hid = couple["household"]
    assert save_couple(staff_client, couple).status_code == 200  # version 1
    other = app.test_client()
    login(other, make_user("staff"))
    # Both opened version 1; the other saves first.
    assert save_couple(other, couple, salary="3,600,000", version=1).status_code == 200
    late = save_couple(staff_client, couple, salary="4,000,000", version=1)
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in html
    table = re.search(r'<table class="table conflict-table">(.*?)</table>', html, re.S).group(1)
    assert "川崎 太郎：給与収入" in table
    assert "4,000,000円" in table and "3,600,000円" in table  # mine and theirs
    assert "政令月収" in table and "256,666円" in table and "230,000円" in table  # mine would give, saved
    assert 'name="version" type="hidden" value="2"' in html
    assert 'value="4,000,000"' in html  # the form keeps what this user typed
    assert incomes(app, hid)[couple["head"]].salary_revenue == 3_600_000  # no silent overwrite
    again = save_couple(staff_client, couple, salary="4,000,000", version=2)
    assert again.status_code == 200
    assert incomes(app, hid)[couple["head"]].salary_revenue == 4_000_000
    assert declaration(app, hid).version == 3


def test_two_people_entering_the_same_new_year(app, make_user, login, staff_client, couple):
    hid = couple["household"]
    other = app.test_client()
    login(other, make_user("staff"))
    assert save_couple(other, couple, salary="3,600,000").status_code == 200
    late = save_couple(staff_client, couple, salary="4,000,000")  # also version 0
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "4,000,000円" in html and "3,600,000円" in html
    assert 'name="version" type="hidden" value="1"' in html
    assert incomes(app, hid)[couple["head"]].salary_revenue == 3_600_000


def test_a_new_declaration_for_a_year_entered_meanwhile_becomes_its_edit(
    app, make_user, login, staff_client, couple
):
    hid = couple["household"]
    page = staff_client.get(url(hid, what="new"), headers=HX).get_data(as_text=True)
    assert f'<option selected value="{FY}">' in page or f'value="{FY}" selected' in page
    other = app.test_client()
    login(other, make_user("staff"))
    assert save_couple(other, couple).status_code == 200
    data = form(
        staff_client,
        member(0, couple["head"], salary="100"),
        member(1, couple["spouse"]),
        fiscal_year=str(FY),
    )
    late = staff_client.post(url(hid, what="new"), data=data, headers=HX)
    html = late.get_data(as_text=True)
    assert late.status_code == 409
    assert f'action="{url(hid)}"' in html  # saving again corrects the declaration now there
    assert 'name="fiscal_year"' not in html
    # Once entered, the year is no longer offered for a new declaration.
    again = staff_client.get(url(hid, what="new"), headers=HX).get_data(as_text=True)
    assert f'value="{FY}"' not in again


def test_members_that_changed_since_the_form_opened_are_a_409(app, staff_client, couple):
    hid = couple["household"]
    with Inside(app):
        child = make_person(
            Household.get_by_id(hid), name="川崎 一郎", relation="child", is_head=False,
            birth_date=dt.date(2010, 1, 1), member_from=dt.date(2026, 1, 1),
        )  # fmt: skip
    response = save_couple(staff_client, couple)  # the form listed two members
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "世帯員が変わりました" in html
    assert f'value="{child.id}"' in html and 'value="3,500,000"' in html  # the new row, what was typed kept
    assert declaration(app, hid) is None


# --- remote dependents: rows added and removed by posting the form ----------------------------------------


def test_remote_dependent_rows_are_added_and_removed(app, staff_client, couple):
    hid = couple["household"]
    base = form(staff_client, member(0, couple["head"], salary="3,500,000"), member(1, couple["spouse"]))
    added = staff_client.post(url(hid), data={**base, "action": "add_remote"}, headers=HX)
    html = added.get_data(as_text=True)
    assert added.status_code == 200
    assert 'name="remote-0-name"' in html and 'value="3,500,000"' in html
    assert declaration(app, hid) is None  # nothing written

    saved = staff_client.post(
        url(hid), data=form(staff_client, member(0, couple["head"], salary="3,500,000"), member(1, couple["spouse"]),
                            remote=[("山田　一郎", "1945-01-01", "special"), ("山田　二郎", "2005-06-01", "none")]),
        headers=HX,
    )  # fmt: skip
    assert saved.status_code == 200
    with Inside(app):
        rows = list(RemoteDependent.select().order_by(RemoteDependent.id))
    assert [r.name for r in rows] == ["山田　一郎", "山田　二郎"]

    form_html = staff_client.get(url(hid), headers=HX).get_data(as_text=True)
    assert 'value="remove_remote:1"' in form_html
    data = form(
        staff_client, member(0, couple["head"], salary="3,500,000"), member(1, couple["spouse"]), version=1,
        remote=[("山田　一郎", "1945-01-01", "special"), ("山田　二郎", "2005-06-01", "none")],
    )  # fmt: skip
    data.update({"remote-0-row_id": str(rows[0].id), "remote-1-row_id": str(rows[1].id)})
    removed = staff_client.post(url(hid), data={**data, "action": "remove_remote:0"}, headers=HX)
    html = removed.get_data(as_text=True)
    assert removed.status_code == 200 and "山田　一郎" not in html and "山田　二郎" in html
    # Saving the form as it now is deletes the removed row.
    (
        data.pop("remote-0-name"),
        data.pop("remote-0-birth_date"),
        data.pop("remote-0-disability"),
        data.pop("remote-0-row_id"),
    )
    assert staff_client.post(url(hid), data=data, headers=HX).status_code == 200
    with Inside(app):
        assert [r.name for r in RemoteDependent.select()] == ["山田　二郎"]
    (deleted,) = entries(app, hid, "remote_dependent.delete")
    assert json.loads(deleted.changes)["remote_dependent.name"] == ["山田　一郎", None]


# --- without JavaScript ---------------------------------------------------------------------------------


def test_without_javascript_a_save_redirects_with_a_message(app, staff_client, couple):
    hid = couple["household"]
    response = save_couple(staff_client, couple, headers={})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/staff/household/{hid}#income")
    page = staff_client.get(f"/staff/household/{hid}").get_data(as_text=True)
    assert "令和8年度の収入申告を保存しました（政令月収 224,166円・収入分位 7）。" in page
    invalid = save_couple(staff_client, couple, salary="x", version=1, headers={})
    assert invalid.status_code == 422 and "<html" in invalid.get_data(as_text=True)
    added = staff_client.post(
        url(hid), data={**form(staff_client, member(0, couple["head"]), member(1, couple["spouse"]), version=1),
                        "action": "add_remote"},
    )  # fmt: skip
    assert added.status_code == 200 and 'name="remote-0-name"' in added.get_data(as_text=True)


# --- roles and scope --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role_client", ["contractor_client", "auditor_client"])
def test_other_roles_are_refused(app, request, couple, role_client):
    client = request.getfixturevalue(role_client)
    hid = couple["household"]
    for address in (url(hid), url(hid, what="new")):
        assert client.get(address, headers=HX).status_code == 403
        assert client.get(address).status_code == 403
        assert save_couple(client, couple).status_code == 403
    assert declaration(app, hid) is None


def test_officers_may_enter_declarations(app, officer_client, couple):
    assert save_couple(officer_client, couple).status_code == 200


def test_anonymous_is_sent_to_login(client, couple):
    assert client.get(url(couple["household"])).status_code == 303
    assert client.get(url(couple["household"]), headers=HX).status_code == 401


def test_unknown_and_out_of_scope_households_are_404(app, staff_client, couple):
    with Inside(app):
        protected = make_household(support_measure=True)
        head = make_person(protected)
    for address in (
        url(999999),
        url(999999, what="new"),
        url(protected.id),
        url(protected.id, what="new"),
        url(couple["household"], fy=1999),
        url(couple["household"], fy=2999),
    ):
        assert staff_client.get(address, headers=HX).status_code == 404, address
        assert (
            staff_client.post(
                address, data=form(staff_client, member(0, head.id, salary="1")), headers=HX
            ).status_code
            == 404
        )
    assert declaration(app, protected.id) is None


def test_another_households_member_cannot_be_slipped_in(app, staff_client, couple):
    with Inside(app):
        stranger = make_person(make_household())
    hid = couple["household"]
    response = staff_client.post(
        url(hid),
        data=form(staff_client, member(0, couple["head"], salary="1"), member(1, stranger.id, salary="1")),
        headers=HX,
    )
    assert response.status_code == 409
    assert f'value="{stranger.id}"' not in response.get_data(as_text=True)
    with Inside(app):
        assert MemberIncome.select().where(MemberIncome.person == stranger.id).count() == 0


# --- audit and history ----------------------------------------------------------------------------------


def test_audit_entries_hold_before_and_after_of_the_amounts(app, staff_client, couple):
    hid = couple["household"]
    save_couple(staff_client, couple)
    (created,) = entries(app, hid, "income_declaration.create")
    assert created.actor_id == staff_client.user.id and created.target_table == "household"
    changes = json.loads(created.changes)
    assert changes["income_declaration.seirei_getsushu"] == [None, 224_166]
    assert changes["income_declaration.bracket"] == [None, 7]
    assert len(entries(app, hid, "member_income.create")) == 2

    save_couple(staff_client, couple, salary="3,600,000", version=1)
    (updated,) = entries(app, hid, "income_declaration.update")
    changes = json.loads(updated.changes)
    assert changes["income_declaration.seirei_getsushu"] == [224_166, (2_440_000 + 900_000 - 580_000) // 12]
    assert "income_declaration.status" not in changes  # only what changed
    (member_update,) = entries(app, hid, "member_income.update")
    changes = json.loads(member_update.changes)
    assert changes["member_income.salary_revenue"] == [3_500_000, 3_600_000]
    assert changes["member_income.salary_income"] == [2_370_000, 2_440_000]
    assert set(json.loads(member_update.fields)) == set(changes)
    # Income figures are C2: recorded with their values (only C3 would be named without them).
    for name in changes:
        table, _, column = name.partition(".")
        assert classify(table, column) == "C2"
    # Saving the same again changes nothing and writes nothing.
    count = len(entries(app, hid))
    again = save_couple(staff_client, couple, salary="3,600,000", version=2)
    assert json.loads(again.headers["HX-Trigger"])["toast"]["message"] == "変更はありませんでした。"
    assert len(entries(app, hid)) == count and declaration(app, hid).version == 2


def test_the_section_lists_years_newest_first_with_their_history(app, staff_client, couple):
    hid = couple["household"]
    save_couple(staff_client, couple)
    staff_client.post(
        url(hid, fy=2025),
        data=form(staff_client, member(0, couple["head"], salary="3,000,000"), member(1, couple["spouse"]),
                  submitted_on="2025-07-10"),
        headers=HX,
    )  # fmt: skip
    response = save_couple(staff_client, couple, salary="3,600,000", version=1)
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="section file-section" id="income"')
    assert html.index("令和8年度") < html.index("令和7年度")  # newest first
    assert "新しい年度の申告を入力" in html
    assert f'href="{url(hid)}"' in html and f'href="{url(hid, fy=2025)}"' in html
    for item in ("収入申告区分", "政令月収", "収入分位", "収入額", "所得額", "控除額", "認定"):
        assert item in html, item
    # The history line: who changed which amount, before and after.
    history = re.search(
        r'<details class="file-changes" id="income-changes">(.*?)</details>', html, re.S
    ).group(1)
    assert staff_client.user.login_id in history
    assert "給与収入" in history and "¥3,500,000" in history and "¥3,600,000" in history
    assert "政令月収" in history


def test_the_household_page_still_shows_every_income_item(app, staff_client, couple):
    save_couple(staff_client, couple)
    page = staff_client.get(f"/staff/household/{couple['household']}").get_data(as_text=True)
    section = page[page.index('id="income"') : page.index('id="rent"')]
    for item in (
        "収入額",
        "所得額",
        "控除額",
        "政令月収",
        "収入分位",
        "収入申告区分",
        "¥3,270,000",
        "¥580,000",
    ):
        assert item in section, item


def test_the_service_computes_without_a_request(app, couple):
    """services.declarations is the one place for later callers (the yearly cycle, the portal)."""
    with app.test_request_context(), db.connection_context():
        household = Household.get_by_id(couple["household"])
        opened_ = declarations.load(household, FY)
        assert [p.id for p in opened_.members] == [couple["head"], couple["spouse"]]
        entry = declarations.DeclarationEntry(
            status="tax_certified",
            source="tax",
            members=(
                declarations.MemberEntry(couple["head"], salary_revenue=3_500_000),
                declarations.MemberEntry(couple["spouse"], pension_revenue=2_000_000),
            ),
        )
        assert declarations.check(opened_, entry) == []
        saved = declarations.save(household, FY, entry, 0)
        assert saved.created and saved.computed.seirei_getsushu == 224_166
        with pytest.raises(declarations.ConflictError):
            declarations.save(household, FY, entry, 0)
        with pytest.raises(declarations.MembersChanged):
            declarations.save(household, FY, declarations.DeclarationEntry("tax_certified", "tax"), 1)
        assert Person.select().count() == 2


def test_save_on_both_engines(engine_db):
    """The same save, conflict and correction on SQLite and PostgreSQL (constraints, locks, audit)."""
    household = make_household()
    head = make_person(household, birth_date=dt.date(1975, 5, 1))
    spouse = make_person(household, relation="spouse", is_head=False, birth_date=dt.date(1955, 3, 1))

    def entry(salary):
        return declarations.DeclarationEntry(
            status="submitted",
            source="self",
            submitted_on=dt.date(2026, 7, 15),
            members=(
                declarations.MemberEntry(head.id, salary_revenue=salary),
                declarations.MemberEntry(spouse.id, pension_revenue=2_000_000, is_widow=True),
            ),
            remote_dependents=(declarations.RemoteEntry("山田　一郎", dt.date(1945, 1, 1)),),
        )

    saved = declarations.save(household, FY, entry(3_500_000), 0)
    # 寡婦 270,000 on the spouse's 900,000; the remote dependent イ + ロ.
    assert saved.computed.total_deduction == 580_000 + 270_000 + 480_000
    with pytest.raises(declarations.ConflictError):
        declarations.save(household, FY, entry(3_600_000), 0)
    again = declarations.save(household, FY, entry(3_600_000), 1)
    assert again.changed and again.declaration.version == 2
    stored = IncomeDeclaration.get_by_id(saved.declaration.id)
    assert stored.seirei_getsushu == (2_440_000 + 900_000 - 1_330_000) // 12
    assert MemberIncome.select().where(MemberIncome.declaration == stored.id).count() == 2
    assert RemoteDependent.select().where(RemoteDependent.declaration == stored.id).count() == 1
    assert AuditEntry.select().where(AuditEntry.action == "member_income.update").count() == 1


def test_a_member_who_left_stays_in_the_declaration_they_were_in(app, staff_client, couple):
    hid = couple["household"]
    assert save_couple(staff_client, couple).status_code == 200
    with Inside(app):
        Person.update(member_to=dt.date(2026, 10, 1), leave_reason="moved_out").where(
            Person.id == couple["spouse"]
        ).execute()
    html = staff_client.get(url(hid), headers=HX).get_data(as_text=True)
    assert "川崎 花子" in html and "以前の世帯員" in html
    # Correcting the head's salary keeps the spouse's row and her deductions.
    assert save_couple(staff_client, couple, salary="3,600,000", version=1).status_code == 200
    assert declaration(app, hid).seirei_getsushu == (2_440_000 + 900_000 - 580_000) // 12
    # A new declaration lists only today's members.
    page = staff_client.get(url(hid, fy=FY - 1), headers=HX).get_data(as_text=True)
    assert "川崎 花子" in page  # on 31 March 2026, the end of that fiscal year, she was a member
    with Inside(app):
        opened_ = declarations.load(Household.get_by_id(hid), FY + 1, today=dt.date(2027, 5, 1))
    assert [p.id for p in opened_.members] == [couple["head"]]


def test_a_household_without_a_head_cannot_be_computed(app, staff_client):
    with Inside(app):
        h = make_household()
        member_ = make_person(h, relation="child", is_head=False)
    response = staff_client.post(
        url(h.id), data=form(staff_client, member(0, member_.id, salary="1")), headers=HX
    )
    assert response.status_code == 422
    assert "名義人がいない世帯の収入申告は計算できません。" in response.get_data(as_text=True)
    assert declaration(app, h.id) is None


def test_when_every_offered_year_is_entered_the_new_action_says_so(app, staff_client, couple):
    hid = couple["household"]
    latest = declarations.latest_fiscal_year()
    with Inside(app):
        for year in range(latest, latest - 6, -1):
            IncomeDeclaration.create(household=hid, fiscal_year=year, income_year=year - 1, status="sent")
    response = staff_client.get(url(hid, what="new"), headers=HX)
    assert response.status_code == 200
    assert "入力できる年度の収入申告はすべて入力済みです。" in response.get_data(as_text=True)
