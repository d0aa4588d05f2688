"""個人番号 check digit (番号法施行令8条), validation, masking, synthetic numbers."""

from __future__ import annotations

import random

import pytest

from rules.mynumber import check_digit, generate, is_valid, mask, normalize


def reference_check_digit(first11: str) -> int:
    """The formula of 番号法施行令8条 written out term by term, to check the implementation against."""
    p = {n: int(first11[11 - n]) for n in range(1, 12)}  # P1 is the right-most of the 11 digits
    q = {n: (n + 1 if n <= 6 else n - 5) for n in range(1, 12)}
    remainder = sum(p[n] * q[n] for n in range(1, 12)) % 11
    return 0 if remainder <= 1 else 11 - remainder


@pytest.mark.parametrize(
    ("first11", "digit"),
    [
        # Σ = 1·2+0·3+9·4+8·5+7·6+6·7+5·2+4·3+3·4+2·5+1·6 = 212; 212 mod 11 = 3; 11−3 = 8.
        ("12345678901", 8),
        ("00000000000", 0),  # remainder 0 → 0
        # Σ = 1·2 = 2 → 11−2 = 9
        ("00000000001", 9),
        # Σ = 1·6 (P11, Q11 = 6) = 6 → 11−6 = 5
        ("10000000000", 5),
        # Σ = 1·7 (P6, Q6 = 7) = 7 → 4
        ("00000100000", 4),
        # Σ = 1·2 (P7, Q7 = 2) = 2 → 9
        ("00001000000", 9),
        # Σ = 5·2+1·3 = 13 → remainder 2 → 9
        ("00000000015", 9),
        # Σ = 6·2 = 12 → remainder 1 → 0 (the "≤ 1" rule)
        ("00000000006", 0),
        # Σ = 9·(2+3+4+5+6+7+2+3+4+5+6) = 9·47 = 423; 423 mod 11 = 5 → 6
        ("99999999999", 6),
    ],
)
def test_check_digit_worked_values(first11, digit):
    assert check_digit(first11) == digit
    assert reference_check_digit(first11) == digit


def test_check_digit_matches_formula_on_random_numbers():
    rng = random.Random(8)
    for _ in range(2000):
        first11 = "".join(str(rng.randrange(10)) for _ in range(11))
        assert check_digit(first11) == reference_check_digit(first11)


@pytest.mark.parametrize("bad", ["1234567890", "123456789012", "1234567890a", "１２３４５６７８９０１", ""])
def test_check_digit_needs_eleven_ascii_digits(bad):
    with pytest.raises(ValueError):
        check_digit(bad)


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("123456789018", True),
        ("1234 5678 9018", True),
        ("1234-5678-9018", True),
        ("１２３４－５６７８－９０１８", True),  # full-width digits and hyphen
        ("１２３４ー５６７８ー９０１８", True),  # long-vowel mark typed as a hyphen
        (" 123456789018 ", True),
        ("000000000000", True),
        ("123456789017", False),  # wrong check digit
        ("123456789019", False),
        ("213456789018", False),  # transposition caught
        ("12345678901", False),
        ("1234567890188", False),
        ("12345678901a", False),
        ("12345678.9018", False),
        ("١٢٣٤٥٦٧٨٩٠١٨", False),  # Arabic-Indic digits are not 個人番号 digits
        ("", False),
    ],
)
def test_is_valid(number, valid):
    assert is_valid(number) is valid


def test_is_valid_rejects_non_strings():
    assert is_valid(123456789018) is False
    assert is_valid(None) is False


def test_normalize():
    assert normalize("１２３４ ５６７８ ９０１８") == "123456789018"


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("12345678901", "12桁"),
        ("abcdefghijkl", "12桁"),
        ("123456789017", "検査用数字"),
    ],
)
def test_normalize_rejects_without_echoing_the_number(number, message):
    with pytest.raises(ValueError, match=message) as caught:
        normalize(number)
    assert number not in str(caught.value)
    assert "1234" not in str(caught.value)


def test_generate_is_valid_and_reproducible():
    numbers = [generate(random.Random(seed)) for seed in range(500)]
    assert all(len(n) == 12 and n.isascii() and n.isdigit() and is_valid(n) for n in numbers)
    assert len(set(numbers)) == 500
    assert generate(random.Random(42)) == generate(random.Random(42))
    # Every check digit value occurs, 0 included (the remainder ≤ 1 rule).
    assert {n[-1] for n in numbers} == set("0123456789")


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("123456789018", "********9018"),
        ("1234-5678-9018", "********9018"),
        ("１２３４５６７８９０１８", "********9018"),
    ],
)
def test_mask(number, masked):
    assert mask(number) == masked


@pytest.mark.parametrize("bad", ["12345", "", "abcdefghijkl"])
def test_mask_refuses_non_numbers(bad):
    with pytest.raises(ValueError):
        mask(bad)
