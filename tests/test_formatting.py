"""Yen amounts, postal codes and phone numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rules.formatting import normalize_phone, normalize_postal, phone, postal, yen, yen_ja


@pytest.mark.parametrize(
    ("amount", "western", "japanese", "triangle"),
    [
        (38600, "¥38,600", "38,600円", "38,600円"),
        (0, "¥0", "0円", "0円"),
        (999, "¥999", "999円", "999円"),
        (1000, "¥1,000", "1,000円", "1,000円"),
        (1234567890, "¥1,234,567,890", "1,234,567,890円", "1,234,567,890円"),
        (-1200, "-¥1,200", "-1,200円", "△1,200円"),
        (Decimal("38600"), "¥38,600", "38,600円", "38,600円"),
        (Decimal("38600.00"), "¥38,600", "38,600円", "38,600円"),
        (None, "", "", ""),
    ],
)
def test_yen(amount, western, japanese, triangle):
    assert yen(amount) == western
    assert yen_ja(amount) == japanese
    assert yen_ja(amount, triangle=True) == triangle


@pytest.mark.parametrize("amount", [Decimal("100.5"), Decimal("0.01")])
def test_yen_refuses_fractions(amount):
    with pytest.raises(ValueError, match="端数"):
        yen(amount)
    with pytest.raises(ValueError, match="端数"):
        yen_ja(amount)


@pytest.mark.parametrize("amount", [100.0, "100", True])
def test_yen_refuses_non_integers(amount):
    with pytest.raises(TypeError):
        yen(amount)


@pytest.mark.parametrize(
    ("raw", "digits", "shown"),
    [
        ("2108577", "2108577", "〒210-8577"),
        ("210-8577", "2108577", "〒210-8577"),
        ("２１０－８５７７", "2108577", "〒210-8577"),
        ("〒210-8577", "2108577", "〒210-8577"),
        ("〒２１０ー８５７７", "2108577", "〒210-8577"),
        (" 210 8577 ", "2108577", "〒210-8577"),
        ("0600000", "0600000", "〒060-0000"),  # leading zero kept (札幌)
    ],
)
def test_postal(raw, digits, shown):
    assert normalize_postal(raw) == digits
    assert postal(raw) == shown


@pytest.mark.parametrize("raw", ["210857", "21085770", "210-857a", "2108-577x", "ABCDEFG", ""])
def test_normalize_postal_rejects(raw):
    with pytest.raises(ValueError, match="郵便番号"):
        normalize_postal(raw)


def test_postal_blank_and_invalid():
    assert postal(None) == ""
    assert postal("  ") == ""
    with pytest.raises(ValueError):
        postal("12345")


@pytest.mark.parametrize(
    ("raw", "digits", "shown"),
    [
        ("0442002948", "0442002948", "044-200-2948"),  # 川崎市役所
        ("044-200-2948", "0442002948", "044-200-2948"),
        ("(044) 200-2948", "0442002948", "044-200-2948"),
        ("０４４－２００－２９４８", "0442002948", "044-200-2948"),
        ("+81 44 200 2948", "0442002948", "044-200-2948"),
        ("+81-90-1234-5678", "09012345678", "090-1234-5678"),
        ("09012345678", "09012345678", "090-1234-5678"),
        ("08012345678", "08012345678", "080-1234-5678"),
        ("07012345678", "07012345678", "070-1234-5678"),
        ("05012345678", "05012345678", "050-1234-5678"),
        ("02012345678", "02012345678", "020-1234-5678"),
        ("0120123456", "0120123456", "0120-123-456"),
        ("0570064556", "0570064556", "0570-064-556"),
        ("08001234567", "08001234567", "0800-123-4567"),
        ("0312345678", "0312345678", "03-1234-5678"),
        ("0663456789", "0663456789", "06-6345-6789"),
        ("0456711111", "0456711111", "045-671-1111"),  # 横浜: three-digit area code
        ("0429981111", "0429981111", "04-2998-1111"),  # 所沢: 04, not 042
        ("0427541111", "0427541111", "042-754-1111"),  # 相模原: 042
        ("0471671111", "0471671111", "04-7167-1111"),  # 柏: 04
        ("0474362111", "0474362111", "047-436-2111"),  # 船橋: 047
        ("0465331111", "0465331111", "0465-33-1111"),  # 小田原: four-digit area code
        ("0468224000", "0468224000", "046-822-4000"),  # 横須賀: 046
        ("0112112111", "0112112111", "011-211-2111"),  # 札幌: generic 3-3-4
    ],
)
def test_phone(raw, digits, shown):
    assert normalize_phone(raw) == digits
    assert phone(raw) == shown


@pytest.mark.parametrize(
    "raw",
    [
        "442002948",  # no trunk prefix
        "04420029481",  # 11 digits on a landline
        "0901234567",  # 10 digits on a mobile prefix
        "0012345678",  # international access prefix
        "044200294",
        "044-200-294a",
        "内線1234",
        "",
    ],
)
def test_normalize_phone_rejects(raw):
    with pytest.raises(ValueError, match="電話番号"):
        normalize_phone(raw)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (None, ""),
        ("", ""),
        ("内線１２３４", "内線1234"),  # unreadable legacy text is shown, not an error
        ("+1 555 0100", "+1 555 0100"),
    ],
)
def test_phone_fallback(raw, shown):
    assert phone(raw) == shown
