"""政令月収 against the worked examples of SPEC §4.6 and the law's tables, with the seeded masters."""

import datetime as dt

import pytest

from rules.income import Member, RemoteDependent, bracket_for, household_income, salary_income
from services.masters import income_masters, rent_bands


@pytest.fixture
def masters_2025(database):
    return income_masters(2025)


@pytest.fixture
def masters_2024(database):
    return income_masters(2024)


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        (0, 0),
        (550_999, 0),
        (551_000, 1_000),
        (1_618_999, 1_068_999),
        (1_619_000, 1_069_000),
        (1_620_000, 1_070_000),
        (1_622_500, 1_072_000),
        (1_627_999, 1_074_000),
        (1_628_000, 1_076_800),  # 1,628,000 × 60% + 100,000
        (1_799_999, 1_177_600),  # A = 1,796,000 × 60% + 100,000
        (1_800_000, 1_180_000),  # 1,800,000 × 70% − 80,000
        (3_500_000, 2_370_000),
        (3_600_000, 2_440_000),
        (6_599_999, 4_836_800),  # A = 6,596,000 × 80% − 440,000
        (6_600_000, 4_840_000),
        (8_500_000, 6_550_000),
        (10_000_000, 8_050_000),
    ],
)
def test_salary_income_2020_to_2024(masters_2024, revenue, expected):
    assert salary_income(revenue, masters_2024.salary_bands)[0] == expected


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        (650_000, 0),
        (650_999, 0),
        (651_000, 1_000),
        (1_900_000, 1_250_000),  # both formulas agree at the boundary
        (3_000_000, 2_020_000),  # SPEC E2
        (3_500_000, 2_370_000),  # SPEC E1
    ],
)
def test_salary_income_from_2025(masters_2025, revenue, expected):
    assert salary_income(revenue, masters_2025.salary_bands)[0] == expected


def test_e1_family_of_three(masters_2025):
    """SPEC E1: head 給与収入 3,500,000, spouse no income, child 10 → 政令月収 125,833, 区分3."""
    result = household_income(
        [
            Member("head", dt.date(1985, 5, 1), salary_revenue=3_500_000),
            Member("spouse", dt.date(1987, 6, 1), dependent=True),
            Member("child", dt.date(2015, 4, 1), dependent=True),
        ],
        [],
        masters_2025,
    )
    assert result.members[0].salary_income == 2_370_000
    assert result.total_deduction == 860_000
    assert result.seirei_getsushu == 125_833
    assert bracket_for(result.seirei_getsushu, rent_bands(dt.date(2026, 4, 1))).base_amount == 45_400
    assert any("125,833円" in step for step in result.explanation)


def test_e2_single_person_and_disability(masters_2025):
    """SPEC E2: 160,000 (over the 一般 limit); with a disability handbook 137,500."""
    plain = household_income(
        [Member("head", dt.date(1980, 1, 1), salary_revenue=3_000_000)], [], masters_2025
    )
    assert plain.seirei_getsushu == 160_000
    disabled = household_income(
        [Member("head", dt.date(1980, 1, 1), salary_revenue=3_000_000, disability="ordinary")],
        [],
        masters_2025,
    )
    assert disabled.seirei_getsushu == 137_500


def test_pension_by_age_and_elderly_spouse(masters_2025):
    # Head 70: pension 2,000,000 → 雑所得 900,000 (65+ deduction 1,100,000), ヘ 100,000.
    # Spouse 72, dependent, no income: イ 380,000 + ロ 100,000.
    result = household_income(
        [
            Member("head", dt.date(1955, 3, 1), pension_revenue=2_000_000),
            Member("spouse", dt.date(1953, 3, 1), dependent=True),
        ],
        [],
        masters_2025,
    )
    assert result.members[0].pension_income == 900_000
    assert result.total_deduction == 100_000 + 380_000 + 100_000
    assert result.seirei_getsushu == (900_000 - 580_000) // 12
    # The same pension at 60: under-65 deduction 25% + 275,000 = 775,000.
    younger = household_income(
        [Member("head", dt.date(1965, 3, 1), pension_revenue=2_000_000)], [], masters_2025
    )
    assert younger.members[0].pension_income == 2_000_000 - (500_000 + 275_000)


def test_single_parent_capped_at_income_and_specific_dependent(masters_2025):
    # Head: 給与収入 800,000 → 給与所得 150,000; ひとり親 350,000 capped at 150,000; ヘ 100,000.
    # Child 17, dependent: イ 380,000 + ハ 250,000. Remote dependent aged 80: イ + ロ.
    result = household_income(
        [
            Member("head", dt.date(1990, 1, 1), salary_revenue=800_000, single_parent=True),
            Member("child", dt.date(2008, 6, 1), dependent=True),
        ],
        [RemoteDependent(dt.date(1945, 1, 1))],
        masters_2025,
    )
    assert result.members[0].salary_income == 150_000
    assert result.members[0].deduction == 150_000 + 100_000
    assert result.members[1].deduction == 630_000
    assert result.remote_deduction == 480_000
    assert result.seirei_getsushu == 0  # never below 0


def test_negative_income_is_refused(masters_2025):
    with pytest.raises(ValueError):
        household_income([Member("head", dt.date(1980, 1, 1), salary_revenue=-1)], [], masters_2025)
