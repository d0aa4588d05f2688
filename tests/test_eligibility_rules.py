"""入居資格確認 (SPEC §3.1): each condition met or failed, and the 特認 (裁量階層) cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from rules.eligibility import Applicant, Application, Handbook, check, compulsory_education_end
from rules.income import Member, household_income
from tests.rent_rules_support import load_seeded

D = dt.date
ON = D(2026, 6, 1)  # the application date


@pytest.fixture(scope="module")
def seeded(migrated_template, tmp_path_factory):
    return load_seeded(migrated_template, tmp_path_factory.mktemp("eligibility"))


def application(members, seirei=120_000, **facts) -> Application:
    base = Application(
        members=tuple(members),
        seirei_getsushu=seirei,
        lives_in_city=True,
        housing_need=True,
        city_tax_arrears=False,
        declared_not_gang_member=True,
    )
    return replace(base, **facts)


ADULT = Applicant("本人", D(1980, 1, 1))


def test_e2_single_person_with_and_without_handbook(seeded):
    """SPEC E2: 160,000 → not eligible as 一般; with a disability handbook 137,500 → eligible (特認)."""
    plain = household_income(
        [Member("本人", D(1980, 1, 1), salary_revenue=3_000_000)], [], seeded.income_2025
    )
    result = check(application([ADULT], plain.seirei_getsushu), ON, seeded.rent)
    assert (plain.seirei_getsushu, result.eligible, result.category) == (160_000, False, "general")
    assert "158,000円を超える(不適合)" in result.conditions[0].explanation

    disabled = household_income(
        [Member("本人", D(1980, 1, 1), salary_revenue=3_000_000, disability="ordinary")],
        [],
        seeded.income_2025,
    )
    member = Applicant("本人", D(1980, 1, 1), Handbook("physical", "3"))
    result = check(application([member], disabled.seirei_getsushu), ON, seeded.rent)
    assert (disabled.seirei_getsushu, result.eligible, result.category) == (137_500, True, "special")
    assert result.special_reasons == ["申込者が身体障害者手帳 3級を所持(令6条4項1号イ-ハ)"]


@pytest.mark.parametrize(
    ("seirei", "handbook", "eligible"),
    [
        (158_000, None, True),
        (158_001, None, False),
        (214_000, Handbook("mental", "2"), True),
        (214_001, Handbook("mental", "2"), False),
    ],
)
def test_income_limits_of_each_category(seeded, seirei, handbook, eligible):
    result = check(application([replace(ADULT, handbook=handbook)], seirei), ON, seeded.rent)
    assert result.eligible is eligible
    assert result.income_limit == (214_000 if handbook else 158_000)


@pytest.mark.parametrize(
    ("handbook", "special"),
    [
        (Handbook("physical", "4"), True),
        (Handbook("physical", "5"), False),
        (Handbook("mental", "2"), True),
        (Handbook("mental", "3"), False),
        (Handbook("intellectual", "A1"), True),
        (Handbook("intellectual", "B1"), True),
        (Handbook("intellectual", "B2"), False),
    ],
)
def test_handbook_grades(seeded, handbook, special):
    members = [ADULT, Applicant("子", D(2000, 5, 5), handbook)]
    assert check(application(members), ON, seeded.rent).category == ("special" if special else "general")


@pytest.mark.parametrize(
    ("head_birth", "others", "special"),
    [
        (D(1966, 6, 1), [], True),  # 60 on the birthday: single, 60
        (D(1966, 6, 2), [], False),  # 59 until the end of 6/1
        (D(1960, 1, 1), [D(1962, 1, 1)], True),  # spouse 64
        (D(1960, 1, 1), [D(2008, 6, 2)], True),  # grandchild 17
        (D(1960, 1, 1), [D(2008, 6, 1)], False),  # grandchild 18 from 6/1
        (D(1960, 1, 1), [D(1970, 1, 1)], False),  # a member aged 56
    ],
)
def test_elderly_household(seeded, head_birth, others, special):
    members = [Applicant("本人", head_birth), *(Applicant("その他", b) for b in others)]
    result = check(application(members), ON, seeded.rent)
    assert (result.category == "special") is special


@pytest.mark.parametrize(
    ("birth", "end"),
    [
        (D(2011, 4, 1), D(2026, 3, 31)),  # born 1 April: school from April 2017, the earlier year
        (D(2011, 4, 2), D(2027, 3, 31)),  # born 2 April: school from April 2018
        (D(2012, 1, 10), D(2027, 3, 31)),
    ],
)
def test_end_of_compulsory_education(birth, end):
    assert compulsory_education_end(birth) == end


@pytest.mark.parametrize(("child_birth", "special"), [(D(2011, 4, 1), False), (D(2011, 4, 2), True)])
def test_child_before_end_of_compulsory_education(seeded, child_birth, special):
    members = [ADULT, Applicant("子", child_birth)]
    result = check(application(members), ON, seeded.rent)
    assert (result.category == "special") is special


def test_other_statutory_reason(seeded):
    result = check(application([ADULT], other_reasons=("atomic_bomb",)), ON, seeded.rent)
    assert result.category == "special"
    assert "原子爆弾被爆者" in result.special_reasons[0]
    with pytest.raises(ValueError):
        check(application([ADULT], other_reasons=("unknown",)), ON, seeded.rent)


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        ({"lives_in_city": False}, "residence"),
        ({"lives_in_city": False, "works_in_city_since": D(2025, 6, 2)}, "residence"),  # 364 days
        ({"housing_need": False}, "housing_need"),
        ({"city_tax_arrears": True}, "city_tax"),
        ({"declared_not_gang_member": False}, "gang"),
    ],
)
def test_each_failed_condition_is_explained(seeded, facts, code):
    result = check(application([ADULT], **facts), ON, seeded.rent)
    assert not result.eligible
    failed = [c for c in result.conditions if not c.met]
    assert [c.code for c in failed] == [code]
    assert "(不適合)" in failed[0].explanation
    assert failed[0].explanation in result.explanation


def test_work_in_city_for_a_year_is_enough(seeded):
    result = check(
        application([ADULT], lives_in_city=False, works_in_city_since=D(2025, 6, 1)), ON, seeded.rent
    )
    assert result.eligible
    assert "1年以上勤務(適合)" in result.conditions[1].explanation
    assert len(result.conditions) == 5 and all(c.met for c in result.conditions)
