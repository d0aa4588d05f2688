"""入居資格 (公営住宅法23条, 施行令6条, 市営住宅条例): is an applicant household eligible, and in which category.

SPEC §3.1: the 政令月収 within the 入居収入基準 of the household's category (一般 158,000 / 特認 214,000,
from the masters), residence or work in the city (市内在住, or 市内の同一勤務先に1年以上), a housing need,
no arrears of city tax, and a declaration of not being a 暴力団員. The category is 特認 (裁量階層, 令6条4項)
when one of its cases is found: a qualifying disability handbook, a head aged 60 or more whose other
members are all 60 or more or under 18, a child before the end of compulsory education, or one of the
other statutory cases (戦傷病者, 原子爆弾被爆者, 海外からの引揚者, ハンセン病療養所入所者等) declared.

Pure: the facts and the masters come in, the answer with every condition explained (met or failed,
in Japanese) goes out. Ages are taken during the reference day (the application date): a
person is 60 from the 60th birthday on (the age is completed at the end of the day before it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rules.income import age_at
from rules.rent import RentMasters

HANDBOOK_KINDS = {
    "physical": "身体障害者手帳",
    "mental": "精神障害者保健福祉手帳",
    "intellectual": "療育手帳",
}
# The grades that make a household 特認 (令6条4項1号イ-ハ; 療育 A1-B1 is the city's reading of 知的障害の
# 程度が精神障害の1級・2級に相当する者).
QUALIFYING_GRADES = {
    "physical": ("1", "2", "3", "4"),
    "mental": ("1", "2"),
    "intellectual": ("A1", "A2", "B1"),
}
OTHER_REASONS = {
    "war_injured": "戦傷病者(令6条4項1号ニ)",
    "atomic_bomb": "原子爆弾被爆者(令6条4項1号ホ)",
    "repatriate": "海外からの引揚者で引き揚げた日から5年を経過していない者(令6条4項1号ヘ)",
    "hansen": "ハンセン病療養所入所者等(令6条4項1号ト)",
}
ELDERLY_AGE = 60
MINOR_AGE = 18
COMPULSORY_SCHOOL_YEARS = 9
SCHOOL_ENTRY_AGE = 6


@dataclass(frozen=True)
class Handbook:
    """A disability handbook as models.person codes it: kind physical/mental/intellectual, grade "1"…"B2"."""

    kind: str
    grade: str


@dataclass(frozen=True)
class Applicant:
    """One member of the applying household; the first of the household is the head (申込者)."""

    relation: str
    birth_date: dt.date
    handbook: Handbook | None = None


@dataclass(frozen=True)
class Application:
    """The facts of an application: members, 政令月収 and the declared conditions."""

    members: tuple[Applicant, ...]
    seirei_getsushu: int
    lives_in_city: bool
    works_in_city_since: dt.date | None = None  # start of the present work in the city, if any
    housing_need: bool = True
    city_tax_arrears: bool = False
    declared_not_gang_member: bool = False
    other_reasons: tuple[str, ...] = ()


@dataclass
class Condition:
    """One condition of eligibility: met or not, and why."""

    code: str
    met: bool
    explanation: str


@dataclass
class Eligibility:
    """The answer: eligible or not, the category (general 一般 / special 特認) and its reasons, each condition."""

    eligible: bool
    category: str
    special_reasons: list[str]
    income_limit: int
    conditions: list[Condition]
    explanation: list[str] = field(default_factory=list)

    @property
    def category_label(self) -> str:
        return "特認(裁量階層)" if self.category == "special" else "一般"


def compulsory_education_end(birth: dt.date) -> dt.date:
    """The last day of compulsory education (学校教育法17条): 31 March of the school year in which the
    child turns 15. A child enters school in the April after turning 6; one born on 1 April turns 6 on
    31 March (年齢計算ニ関スル法律) and so belongs to the year before."""
    entry_year = birth.year + SCHOOL_ENTRY_AGE + (0 if (birth.month, birth.day) <= (4, 1) else 1)
    return dt.date(entry_year + COMPULSORY_SCHOOL_YEARS, 3, 31)


def handbook_qualifies(handbook: Handbook | None) -> bool:
    """A handbook of the grades that make a household 特認 (身体 1-4級, 精神 1-2級, 療育 A1-B1)."""
    if handbook is None:
        return False
    if handbook.kind not in HANDBOOK_KINDS:
        raise ValueError(f"handbook kind must be one of {tuple(HANDBOOK_KINDS)}")
    return handbook.grade in QUALIFYING_GRADES[handbook.kind]


def _handbook_text(handbook: Handbook) -> str:
    grade = handbook.grade if handbook.grade[0].isalpha() else f"{handbook.grade}級"
    return f"{HANDBOOK_KINDS[handbook.kind]} {grade}"


def special_reasons(application: Application, on: dt.date) -> list[str]:
    """The 特認 (裁量階層) cases found in the household, in Japanese; empty when none."""
    members = application.members
    reasons = []
    for index, member in enumerate(members):
        if handbook_qualifies(member.handbook):
            who = "申込者" if index == 0 else f"同居者({member.relation})"
            reasons.append(f"{who}が{_handbook_text(member.handbook)}を所持(令6条4項1号イ-ハ)")
    head_age = age_at(members[0].birth_date, on)
    others = [age_at(m.birth_date, on) for m in members[1:]]
    if head_age >= ELDERLY_AGE and all(age >= ELDERLY_AGE or age < MINOR_AGE for age in others):
        reasons.append(
            f"申込者が{head_age}歳(60歳以上)で、同居者がいずれも60歳以上または18歳未満(令6条4項1号チ)"
        )
    for member in members[1:]:
        end = compulsory_education_end(member.birth_date)
        if on <= end:
            reasons.append(
                f"義務教育終了前の子がいる({member.relation}、{end.year}年3月31日まで、条例による裁量階層)"
            )
            break
    for code in application.other_reasons:
        if code not in OTHER_REASONS:
            raise ValueError(f"other reason must be one of {tuple(OTHER_REASONS)}")
        reasons.append(OTHER_REASONS[code])
    return reasons


def check(application: Application, on: dt.date, masters: RentMasters) -> Eligibility:
    """入居資格確認: every condition with its explanation, the category found, eligible when all are met."""
    if not application.members:
        raise ValueError("世帯員がいません")
    if application.seirei_getsushu < 0:
        raise ValueError("政令月収は0以上の整数です")
    reasons = special_reasons(application, on)
    category = "special" if reasons else "general"
    limit = masters.income_limit(category)
    steps = [f"基準日 {on.year}年{on.month}月{on.day}日(申込日)"]
    if reasons:
        steps.append("特認(裁量階層)に該当: " + "、".join(reasons))
    else:
        steps.append("特認(裁量階層)の事由なし: 一般世帯")
    conditions = []

    income_ok = application.seirei_getsushu <= limit
    label = "特認" if category == "special" else "一般"
    conditions.append(
        Condition(
            "income",
            income_ok,
            f"収入: 政令月収 {application.seirei_getsushu:,}円 は{label}の入居収入基準 {limit:,}円"
            + ("以下(適合)" if income_ok else "を超える(不適合)"),
        )
    )

    works_years = None
    if application.works_in_city_since is not None:
        works_years = age_at(application.works_in_city_since, on)  # whole years worked
    if application.lives_in_city:
        residence = Condition("residence", True, "市内在住・在勤: 市内に住所がある(適合)")
    elif works_years is not None and works_years >= 1:
        since = application.works_in_city_since
        residence = Condition(
            "residence",
            True,
            f"市内在住・在勤: 市内の同一勤務先に{since.year}年{since.month}月{since.day}日から"
            f"{works_years}年以上勤務(適合)",
        )
    elif works_years is not None:
        residence = Condition(
            "residence", False, "市内在住・在勤: 市外に住み、市内の同一勤務先での勤務が1年未満(不適合)"
        )
    else:
        residence = Condition(
            "residence", False, "市内在住・在勤: 市内に住所がなく、市内に勤務先もない(不適合)"
        )
    conditions.append(residence)
    conditions.append(
        Condition(
            "housing_need",
            application.housing_need,
            "住宅困窮: 現に住宅に困窮している(適合)"
            if application.housing_need
            else "住宅困窮: 住宅に困窮していることが確認できない(不適合)",
        )
    )
    conditions.append(
        Condition(
            "city_tax",
            not application.city_tax_arrears,
            "市税: 滞納がない(適合)" if not application.city_tax_arrears else "市税: 滞納がある(不適合)",
        )
    )
    conditions.append(
        Condition(
            "gang",
            application.declared_not_gang_member,
            "暴力団員でないこと: 申告あり(適合)"
            if application.declared_not_gang_member
            else "暴力団員でないこと: 申告がない(不適合)",
        )
    )
    eligible = all(c.met for c in conditions)
    steps.extend(c.explanation for c in conditions)
    steps.append(f"入居資格あり({label})" if eligible else "入居資格なし(不適合の条件があります)")
    return Eligibility(eligible, category, reasons, limit, conditions, steps)
