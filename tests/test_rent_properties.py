"""Properties of the rent rules over many generated households and units (Hypothesis).

- the rent never exceeds 近傍同種家賃, whatever the status;
- 政令月収 is never negative;
- more revenue for any member never gives a lower 収入分位 — except in one corner the law's text
  makes: a 寡婦・ひとり親 whose 所得 is below the ホ amount gets ホ capped at that 所得 AND ヘ capped at
  the same 給与所得, so one more yen of 給与所得 adds up to two yen of deductions (pinned by
  test_ho_and_he_corner below and left out of the property);
- for a fixed unit, the rent of a normal household never falls as 政令月収 rises.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rules.income import Member, RemoteDependent, bracket_for, household_income
from rules.rent import STRUCTURES, UnitFacts, decide
from tests.rent_rules_support import load_seeded

EXAMPLES = 300
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def seeded(migrated_template, tmp_path_factory):
    return load_seeded(migrated_template, tmp_path_factory.mktemp("rent-properties"))


births = st.dates(dt.date(1920, 1, 1), dt.date(2025, 12, 31))
amounts = st.integers(0, 30_000_000)
members = st.builds(
    Member,
    relation=st.sampled_from(["本人", "配偶者", "子", "父母", "その他"]),
    birth_date=births,
    salary_revenue=amounts,
    pension_revenue=amounts,
    other_income=st.integers(0, 5_000_000),
    disability=st.sampled_from(["none", "ordinary", "special"]),
    widow=st.booleans(),
    single_parent=st.booleans(),
    dependent=st.booleans(),
)
households = st.lists(members, min_size=1, max_size=6)
remotes = st.lists(
    st.builds(
        RemoteDependent, birth_date=births, disability=st.sampled_from(["none", "ordinary", "special"])
    ),
    max_size=3,
)


@st.composite
def units(draw):
    return UnitFacts(
        floor_area=Decimal(draw(st.integers(1_000, 15_000))) / 100,
        structure=draw(st.sampled_from(list(STRUCTURES))),
        age_years=draw(st.integers(0, 120)),
        convenience_coefficient=Decimal(draw(st.integers(50, 130))) / 100,
        market_rent=draw(st.integers(0, 300_000)),
    )


@SETTINGS
@given(
    seirei=st.one_of(st.none(), st.integers(0, 2_000_000)),
    unit=units(),
    category=st.sampled_from(["general", "special"]),
    years=st.integers(0, 60),
    previous=st.lists(st.integers(0, 2_000_000), max_size=6),
    before=st.one_of(st.none(), st.integers(0, 10)),
    resets=st.booleans(),
    rounded=st.booleans(),
)
def test_rent_never_exceeds_market_rent(
    seeded, seirei, unit, category, years, previous, before, resets, rounded
):
    masters = replace(seeded.rent, over_income_count_resets=resets, over_income_uses_rounded_standard=rounded)
    result = decide(
        seirei,
        unit,
        category=category,
        years_resided=years,
        previous=previous,
        masters=masters,
        years_over_before=before,
        declared=seirei is not None,
    )
    assert 0 <= result.rent <= unit.market_rent
    if result.standard_rent is not None:
        assert result.standard_rent <= result.rent


@SETTINGS
@given(household=households, remote=remotes)
def test_seirei_getsushu_never_negative(seeded, household, remote):
    result = household_income(household, remote, seeded.income_2025)
    assert result.seirei_getsushu >= 0
    assert result.seirei_getsushu == max(0, result.total_income - result.total_deduction) // 12


@SETTINGS
@given(
    household=households,
    remote=remotes,
    data=st.data(),
    year=st.sampled_from([2024, 2025]),
)
def test_more_revenue_never_lowers_the_bracket(seeded, household, remote, data, year):
    masters = seeded.income_2025 if year == 2025 else seeded.income_2024
    index = data.draw(st.integers(0, len(household) - 1))
    kind = data.draw(st.sampled_from(["salary_revenue", "pension_revenue", "other_income"]))
    extra = data.draw(st.integers(1, 5_000_000))
    richer = list(household)
    richer[index] = replace(household[index], **{kind: getattr(household[index], kind) + extra})
    first = household_income(household, remote, masters)
    member = household[index]
    if member.widow or member.single_parent:
        cap = masters.deductions["single_parent" if member.single_parent else "widow"]
        assume(first.members[index].income >= cap)  # the ホ cap does not bind (see the corner test)
    before = first.seirei_getsushu
    after = household_income(richer, remote, masters).seirei_getsushu
    assert after >= before
    assert bracket_for(after, seeded.rent.bands).bracket >= bracket_for(before, seeded.rent.bands).bracket


@SETTINGS
@given(unit=units(), low=st.integers(0, 600_000), high=st.integers(0, 600_000))
def test_normal_rent_non_decreasing_in_seirei_getsushu(seeded, unit, low, high):
    low, high = sorted((low, high))

    def rent(seirei):
        result = decide(seirei, unit, category="general", years_resided=0, previous=(), masters=seeded.rent)
        assert result.status == "normal"
        return result.rent

    assert rent(low) <= rent(high)


def test_ho_and_he_corner(seeded):
    """The corner of 令1条3号ホ・ヘ: an adult child, ひとり親, 給与収入 700,000 → 給与所得 50,000: ホ 50,000
    (capped at the 所得) + ヘ 50,000 (capped at the 給与所得). At 710,000 → 60,000: ホ 60,000 + ヘ 60,000.
    The head's other 所得 2,000,000: (2,050,000 − 380,000 − 100,000) / 12 = 130,833, then
    (2,060,000 − 380,000 − 120,000) / 12 = 130,000 — the law's text lowers 政令月収 as income rises."""

    def seirei(revenue):
        members = [
            Member("本人", dt.date(1960, 1, 1), other_income=2_000_000),
            Member("子", dt.date(1995, 1, 1), salary_revenue=revenue, single_parent=True),
        ]
        return household_income(members, [], seeded.income_2025).seirei_getsushu

    assert (seirei(700_000), seirei(710_000)) == (130_833, 130_000)
