"""本来家賃, 収入超過者・高額所得者の家賃, 敷金, 明渡期限 and 損害賠償金 against SPEC §4 and the law.

Every expected figure is worked out by hand in the comments from the law's formula, never read off
the code. The unit of SPEC §4.6 (E1-E2): 60.00 ㎡, 耐火, 20 years, 立地係数 1.00, 利便性係数 1.00:
規模係数 60/65 = 0.923077, 経過年数係数 1 − 0.0039 × 20 = 0.922, so the factor is 0.8510769….
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from rules import certification, damages
from rules.rent import UnitFacts, decide, deposit, standard_rent
from tests.rent_rules_support import load_seeded

D = dt.date
MARKET = 90_000


@pytest.fixture(scope="module")
def seeded(migrated_template, tmp_path_factory):
    return load_seeded(migrated_template, tmp_path_factory.mktemp("rent-rules"))


@pytest.fixture(scope="module")
def masters(seeded):
    return seeded.rent


def unit(**changes) -> UnitFacts:
    facts = UnitFacts(Decimal("60.00"), "fire_resistant", 20, Decimal("1.00"), MARKET)
    return replace(facts, **changes)


# --- 本来家賃 ---------------------------------------------------------------------------------------


def test_e1_standard_rent_and_deposit(masters):
    # 45,400 × 1.00 × 0.923077 × 0.922 × 1.00 = 38,638.9 → 38,600; deposit 3 × 38,600 = 115,800.
    result = standard_rent(125_833, unit(), masters)
    assert (result.bracket, result.base_amount, result.rent) == (3, 45_400, 38_600)
    assert deposit(result.rent, masters)[0] == 115_800
    assert any("38,638.9円" in step for step in result.explanation)


def test_e1_with_location_and_convenience(masters):
    # 45,400 × 1.15 × 0.923077 × 0.922 × 0.85 = 37,769.5 → 37,700.
    city = replace(masters, location_coefficient=Decimal("1.15"))
    assert standard_rent(125_833, unit(convenience_coefficient=Decimal("0.85")), city).rent == 37_700


# 区分 edges of 令2条2項; rent = floor(基礎額 × 0.8510769 / 100) × 100.
BRACKET_EDGES = [
    (0, 1, 34_400, 29_200),  # 29,277.0
    (104_000, 1, 34_400, 29_200),
    (104_001, 2, 39_700, 33_700),  # 33,787.8
    (123_000, 2, 39_700, 33_700),
    (123_001, 3, 45_400, 38_600),  # 38,638.9
    (139_000, 3, 45_400, 38_600),
    (139_001, 4, 51_200, 43_500),  # 43,575.1
    (158_000, 4, 51_200, 43_500),
    (158_001, 5, 58_500, 49_700),  # 49,788.0
    (186_000, 5, 58_500, 49_700),
    (186_001, 6, 67_500, 57_400),  # 57,447.7
    (214_000, 6, 67_500, 57_400),
    (214_001, 7, 79_000, 67_200),  # 67,235.1
    (259_000, 7, 79_000, 67_200),
    (259_001, 8, 91_100, 77_500),  # 77,533.1
    (5_000_000, 8, 91_100, 77_500),
]


@pytest.mark.parametrize(("seirei", "bracket", "base", "rent"), BRACKET_EDGES)
def test_every_bracket_edge(masters, seirei, bracket, base, rent):
    result = standard_rent(seirei, unit(), masters)
    assert (result.bracket, result.base_amount, result.rent) == (bracket, base, rent)


@pytest.mark.parametrize(
    ("facts", "rent"),
    [
        # 準耐火・木造: 1 − 0.0087 × 20 = 0.826; 45,400 × 0.923077 × 0.826 = 34,615.8 → 34,600.
        ({"structure": "quasi_fire_resistant"}, 34_600),
        ({"structure": "wooden"}, 34_600),
        # New: 経過年数係数 1; 45,400 × 0.923077 = 41,907.7 → 41,900.
        ({"age_years": 0}, 41_900),
        # 規模係数 70.5/65: 45,400 × 1.084615 × 0.922 = 45,400.7 → 45,400.
        ({"floor_area": Decimal("70.5")}, 45_400),
        # 近傍同種家賃 below the formula: capped at 35,000 (already a multiple of 100).
        ({"market_rent": 35_000}, 35_000),
        # Capped at 35,050, then rounded down to 100: 35,000.
        ({"market_rent": 35_050}, 35_000),
        # Formula 38,638.9 just below the market rent 38,639: not capped, rounded down 38,600.
        ({"market_rent": 38_639}, 38_600),
    ],
)
def test_rounding_coefficients_and_market_cap(masters, facts, rent):
    assert standard_rent(125_833, unit(**facts), masters).rent == rent


def test_market_cap_is_explained(masters):
    result = standard_rent(125_833, unit(market_rent=35_000), masters)
    assert result.capped
    assert any("近傍同種家賃 35,000円 を超える" in step for step in result.explanation)


@pytest.mark.parametrize(
    ("location", "convenience", "accepted"),
    [
        ("1.00", "0.50", True),
        ("1.00", "0.49", False),
        ("1.00", "1.30", True),  # min(1.3, 1.6/1.0 = 1.6) = 1.3
        ("1.00", "1.31", False),
        ("1.15", "1.30", True),  # 1.6/1.15 = 1.391 > 1.3
        ("1.30", "1.23", True),  # 1.6/1.3 = 1.2307…
        ("1.30", "1.24", False),
        ("1.60", "1.00", True),  # 1.6/1.6 = 1.0
        ("1.60", "1.01", False),
    ],
)
def test_convenience_bound(masters, location, convenience, accepted):
    city = replace(masters, location_coefficient=Decimal(location))
    facts = unit(convenience_coefficient=Decimal(convenience))
    if accepted:
        assert standard_rent(125_833, facts, city).rent > 0
    else:
        with pytest.raises(ValueError, match="利便性係数"):
            standard_rent(125_833, facts, city)


# --- 収入超過者 (令8条2項) ---------------------------------------------------------------------------

# (政令月収, category, year over, rent). Market 90,000.
# Column 1: 170,000 → 区分5, 本来家賃 49,700, gap 40,300: + 8,060 k (k/5).
# Column 2: 200,000 → 区分6, 57,400, gap 32,600: + 8,150 k (k/4).
# Column 3: 230,000 → 区分7, 67,200, gap 22,800: 1st + 11,400; then all.
# Column 4: 280,000 → 区分8, 77,500: the whole gap from the 1st year.
OVER_INCOME = [
    (170_000, "general", 1, 57_700),  # 57,760
    (170_000, "general", 2, 65_800),  # 65,820
    (170_000, "general", 3, 73_800),  # 73,880
    (170_000, "general", 4, 81_900),  # 81,940
    (170_000, "general", 5, 90_000),
    (170_000, "general", 8, 90_000),
    (200_000, "general", 1, 65_500),  # 65,550
    (200_000, "general", 2, 73_700),
    (200_000, "general", 3, 81_800),  # 81,850
    (200_000, "general", 4, 90_000),
    (200_000, "general", 5, 90_000),
    (230_000, "general", 1, 78_600),
    (230_000, "general", 2, 90_000),
    (230_000, "general", 5, 90_000),
    (280_000, "general", 1, 90_000),
    (280_000, "general", 3, 90_000),
    # 特認: over only above 214,000, so the first year over is already in the third column.
    (230_000, "special", 1, 78_600),
    (230_000, "special", 2, 90_000),
]


@pytest.mark.parametrize(("seirei", "category", "year", "rent"), OVER_INCOME)
def test_over_income_rates(masters, seirei, category, year, rent):
    result = decide(
        seirei,
        unit(),
        category=category,
        years_resided=10,
        previous=(),
        masters=masters,
        years_over_before=year - 1,
    )
    assert (result.status, result.years_over, result.rent) == ("over_income", year, rent)


def test_special_category_under_its_limit_is_normal(masters):
    # 200,000 is above 一般 158,000 but within 特認 214,000: 本来家賃 of 区分6.
    result = decide(200_000, unit(), category="special", years_resided=10, previous=(), masters=masters)
    assert (result.status, result.rent) == ("normal", 57_400)


@pytest.mark.parametrize(("years", "status", "rent"), [(2, "normal", 49_700), (3, "over_income", 57_700)])
def test_over_income_needs_three_years(masters, years, status, rent):
    result = decide(170_000, unit(), category="general", years_resided=years, previous=(), masters=masters)
    assert (result.status, result.rent) == (status, rent)
    assert certification.over_income(170_000, "general", years, masters).result is (status == "over_income")


@pytest.mark.parametrize(("seirei", "status"), [(158_000, "normal"), (158_001, "over_income")])
def test_general_limit_edge(masters, seirei, status):
    result = decide(seirei, unit(), category="general", years_resided=5, previous=(), masters=masters)
    assert result.status == status


@pytest.mark.parametrize(("seirei", "status"), [(214_000, "normal"), (214_001, "over_income")])
def test_special_limit_edge(masters, seirei, status):
    result = decide(seirei, unit(), category="special", years_resided=5, previous=(), masters=masters)
    assert result.status == status


@pytest.mark.parametrize(
    ("previous", "resided", "resets", "year"),
    [
        ((170_000, 170_000), 10, True, 3),  # two years over before this one
        ((170_000, 150_000, 170_000), 10, True, 2),  # a year under resets the count
        ((170_000, 150_000, 170_000), 10, False, 3),  # …unless the master says it does not
        ((150_000,), 10, True, 1),
        ((170_000, 170_000, 170_000), 4, True, 2),  # 2 years back the household had resided only 2
    ],
)
def test_years_over_counted_from_history(masters, previous, resided, resets, year):
    rules = replace(masters, over_income_count_resets=resets)
    result = decide(
        170_000, unit(), category="general", years_resided=resided, previous=previous, masters=rules
    )
    assert result.years_over == year
    assert result.rent == {1: 57_700, 2: 65_800, 3: 73_800}[year]


def test_over_income_on_the_unrounded_standard_rent(masters):
    # Flag off: 49,788 + (90,000 − 49,788) × 1/5 = 57,830.4 → 57,800 (57,700 with the rounded 49,700).
    rules = replace(masters, over_income_uses_rounded_standard=False)
    result = decide(
        170_000, unit(), category="general", years_resided=3, previous=(), masters=rules, years_over_before=0
    )
    assert result.rent == 57_800


# --- 高額所得者 (法29条, 令9条) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seirei", "previous", "resided", "high"),
    [
        (313_001, (313_001,), 5, True),
        (313_000, (400_000,), 5, False),  # this year not above 313,000
        (400_000, (313_000,), 5, False),  # last year not above: only one year high
        (400_000, (), 5, False),  # no previous year known
        (400_000, (400_000,), 4, False),  # resident 4 years
        (400_000, (400_000,), 5, True),
    ],
)
def test_high_income(masters, seirei, previous, resided, high):
    result = decide(
        seirei, unit(), category="general", years_resided=resided, previous=previous, masters=masters
    )
    assert (result.status == "high_income") is high
    assert certification.high_income(seirei, previous, resided, masters).result is high
    if high:
        assert result.rent == MARKET
    else:
        assert result.status == "over_income"  # still above 158,000 with 3+ years


def test_undeclared_pays_market_rent(masters):
    result = decide(
        None, unit(), category="general", years_resided=1, previous=(), masters=masters, declared=False
    )
    assert (result.status, result.rent) == ("undeclared", MARKET)


# --- 明渡期限 (法29条3項, 民法140条・143条) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "deadline"),
    [
        (D(2026, 1, 15), D(2026, 7, 16)),  # SPEC §4.4: period 1/16-7/15, six months passed on 7/16
        (D(2026, 8, 30), D(2027, 3, 1)),  # period from 8/31: no 2/31, ends 2/28 (民法143条2項ただし書)
        (D(2026, 8, 31), D(2027, 3, 1)),  # period from 9/1: six whole months, ends 2/28
        (D(2027, 8, 30), D(2028, 3, 1)),  # leap year: ends 2/29
        (D(2027, 8, 28), D(2028, 2, 29)),  # from 8/29: the day before 2/29 is 2/28
        (D(2026, 12, 31), D(2027, 7, 1)),  # from 1/1: January-June
        (D(2026, 9, 30), D(2027, 4, 1)),  # from 10/1: October-March
    ],
)
def test_eviction_deadline(requested, deadline):
    assert certification.eviction_deadline(requested, 6) == deadline


# --- 損害賠償金 -------------------------------------------------------------------------------------


def test_fraud_difference_with_interest(seeded):
    months = [
        # 40,000 × 3% × 365/365 = 1,200.
        damages.FraudMonth(D(2026, 4, 1), 80_000, 40_000, D(2026, 4, 30)),
        # 40,000 × 3% × 334/365 = 1,098.08 → 1,098.
        damages.FraudMonth(D(2026, 5, 1), 80_000, 40_000, D(2026, 5, 31)),
        # Paid in full: no difference, no interest.
        damages.FraudMonth(D(2026, 6, 1), 80_000, 80_000, D(2026, 6, 30)),
    ]
    result = damages.fraud_difference(months, D(2027, 4, 30), seeded.damages)
    assert [(m.amount, m.interest) for m in result.months] == [(40_000, 1_200), (40_000, 1_098), (0, 0)]
    assert (result.principal, result.interest, result.total) == (80_000, 2_298, 82_298)
    assert "334日" in result.explanation[1]


def test_fraud_interest_takes_the_rate_in_force_when_it_starts(seeded):
    rates = replace(
        seeded.damages,
        interest_rates=(*seeded.damages.interest_rates, (D(2029, 4, 1), Decimal("0.025"))),
    )
    months = [
        # Due 3/30: interest from 3/31 at 3%: 40,000 × 3% × 366/365 = 1,203.29 → 1,203.
        damages.FraudMonth(D(2029, 3, 1), 80_000, 40_000, D(2029, 3, 30)),
        # Due 3/31: interest from 4/1 at 2.5%: 40,000 × 2.5% × 365/365 = 1,000.
        damages.FraudMonth(D(2029, 3, 1), 80_000, 40_000, D(2029, 3, 31)),
    ]
    result = damages.fraud_difference(months, D(2030, 3, 31), rates)
    assert [m.interest for m in result.months] == [1_203, 1_000]


def test_after_fraud_request_twice_market_rent_prorated(seeded):
    # 160,000 a month: 6/16-30 15/30 → 80,000; July 160,000; 8/1-10 10/31 → 51,612.9 → 51,612.
    result = damages.after_fraud_request(D(2026, 6, 15), D(2026, 8, 10), 80_000, seeded.damages)
    assert [m.amount for m in result.months] == [80_000, 160_000, 51_612]
    assert result.total == 291_612


def test_high_income_damages_after_deadline(seeded):
    # Deadline 7/16; 180,000 a month: 7/17-31 15/31 → 87,096.8 → 87,096; August, September in full.
    result = damages.after_eviction_deadline(D(2026, 7, 16), D(2026, 9, 30), MARKET, seeded.damages)
    assert [m.amount for m in result.months] == [87_096, 180_000, 180_000]
    assert result.total == 447_096
    lower = damages.after_eviction_deadline(
        D(2026, 7, 16), D(2026, 8, 31), MARKET, seeded.damages, multiplier=Decimal("1.5")
    )
    assert lower.total == 135_000 * 15 // 31 + 135_000


def test_high_income_damages_follow_the_fiscal_years_market_rent(seeded):
    # 3/21-31: 180,000 × 11/31 = 63,870.97 → 63,870; 4/1-10: 190,000 × 10/30 = 63,333.
    result = damages.after_eviction_deadline(
        D(2027, 3, 20), D(2027, 4, 10), {2026: 90_000, 2027: 95_000}, seeded.damages
    )
    assert [m.amount for m in result.months] == [63_870, 63_333]


def test_no_damages_when_vacated_by_the_deadline_and_multiplier_capped(seeded):
    assert damages.after_eviction_deadline(D(2026, 7, 16), D(2026, 7, 16), MARKET, seeded.damages).total == 0
    with pytest.raises(ValueError):
        damages.after_eviction_deadline(
            D(2026, 7, 16), D(2026, 9, 30), MARKET, seeded.damages, multiplier=Decimal("2.5")
        )
