"""The bank list (services.banks, zengin-code): look-ups, and searches by code, name, kana and ひらがな,
width-insensitive; the search endpoints that list picks for the registration form."""

from __future__ import annotations

import pytest

from services import banks
from tests.conftest import csrf_token_of


def codes(found) -> list[str]:
    return [item.code for item in found]


def test_a_bank_and_a_branch_by_code():
    smbc = banks.bank("0009")
    assert (smbc.code, smbc.name, smbc.kana) == ("0009", "三井住友", "ミツイスミトモ")
    kawasaki = banks.branch("0009", "755")
    assert (kawasaki.bank_code, kawasaki.name, kawasaki.kana) == ("0009", "川崎", "カワサキ")
    assert banks.names("0009", "755") == (smbc, kawasaki)


@pytest.mark.parametrize("code", ["9999", "009", "00009", "", None, "abcd", "０００９"])
def test_unknown_or_malformed_bank_codes_are_none(code):
    assert banks.bank(code) is None


def test_a_branch_belongs_to_its_bank():
    assert banks.branch("0009", "999") is None  # no such branch at 三井住友
    assert banks.branch("9999", "755") is None  # no such bank
    assert banks.branch("0009", None) is None
    # The same branch code at another bank is another branch.
    other = banks.branch("0005", "755")
    assert other is None or other.bank_code == "0005"


@pytest.mark.parametrize(
    "query",
    [
        "0009",
        "三井住友",
        "三井住友銀行",
        "ミツイ",
        "みつい",
        "ﾐﾂｲ",
        "ミツイ スミトモ",
        "Mitsui",
        "ＭＩＴＳＵＩ",
    ],
)
def test_search_banks_by_code_name_kana_and_width(query):
    assert "0009" in codes(banks.search_banks(query))


def test_code_prefix_lists_banks_in_code_order():
    found = codes(banks.search_banks("000"))
    assert found[:3] == ["0001", "0005", "0009"]
    assert codes(banks.search_banks("0009")) == ["0009"]
    assert codes(banks.search_banks("０００９")) == ["0009"]  # full-width digits


def test_names_that_start_with_the_query_come_first():
    found = codes(banks.search_banks("住友"))
    # 三井住友 contains 住友 but does not start with it; banks starting with 住友 (if any) come first.
    assert "0009" in found
    starts = [b for b in banks.search_banks("住友") if b.name.startswith("住友")]
    assert codes(starts) == found[: len(starts)]


def test_small_kana_and_legal_forms_match_the_lists_short_forms():
    assert "9900" in codes(banks.search_banks("ゆうちょ"))  # listed as ユウチヨ
    assert "1283" in codes(banks.search_banks("川崎信用金庫"))  # listed as 川崎信金
    assert "1283" in codes(banks.search_banks("かわさきしんきん"))


@pytest.mark.parametrize("query", ["", "   ", "存在しない銀行名", "\u200b"])
def test_nothing_found(query):
    assert banks.search_banks(query) == []


def test_search_branches_within_one_bank():
    assert "755" in codes(banks.search_branches("0009", "かわさき"))
    assert "755" in codes(banks.search_branches("0009", "川崎"))
    assert "755" in codes(banks.search_branches("0009", "75"))
    assert banks.search_branches("9999", "川崎") == []  # unknown bank: nothing
    for branch in banks.search_branches("0009", "川"):
        assert branch.bank_code == "0009"


def test_results_are_capped():
    assert len(banks.search_banks("0")) == banks.SEARCH_LIMIT
    assert len(banks.search_banks("0", limit=5)) == 5


# --- the search endpoints ----------------------------------------------------------------------------


def test_bank_search_endpoint_lists_picks(staff_client):
    token = csrf_token_of(staff_client)
    response = staff_client.post(
        "/staff/banks/search", data={"transfer_bank_query": "みつい", "csrf_token": token}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="op" value="bank:0009"' in html and "三井住友" in html and "ミツイスミトモ" in html
    assert "<html" not in html
    none = staff_client.post(
        "/staff/banks/search", data={"transfer_bank_query": "ｘｙｚ", "csrf_token": token}
    )
    assert "見つかりませんでした" in none.get_data(as_text=True)
    empty = staff_client.post("/staff/banks/search", data={"csrf_token": token})
    assert empty.status_code == 200 and "bank:" not in empty.get_data(as_text=True)


def test_branch_search_endpoint_needs_the_bank(staff_client):
    token = csrf_token_of(staff_client)
    found = staff_client.post(
        "/staff/banks/branches",
        data={"transfer_bank_code": "0009", "transfer_branch_query": "カワサキ", "csrf_token": token},
    )
    assert 'value="branch:755"' in found.get_data(as_text=True)
    typed_code = staff_client.post(
        "/staff/banks/branches",
        data={"transfer_bank_query": "0009", "transfer_branch_query": "755", "csrf_token": token},
    )
    assert 'value="branch:755"' in typed_code.get_data(as_text=True)
    no_bank = staff_client.post(
        "/staff/banks/branches", data={"transfer_branch_query": "川崎", "csrf_token": token}
    )
    assert no_bank.status_code == 200 and "先に金融機関を選んでください" in no_bank.get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {"transfer_bank_query": "x" * 500},
        {"transfer_bank_query": "\x00\x01"},
        {"transfer_bank_code": "<script>", "transfer_branch_query": "\u202e"},
        {"transfer_bank_code": "0009" * 100, "transfer_branch_query": "1"},
    ],
)
def test_search_endpoints_never_fail_on_odd_input(staff_client, data):
    token = csrf_token_of(staff_client)
    for url in ("/staff/banks/search", "/staff/banks/branches"):
        response = staff_client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 200
        assert "<script>" not in response.get_data(as_text=True)


def test_search_is_post_only_and_for_city_staff(staff_client, contractor_client):
    assert staff_client.get("/staff/banks/search?transfer_bank_query=0009").status_code == 405
    token = csrf_token_of(contractor_client)
    for url in ("/staff/banks/search", "/staff/banks/branches"):
        response = contractor_client.post(url, data={"transfer_bank_query": "0009", "csrf_token": token})
        assert response.status_code == 403
