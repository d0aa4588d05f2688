"""口座振替登録 on the household file: bank and branch from the 全銀協 list (picked with htmx, typed by
code without JavaScript), the validation matrix, 入力 → 確認 → 登録, one current registration per
purpose (replacing ends the old one the day before; the partial unique index; concurrent writers on
both engines), 廃止, 409 with both versions, audit entries without the full account number, names in
the section without a query per row, and access (contractors 403, out of scope 404)."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import IntegrityError

from extensions import db
from models import AuditEntry, BankTransfer, Household
from services import bank_transfers, banks
from tests.conftest import csrf_token_of
from tests.factories import make_assignment, make_household, make_person, make_tenancy
from tests.test_household_page import counting_queries

HX = {"HX-Request": "true"}
P = "transfer_"
NUMBER = "1234567"


@pytest.fixture
def household(app):
    with app.app_context(), db.connection_context():
        h = make_household()
        make_person(h)
        make_tenancy(h)
        return h.id


def make_transfer(household_id, **kw) -> BankTransfer:
    return BankTransfer.create(
        **{
            "household": household_id,
            "purpose": "rent",
            "bank_code": "0005",
            "branch_code": "001",
            "account_type": "ordinary",
            "account_number": "7654321",
            "holder_kana": "ｶﾜｻｷ ﾀﾛｳ",
            "valid_from": dt.date(2020, 4, 1),
            **kw,
        }
    )


def reg_data(client, *, confirmed=False, op=None, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token_of(client),
        "purpose": "rent",
        "bank_query": "0009",
        "branch_query": "755",
        "account_type": "ordinary",
        "account_number": NUMBER,
        "holder_kana": "カワサキ　タロウ",
        "valid_from": "2026-04-01",
        "seen_rent": "0",
        "seen_parking": "0",
    }
    data.update(overrides)
    out = {P + k: v for k, v in data.items()}
    if confirmed:
        out["confirmed"] = "1"
    if op:
        out["op"] = op
    return out


def url_of(hid) -> str:
    return f"/staff/household/{hid}/transfers/new"


def transfers_of(app, hid) -> list[BankTransfer]:
    with app.app_context(), db.connection_context():
        return list(
            BankTransfer.select().where(BankTransfer.household == hid).order_by(BankTransfer.valid_from)
        )


def entries(app, action=None) -> list[AuditEntry]:
    with app.app_context(), db.connection_context():
        query = AuditEntry.select().order_by(AuditEntry.id)
        if action:
            query = query.where(AuditEntry.action == action)
        return list(query)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def page(client, hid) -> str:
    response = client.get(f"/staff/household/{hid}")
    assert response.status_code == 200
    return text_of(response)


# --- registering ---------------------------------------------------------------------------------------


def test_without_javascript_codes_are_typed_confirmed_and_registered(app, staff_client, household):
    form = staff_client.get(url_of(household))
    assert form.status_code == 200 and "<html" in form.get_data(as_text=True)

    confirm = staff_client.post(
        url_of(household), data=reg_data(staff_client, holder_kana="かわさき　たろう")
    )
    text = text_of(confirm)
    assert confirm.status_code == 200 and "<html" in text
    assert "登録内容の確認" in text
    # The server found the names for the typed codes and shows the converted holder name.
    assert "三井住友" in text and "ミツイスミトモ" in text and "川崎" in text and "カワサキ" in text
    assert 'data-testid="holder-kana">ｶﾜｻｷ ﾀﾛｳ<' in text and "入力: かわさき　たろう" in text
    assert NUMBER in text
    assert transfers_of(app, household) == []  # nothing stored before 登録

    saved = staff_client.post(
        url_of(household), data=reg_data(staff_client, confirmed=True, holder_kana="ｶﾜｻｷ ﾀﾛｳ", bank_query="",
                                         branch_query="", bank_code="0009", branch_code="755"),
    )  # fmt: skip
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith(f"/staff/household/{household}#transfers")
    (t,) = transfers_of(app, household)
    assert (t.purpose, t.bank_code, t.branch_code, t.account_type) == ("rent", "0009", "755", "ordinary")
    assert (t.account_number, t.holder_kana, t.valid_from, t.valid_to) == (
        NUMBER, "ｶﾜｻｷ ﾀﾛｳ", dt.date(2026, 4, 1), None,
    )  # fmt: skip
    shown = page(staff_client, household)
    assert "口座振替を登録しました。" in shown
    assert "三井住友" in shown and "ミツイスミトモ" in shown and "****567" in shown
    assert NUMBER not in shown


def test_with_htmx_the_bank_and_branch_are_picked_from_searches(app, staff_client, household):
    url = url_of(household)
    opened = staff_client.get(url, headers=HX)
    assert opened.status_code == 200 and "<html" not in opened.get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms"' in opened.get_data(as_text=True)

    found = staff_client.post(
        url, data=reg_data(staff_client, op="search_bank", bank_query="みつい"), headers=HX
    )
    assert found.status_code == 200 and 'value="bank:0009"' in found.get_data(as_text=True)

    picked = staff_client.post(
        url, data=reg_data(staff_client, op="bank:0009", bank_query="みつい"), headers=HX
    )
    text = text_of(picked)
    assert picked.status_code == 200
    assert 'data-testid="chosen-bank"' in text and "ミツイスミトモ" in text
    assert 'name="transfer_bank_code" type="hidden" value="0009"' in text
    assert "autofocus" in text  # the branch search comes next
    assert "入力内容に誤りがあります" not in text  # a step, not a validation

    branches = staff_client.post(
        url, data=reg_data(staff_client, op="search_branch", bank_query="", bank_code="0009", branch_query="かわさき"),
        headers=HX,
    )  # fmt: skip
    assert 'value="branch:755"' in branches.get_data(as_text=True)
    chosen = staff_client.post(
        url, data=reg_data(staff_client, op="branch:755", bank_query="", bank_code="0009", branch_query="かわさき"),
        headers=HX,
    )  # fmt: skip
    assert 'data-testid="chosen-branch"' in chosen.get_data(as_text=True)
    assert 'name="transfer_branch_code" type="hidden" value="755"' in chosen.get_data(as_text=True)

    changed = staff_client.post(
        url, data=reg_data(staff_client, op="change_bank", bank_query="", bank_code="0009", branch_code="755"),
        headers=HX,
    )  # fmt: skip
    assert 'data-testid="chosen-bank"' not in changed.get_data(as_text=True)

    data = reg_data(staff_client, bank_query="", branch_query="", bank_code="0009", branch_code="755")
    confirm = staff_client.post(url, data=data, headers=HX)
    assert confirm.status_code == 200 and 'name="confirmed" value="1"' in confirm.get_data(as_text=True)
    saved = staff_client.post(url, data={**data, "confirmed": "1"}, headers=HX)
    text = text_of(saved)
    assert saved.status_code == 200, text
    assert saved.headers["HX-Retarget"] == "#transfers"
    assert json.loads(saved.headers["HX-Trigger"])["toast"]["message"] == "口座振替を登録しました。"
    assert text.lstrip().startswith('<section class="section file-section" id="transfers"')
    assert "三井住友" in text and "川崎" in text and "****567" in text and NUMBER not in text
    assert len(transfers_of(app, household)) == 1


def test_back_from_the_confirmation_keeps_what_was_typed(staff_client, household):
    data = reg_data(staff_client, confirmed=True, op="edit", bank_query="", branch_query="",
                    bank_code="0009", branch_code="755", holder_kana="ｶﾜｻｷ ﾀﾛｳ")  # fmt: skip
    response = staff_client.post(url_of(household), data=data, headers=HX)
    text = text_of(response)
    assert response.status_code == 200
    assert 'data-testid="chosen-bank"' in text and 'data-testid="chosen-branch"' in text
    assert 'value="ｶﾜｻｷ ﾀﾛｳ"' in text and f'value="{NUMBER}"' in text


BAD = [
    ({"bank_query": "12"}, "bank_query", "金融機関コードは4桁の数字で入力してください。"),
    ({"bank_query": "9999"}, "bank_query", "金融機関コード「9999」は金融機関の一覧にありません。"),
    ({"bank_query": ""}, "bank_query", "金融機関を選んでください"),
    ({"bank_query": "みつい"}, "bank_query", "候補の一覧から金融機関を選んでください。"),
    (
        {"bank_query": "存在しない銀行"},
        "bank_query",
        "「存在しない銀行」に当てはまる金融機関は見つかりませんでした。",
    ),
    ({"bank_query": "", "bank_code": "9999"}, "bank_query", "選んだ金融機関が一覧にありません。"),
    ({"bank_query": "", "bank_code": "<b>"}, "bank_query", "選んだ金融機関が一覧にありません。"),
    ({"branch_query": "99"}, "branch_query", "支店コードは3桁の数字で入力してください。"),
    ({"branch_query": "999"}, "branch_query", "支店コード「999」は三井住友の支店にありません。"),
    ({"branch_query": ""}, "branch_query", "支店を選んでください"),
    ({"branch_query": "", "branch_code": "999"}, "branch_query", "選んだ支店が一覧にありません。"),
    (
        {"branch_query": "存在しない支店"},
        "branch_query",
        "三井住友に「存在しない支店」に当てはまる支店は見つかりませんでした。",
    ),
    ({"account_number": "12a4"}, "account_number", "口座番号は7桁以内の数字で入力してください。"),
    ({"account_number": "12345678"}, "account_number", "口座番号は7桁以内の数字で入力してください。"),
    ({"account_number": "-123"}, "account_number", "口座番号は7桁以内の数字で入力してください。"),
    ({"account_number": ""}, "account_number", "入力してください。"),
    ({"holder_kana": "川崎　太郎"}, "holder_kana", "口座名義に使えない文字「川」があります。"),
    ({"holder_kana": "ヲカ"}, "holder_kana", "口座名義に使えない文字「ヲ」があります。"),
    ({"holder_kana": "KAWASAKI@"}, "holder_kana", "口座名義に使えない文字「@」があります。"),
    ({"holder_kana": "ア" * 31}, "holder_kana", "いまは31文字です"),
    ({"holder_kana": "ガ" * 16}, "holder_kana", "いまは32文字です"),  # ｶﾞ counts two
    ({"holder_kana": "ア" * 500}, "holder_kana", "口座名義は半角30文字以内で入力してください。"),
    ({"holder_kana": ""}, "holder_kana", "入力してください。"),
    ({"valid_from": "2026-02-30"}, "valid_from", ""),
    ({"valid_from": ""}, "valid_from", "入力してください。"),
    ({"purpose": "electricity"}, "purpose", ""),
    ({"account_type": "x"}, "account_type", ""),
]


@pytest.mark.parametrize("confirmed", [False, True], ids=["confirm", "save"])
@pytest.mark.parametrize(("overrides", "field", "message"), BAD)
def test_validation_matrix_is_422_beside_the_field(
    app, staff_client, household, overrides, field, message, confirmed
):
    data = reg_data(staff_client, confirmed=confirmed, **overrides)
    response = staff_client.post(url_of(household), data=data, headers=HX)
    text = text_of(response)
    assert response.status_code == 422, text
    assert f'id="{P}{field}-error"' in text
    assert message in text
    assert "登録内容の確認" not in text
    assert transfers_of(app, household) == []
    assert entries(app, "bank_transfer.register") == []


def test_a_name_search_without_a_pick_lists_the_candidates(staff_client, household):
    response = staff_client.post(
        url_of(household), data=reg_data(staff_client, bank_query="ミツイ"), headers=HX
    )
    assert response.status_code == 422
    assert 'value="bank:0009"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("かわさき　たろう", "ｶﾜｻｷ ﾀﾛｳ"),  # ひらがな → 半角カナ
        ("カワサキ タロウ", "ｶﾜｻｷ ﾀﾛｳ"),
        ("ｶﾜｻｷ ﾀﾛｳ", "ｶﾜｻｷ ﾀﾛｳ"),  # already half width
        ("キッタ　ジュン", "ｷﾂﾀ ｼﾞﾕﾝ"),  # small kana become large, as banks register names
        ("ガッコウ", "ｶﾞﾂｺｳ"),  # voiced kana: base + ﾞ
        ("ヴィクトル", "ｳﾞｲｸﾄﾙ"),
        ("ポール・スミス", "ﾎﾟ-ﾙ.ｽﾐｽ"),  # ー → "-", ・ → "."
        ("kawasaki taro", "KAWASAKI TARO"),  # Latin upper case
        ("（カ）カワサキ", "(ｶ)ｶﾜｻｷ"),
        ("ア" * 30, "ｱ" * 30),  # exactly 30
    ],
)
def test_holder_name_is_converted_to_bank_kana(app, staff_client, household, typed, stored):
    confirm = staff_client.post(url_of(household), data=reg_data(staff_client, holder_kana=typed), headers=HX)
    assert confirm.status_code == 200, text_of(confirm)
    assert f'data-testid="holder-kana">{stored}<' in text_of(confirm)


def test_account_number_is_padded_to_seven_digits(app, staff_client, household):
    data = reg_data(staff_client, confirmed=True, account_number="１２３")
    assert staff_client.post(url_of(household), data=data, headers=HX).status_code == 200
    (t,) = transfers_of(app, household)
    assert t.account_number == "0000123"
    assert "****123" in page(staff_client, household)


# --- one current registration per purpose ----------------------------------------------------------------


def test_a_new_registration_ends_the_current_one_the_day_before(app, staff_client, household):
    with app.app_context(), db.connection_context():
        old = make_transfer(household)
        parking = make_transfer(household, purpose="parking", account_number="1111111")
        seen = bank_transfers.seen_token(old)
    confirm = staff_client.post(url_of(household), data=reg_data(staff_client, seen_rent=seen), headers=HX)
    text = text_of(confirm)
    assert confirm.status_code == 200
    assert (
        "現在の登録（三菱ＵＦＪ（0005）" in text
        and "****321" in text
        and "令和8年3月31日で終了します" in text
    )
    assert "7654321" not in text

    saved = staff_client.post(
        url_of(household), data=reg_data(staff_client, confirmed=True, seen_rent=seen), headers=HX
    )
    text = text_of(saved)
    assert saved.status_code == 200, text
    rows = {t.id: t for t in transfers_of(app, household)}
    assert rows[old.id].valid_to == dt.date(2026, 3, 31)  # the day before the new one starts
    assert rows[old.id].version == 2
    assert rows[parking.id].valid_to is None  # the other purpose is untouched
    (new,) = [t for t in rows.values() if t.id not in (old.id, parking.id)]
    assert (new.purpose, new.valid_from, new.valid_to) == ("rent", dt.date(2026, 4, 1), None)
    # History kept and shown: both rent rows, with bank and branch names, numbers masked.
    assert "三菱ＵＦＪ" in text and "三井住友" in text and "終了" in text
    assert "****321" in text and "****567" in text and "****111" in text
    for number in ("7654321", NUMBER, "1111111"):
        assert number not in text

    (ended,) = entries(app, "bank_transfer.end")
    assert ended.target_ids == f"[{household}]" and ended.reason == f"bank_transfer {old.id}"
    assert json.loads(ended.changes) == {"bank_transfer.valid_to": [None, "2026-03-31"]}
    (registered,) = entries(app, "bank_transfer.register")
    changes = json.loads(registered.changes)
    assert changes["bank_transfer.bank_code"] == [None, "0009"]
    assert changes["bank_transfer.holder_kana"] == [None, "ｶﾜｻｷ ﾀﾛｳ"]
    # The account number is C2 and shown only masked: so is it in the trail and the history.
    assert changes["bank_transfer.account_number"] == [None, "****567"]
    assert "bank_transfer.account_number" in json.loads(registered.fields)
    history = text[text.index('id="transfers-changes"') :]
    assert "****567" in history and staff_client.user.login_id in history


def test_the_trail_never_holds_a_full_account_number(app, staff_client, household):
    staff_client.post(url_of(household), data=reg_data(staff_client, confirmed=True), headers=HX)
    (t,) = transfers_of(app, household)
    staff_client.post(
        f"/staff/household/{household}/transfers/{t.id}/end",
        data={
            "end_csrf_token": csrf_token_of(staff_client),
            "end_version": "1",
            "end_valid_to": "2027-03-31",
        },
        headers=HX,
    )
    rows = entries(app)
    assert any(e.action == "bank_transfer.register" for e in rows)
    for entry in rows:
        for column in ("fields", "changes", "reason", "target_ids"):
            assert NUMBER not in (getattr(entry, column) or ""), entry.action


def test_the_start_must_follow_the_current_and_last_registrations(app, staff_client, household):
    with app.app_context(), db.connection_context():
        old = make_transfer(household, valid_from=dt.date(2026, 4, 1))
        make_transfer(
            household, purpose="parking", valid_from=dt.date(2024, 4, 1), valid_to=dt.date(2025, 3, 31)
        )
        seen = bank_transfers.seen_token(old)
    same_day = staff_client.post(
        url_of(household), data=reg_data(staff_client, confirmed=True, seen_rent=seen), headers=HX
    )
    assert same_day.status_code == 422
    assert f'id="{P}valid_from-error"' in same_day.get_data(as_text=True)
    assert "開始日は現在の登録の開始日（令和8年4月1日）より後の日付にしてください。" in text_of(same_day)
    overlap = staff_client.post(
        url_of(household),
        data=reg_data(staff_client, confirmed=True, purpose="parking", valid_from="2025-03-01"),
        headers=HX,
    )
    assert overlap.status_code == 422
    assert "開始日は前の登録の終了日（令和7年3月31日）より後の日付にしてください。" in text_of(overlap)
    assert len(transfers_of(app, household)) == 2
    assert transfers_of(app, household)[-1].valid_to is None
    assert entries(app, "bank_transfer.register") == entries(app, "bank_transfer.end") == []


def test_someone_registering_first_gets_a_409_with_both_versions(app, staff_client, household):
    # This form was opened when nothing was registered; meanwhile someone registered another account.
    with app.app_context(), db.connection_context():
        theirs = bank_transfers.register(
            Household.get_by_id(household),
            {"purpose": "rent", "bank_code": "0005", "branch_code": "001", "account_type": "ordinary",
             "account_number": "7654321", "holder_kana": "ｶﾜｻｷ ﾊﾅｺ", "valid_from": dt.date(2026, 1, 1)},
            seen="0",
        )  # fmt: skip
    late = staff_client.post(url_of(household), data=reg_data(staff_client, confirmed=True), headers=HX)
    text = text_of(late)
    assert late.status_code == 409
    assert "ほかの職員が先に保存しました" in text
    assert "三井住友（0009）" in text and "三菱ＵＦＪ（0005）" in text  # mine and theirs
    assert "****321" in text and "7654321" not in text
    rows = transfers_of(app, household)
    assert [(t.id, t.valid_to) for t in rows] == [(theirs.id, None)]  # nothing of mine written
    # Saving again from the 409 replaces theirs knowingly (the form now names it).
    token = re.search(r'name="transfer_seen_rent" value="([0-9-]+)"', text).group(1)
    assert token == bank_transfers.seen_token(theirs)
    again = staff_client.post(
        url_of(household),
        data=reg_data(staff_client, confirmed=True, seen_rent=token, bank_query="", branch_query="",
                      bank_code="0009", branch_code="755"),
        headers=HX,
    )  # fmt: skip
    assert again.status_code == 200
    rows = {t.id: t for t in transfers_of(app, household)}
    assert rows[theirs.id].valid_to == dt.date(2026, 3, 31)


def test_the_partial_unique_index_allows_one_current_per_purpose(engine_db):
    h = make_household()
    make_transfer(h.id)
    make_transfer(h.id, purpose="parking")
    make_transfer(h.id, valid_from=dt.date(2010, 4, 1), valid_to=dt.date(2020, 3, 31))  # history is fine
    with pytest.raises(IntegrityError), db.atomic():
        make_transfer(h.id, valid_from=dt.date(2021, 4, 1))
    assert BankTransfer.select().where(BankTransfer.valid_to.is_null()).count() == 2


@pytest.mark.parametrize("with_current", [False, True], ids=["first", "replacing"])
def test_concurrent_registrations_on_both_engines(engine_db, with_current):
    """Two people register for the same purpose at the same moment from the same form state:
    exactly one succeeds, the other is told (Superseded → 409); one current registration remains."""
    from flask import current_app

    application = current_app._get_current_object()
    h = make_household()
    seen = bank_transfers.seen_token(make_transfer(h.id) if with_current else None)
    hid = h.id
    results: list[str] = []
    barrier = threading.Barrier(2)

    def register(number: str):
        with application.app_context(), db.connection_context():
            household = Household.get_by_id(hid)
            values = {
                "purpose": "rent", "bank_code": "0009", "branch_code": "755", "account_type": "ordinary",
                "account_number": number, "holder_kana": "ｶﾜｻｷ ﾀﾛｳ", "valid_from": dt.date(2026, 4, 1),
            }  # fmt: skip
            barrier.wait()
            try:
                bank_transfers.register(household, values, seen=seen)
                results.append("saved")
            except bank_transfers.Superseded:
                results.append("superseded")

    threads = [threading.Thread(target=register, args=(n,)) for n in ("1111111", "2222222")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["saved", "superseded"]
    current = BankTransfer.select().where((BankTransfer.household == hid) & BankTransfer.valid_to.is_null())
    assert current.count() == 1
    assert BankTransfer.select().where(BankTransfer.household == hid).count() == (2 if with_current else 1)
    assert AuditEntry.select().where(AuditEntry.action == "bank_transfer.register").count() == 1
    assert AuditEntry.select().where(AuditEntry.action == "bank_transfer.end").count() == int(with_current)


# --- ending without a replacement (口座振替の廃止) --------------------------------------------------------


def end_data(client, date, version=1):
    return {"end_csrf_token": csrf_token_of(client), "end_version": str(version), "end_valid_to": date}


def test_ending_a_registration(app, staff_client, household):
    with app.app_context(), db.connection_context():
        t = make_transfer(household)
    url = f"/staff/household/{household}/transfers/{t.id}/end"
    form = staff_client.get(url, headers=HX)
    assert form.status_code == 200
    assert "****321" in text_of(form) and "7654321" not in text_of(form) and "三菱ＵＦＪ" in text_of(form)

    early = staff_client.post(url, data=end_data(staff_client, "2020-03-31"), headers=HX)
    assert early.status_code == 422
    assert "終了日は開始日以降の日付にしてください。" in text_of(early)

    done = staff_client.post(url, data=end_data(staff_client, "令和8年3月31日"), headers=HX)
    text = text_of(done)
    assert done.status_code == 200
    assert json.loads(done.headers["HX-Trigger"])["toast"]["message"] == "口座振替を終了しました。"
    assert f"/transfers/{t.id}/end" not in text  # no 廃止 link for an ended registration
    (row,) = transfers_of(app, household)
    assert (row.valid_to, row.version) == (dt.date(2026, 3, 31), 2)
    (entry,) = entries(app, "bank_transfer.end")
    assert json.loads(entry.changes) == {"bank_transfer.valid_to": [None, "2026-03-31"]}

    again = staff_client.post(url, data=end_data(staff_client, "2026-04-30", version=2), headers=HX)
    assert again.status_code == 422 and "この口座振替はすでに終了しています。" in text_of(again)
    stale = staff_client.post(url, data=end_data(staff_client, "2026-04-30", version=1), headers=HX)
    assert stale.status_code == 409
    assert transfers_of(app, household)[0].valid_to == dt.date(2026, 3, 31)


def test_ending_without_javascript_redirects(app, staff_client, household):
    with app.app_context(), db.connection_context():
        t = make_transfer(household)
    url = f"/staff/household/{household}/transfers/{t.id}/end"
    response = staff_client.post(url, data=end_data(staff_client, "2026-03-31"))
    assert response.status_code == 303 and response.headers["Location"].endswith("#transfers")
    assert "口座振替を終了しました。" in page(staff_client, household)


# --- the section ------------------------------------------------------------------------------------


def section_and_queries(app, household_id) -> tuple[str, int]:
    from blueprints.staff import inline

    with app.test_request_context(), counting_queries() as statements:
        text = inline.section_html(Household.get_by_id(household_id), "transfers")
    return html.unescape(text), len(statements)


def test_the_section_names_banks_without_a_query_per_row(app, household):
    with app.app_context(), db.connection_context():
        make_transfer(household)
    one, one_count = section_and_queries(app, household)
    with app.app_context(), db.connection_context():
        for year in range(2010, 2016):
            make_transfer(household, valid_from=dt.date(year, 4, 1), valid_to=dt.date(year + 1, 3, 31))
    seven, seven_count = section_and_queries(app, household)
    assert one_count == seven_count
    assert seven.count('data-testid="account-number"') == 7
    mufg, head_office = banks.names("0005", "001")
    for text in (one, seven):
        assert mufg.name in text and mufg.kana in text and head_office.name in text


def test_a_code_no_longer_in_the_list_still_shows(app, staff_client, household):
    with app.app_context(), db.connection_context():
        make_transfer(household, bank_code="9998", branch_code="999")
    text = page(staff_client, household)
    assert "9998" in text and "999" in text


# --- access ------------------------------------------------------------------------------------------


def test_contractors_get_403_on_every_endpoint(app, contractor_client, household):
    with app.app_context(), db.connection_context():
        t = make_transfer(household)
    token = csrf_token_of(contractor_client)
    urls = [url_of(household), f"/staff/household/{household}/transfers/{t.id}/end"]
    for url in urls:
        assert contractor_client.get(url, headers=HX).status_code == 403
        data = {**reg_data(contractor_client, confirmed=True), "csrf_token": token}
        assert contractor_client.post(url, data=data, headers=HX).status_code == 403
    for url in ("/staff/banks/search", "/staff/banks/branches"):
        assert contractor_client.post(url, data={"csrf_token": token}).status_code == 403
    assert [(r.id, r.valid_to) for r in transfers_of(app, household)] == [(t.id, None)]


def test_out_of_scope_unknown_and_foreign_records_are_404(app, staff_client, make_user, household):
    with app.app_context(), db.connection_context():
        protected = make_household(support_measure=True)
        make_person(protected)
        make_assignment(protected, make_user("staff"))
        foreign = make_transfer(protected.id)
        protected_id = protected.id
    for url in (
        url_of(protected_id),
        url_of(999999),
        f"/staff/household/{protected_id}/transfers/{foreign.id}/end",
        f"/staff/household/{household}/transfers/{foreign.id}/end",  # another household's registration
        f"/staff/household/{household}/transfers/999999/end",
    ):
        assert staff_client.get(url, headers=HX).status_code == 404, url
        response = staff_client.post(
            url,
            data={**reg_data(staff_client, confirmed=True), **end_data(staff_client, "2026-03-31")},
            headers=HX,
        )
        assert response.status_code == 404, url
    assert [(r.id, r.valid_to) for r in transfers_of(app, protected_id)] == [(foreign.id, None)]
    assert transfers_of(app, household) == []


# --- no input gives a server error ------------------------------------------------------------------------

ODD = st.one_of(
    st.sampled_from(
        ["", " ", "　", "0", "0009", "755", "９９９９", "-1", "\x00", "\u202e", "<b>", "x" * 3000, "令和99年13月40日",
         "bank:0009", "branch:999", "ｶﾞ" * 20, "𠮷", "🏦", "0-0", "confirm", "save"]
    ),
    st.text(max_size=40),
)  # fmt: skip
FIELDS = ["purpose", "bank_query", "bank_code", "branch_query", "branch_code", "account_type",
          "account_number", "holder_kana", "valid_from", "seen_rent", "seen_parking"]  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(st.sampled_from(FIELDS), ODD), op=ODD, confirmed=st.booleans(), hx=st.booleans()
)
def test_no_input_gives_a_server_error(app, staff_client, household, values, op, confirmed, hx):
    data = reg_data(staff_client, confirmed=confirmed, op=op or None, **values)
    response = staff_client.post(url_of(household), data=data, headers=HX if hx else {})
    assert response.status_code in (200, 303, 409, 422), response.status_code
    for url in ("/staff/banks/search", "/staff/banks/branches"):
        assert staff_client.post(url, data=data).status_code == 200


def test_every_post_needs_the_csrf_token(app, staff_client, household):
    for op in (None, "bank:0009", "search_bank"):
        data = reg_data(staff_client, confirmed=op is None, op=op)
        data.pop(P + "csrf_token")
        assert staff_client.post(url_of(household), data=data, headers=HX).status_code == 400
    assert staff_client.post("/staff/banks/search", data={P + "bank_query": "0009"}).status_code == 400
    assert transfers_of(app, household) == []
