"""政令月収 against the worked examples of SPEC §4.6 and the law's tables, with the seeded masters."""

import datetime as dt

import pytest

from rules.income import (
    Member,
    RemoteDependent,
    bracket_for,
    household_income,
    pension_income,
    salary_income,
)
from services.masters import income_masters, rent_bands

D = dt.date


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


# --- the law's table steps, the 2025 changes, ages at 31 December, the caps of ホ and ヘ -----------------


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        (1_619_999, 1_069_000),  # 別表第五: 1,619,000-1,619,999 → 1,069,000
        (1_621_999, 1_070_000),  # 1,620,000-1,621,999 → 1,070,000
        (1_622_000, 1_072_000),
        (1_623_999, 1_072_000),  # 1,622,000-1,623,999 → 1,072,000
        (1_624_000, 1_074_000),  # 1,624,000-1,627,999 → 1,074,000
    ],
)
def test_salary_income_table_steps_2020_to_2024(masters_2024, revenue, expected):
    assert salary_income(revenue, masters_2024.salary_bands)[0] == expected


@pytest.mark.parametrize(
    ("revenue", "expected"),
    [
        (1_899_999, 1_249_999),  # 令和7年分: 収入 − 650,000 up to 1,899,999 (the old table: 1,247,200)
        (1_900_001, 1_250_000),  # A = 1,900,000 × 70% − 80,000
        (1_628_000, 978_000),  # the old 60% band is gone: 1,628,000 − 650,000
    ],
)
def test_salary_income_2025_changes(masters_2025, revenue, expected):
    assert salary_income(revenue, masters_2025.salary_bands)[0] == expected


def test_1_899_999_under_the_old_table(masters_2024):
    # 2024: A = 1,896,000 × 70% − 80,000 = 1,247,200.
    assert salary_income(1_899_999, masters_2024.salary_bands)[0] == 1_247_200


# Revenues chosen so that 25%, 15% and 5% of them are whole yen.
PENSION_STEPS = [
    # revenue, income aged 65+, income under 65
    (1_000_000, 0, 400_000),  # 65+: 1,100,000 deduction; under 65: 600,000
    (1_299_996, 199_996, 699_996),
    (1_300_000, 200_000, 700_000),  # under 65: 25% + 275,000 = 600,000
    (3_299_996, 2_199_996, 3_299_996 - (824_999 + 275_000)),
    (3_300_000, 2_200_000, 3_300_000 - (825_000 + 275_000)),  # 65+: 25% + 275,000 = 1,100,000
    (4_099_996, 4_099_996 - (1_024_999 + 275_000), 2_799_997),
    (4_100_000, 2_800_000, 2_800_000),  # 15% + 685,000 = 1,300,000
    (7_699_980, 7_699_980 - (1_154_997 + 685_000), 5_859_983),
    (7_700_000, 5_860_000, 5_860_000),  # 5% + 1,455,000 = 1,840,000
    (9_999_980, 8_044_981, 8_044_981),  # 499,999 + 1,455,000
    (10_000_000, 8_045_000, 8_045_000),  # 1,955,000
    (12_000_000, 10_045_000, 10_045_000),
]


@pytest.mark.parametrize(("revenue", "older", "younger"), PENSION_STEPS)
def test_pension_income_by_age_at_each_step(masters_2025, revenue, older, younger):
    bands = masters_2025.pension_bands
    assert pension_income(revenue, 65, bands)[0] == older
    assert pension_income(revenue, 64, bands)[0] == younger


# Income year 2025: ages at 31 December 2025, completed at the end of the day before the birthday
# (年齢計算ニ関スル法律), so a person born on 1 January 1961 is already 65 on 31 December 2025.
@pytest.mark.parametrize(
    ("birth", "income"),
    [
        (D(1960, 12, 31), 900_000),  # 65: 2,000,000 − 1,100,000
        (D(1961, 1, 1), 900_000),  # 65 at the end of 31 December
        (D(1961, 1, 2), 1_225_000),  # 64: 2,000,000 − (500,000 + 275,000)
    ],
)
def test_pension_age_65_at_31_december(masters_2025, birth, income):
    result = household_income([Member("本人", birth, pension_revenue=2_000_000)], [], masters_2025)
    assert result.members[0].pension_income == income


@pytest.mark.parametrize(
    ("birth", "deduction"),
    [
        (D(2009, 12, 31), 380_000 + 250_000),  # 16: ハ (特定扶養 16-22)
        (D(2010, 1, 1), 380_000 + 250_000),  # 16 at the end of 31 December
        (D(2010, 1, 2), 380_000),  # 15
        (D(2003, 1, 2), 380_000 + 250_000),  # 22
        (D(2003, 1, 1), 380_000),  # 23 at the end of 31 December
        (D(2002, 12, 31), 380_000),  # 23
        (D(1955, 12, 31), 380_000 + 100_000),  # 70: ロ
        (D(1956, 1, 1), 380_000 + 100_000),  # 70 at the end of 31 December
        (D(1956, 1, 2), 380_000),  # 69
    ],
)
def test_dependent_ages_at_31_december(masters_2025, birth, deduction):
    head = Member("本人", D(1980, 5, 5), salary_revenue=5_000_000)
    result = household_income([head, Member("子", birth, dependent=True)], [], masters_2025)
    assert result.members[1].deduction == deduction
    remote = household_income([head], [RemoteDependent(birth)], masters_2025)
    assert remote.remote_deduction == deduction


def test_age_deductions_need_a_dependent(masters_2025):
    # A member aged 70 who is not a dependent gets イ only (ロ is for 控除対象配偶者・老人扶養親族).
    head = Member("本人", D(1980, 5, 5), salary_revenue=5_000_000)
    result = household_income([head, Member("父母", D(1950, 5, 5))], [], masters_2025)
    assert result.members[1].deduction == 380_000


@pytest.mark.parametrize(
    ("member", "deduction", "seirei"),
    [
        # 給与収入 700,000 (2025) → 給与所得 50,000: ヘ capped at 50,000; 50,000 − 50,000 = 0.
        (Member("本人", D(1980, 1, 1), salary_revenue=700_000), 50_000, 0),
        # 公的年金 1,150,000 aged 70 → 雑所得 50,000: ヘ 50,000.
        (Member("本人", D(1955, 1, 1), pension_revenue=1_150_000), 50_000, 0),
        # 寡婦 with other 所得 200,000 only: ホ 270,000 capped at 200,000, no ヘ.
        (Member("本人", D(1960, 1, 1), other_income=200_000, widow=True), 200_000, 0),
        # 寡婦 with other 所得 300,000: ホ 270,000 in full; (300,000 − 270,000) / 12 = 2,500.
        (Member("本人", D(1960, 1, 1), other_income=300_000, widow=True), 270_000, 2_500),
        # ひとり親 with 給与所得 250,000 (収入 900,000): ホ 250,000 (cap) + ヘ 100,000; income below.
        (Member("本人", D(1990, 1, 1), salary_revenue=900_000, single_parent=True), 350_000, 0),
        # Special disability of the head: ニ 400,000 + ヘ 100,000; 給与所得 2,370,000.
        # (2,370,000 − 500,000) / 12 = 155,833.
        (Member("本人", D(1980, 1, 1), salary_revenue=3_500_000, disability="special"), 500_000, 155_833),
    ],
)
def test_caps_of_ho_and_he(masters_2025, member, deduction, seirei):
    result = household_income([member], [], masters_2025)
    assert result.members[0].deduction == deduction
    assert result.seirei_getsushu == seirei
