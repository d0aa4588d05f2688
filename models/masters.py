"""Effective-dated masters of every legal figure (SPEC §4): a table, never a constant in code.

Each row has a valid_from date; the row in force on a date is the one with the latest valid_from not
after it. Computations store which rows they used (RentDecision.masters_used), so a correction for a
past year re-runs with that year's rules.
"""

from __future__ import annotations

from peewee import SQL, CharField, Check, DateField, DecimalField, IntegerField, SmallIntegerField, TextField

from models.base import CodeField, EditableModel, YenField

AGE_GROUPS = (("under65", "65歳未満"), ("65plus", "65歳以上"))

# code → (label, unit). The registry of scalar parameters; rules/ reads them by code.
PARAMETERS: dict[str, tuple[str, str]] = {
    "location_coefficient": ("立地係数", "係数"),
    "age_coefficient_rate.fire_resistant": ("経過年数係数の減価率(耐火)", "1年あたり"),
    "age_coefficient_rate.quasi_fire_resistant": ("経過年数係数の減価率(準耐火)", "1年あたり"),
    "age_coefficient_rate.wooden": ("経過年数係数の減価率(木造)", "1年あたり"),
    "standard_floor_area": ("規模係数の基準床面積", "㎡"),
    "convenience_coefficient.min": ("利便性係数の下限", "係数"),
    "convenience_coefficient.max": ("利便性係数の上限", "係数"),
    "convenience_coefficient.cap_numerator": ("利便性係数の上限(1.6÷立地係数)の分子", "係数"),
    "rent_rounding_unit": ("家賃の端数処理単位(切り捨て)", "円"),
    "over_income_rounding_unit": ("収入超過者家賃の端数処理単位(切り捨て)", "円"),
    "over_income_uses_rounded_standard": ("収入超過者家賃は端数処理後の本来家賃を用いる", "1=はい"),
    "over_income_count_resets": ("基準以下の年があれば超過年数を数え直す", "1=はい"),
    "deposit_months": ("敷金(家賃の月数)", "か月"),
    "income_limit.general": ("入居収入基準(一般)", "円"),
    "income_limit.special": ("入居収入基準(特認・裁量階層)", "円"),
    "income_limit.high_income": ("高額所得者の基準", "円"),
    "over_income.min_years": ("収入超過者の入居年数", "年"),
    "high_income.min_years": ("高額所得者の入居年数", "年"),
    "high_income.consecutive_years": ("高額所得者の基準超過年数", "年"),
    "eviction.min_months": ("明渡期限までの最短期間", "か月"),
    "damages.market_rent_multiplier": ("損害賠償金(近傍同種家賃の倍数の上限)", "倍"),
    "statutory_interest_rate": ("法定利率", "年利"),
    "deduction.dependent": ("控除イ: 同居親族・遠隔地扶養親族", "円"),
    "deduction.elderly": ("控除ロ: 70歳以上の配偶者・老人扶養親族(加算)", "円"),
    "deduction.specific_dependent": ("控除ハ: 特定扶養親族(16-22歳)(加算)", "円"),
    "deduction.disability": ("控除ニ: 障害者", "円"),
    "deduction.special_disability": ("控除ニ: 特別障害者", "円"),
    "deduction.widow": ("控除ホ: 寡婦", "円"),
    "deduction.single_parent": ("控除ホ: ひとり親", "円"),
    "deduction.earned_income": ("控除ヘ: 給与所得・公的年金等の雑所得がある者", "円"),
    "age_reference.month_day": ("年齢の基準日(収入年の月日, MMDD)", "MMDD"),
    "disaster.rent_free_months": ("災害による一時使用の無償期間", "か月"),
    "declaration.month": ("収入申告の月", "月"),
    "objection.days": ("意見申出の期間", "日"),
    "disclosure.deadline_days": ("開示等の決定期限", "日"),
    "disclosure.extension_days": ("開示等の決定期限の延長", "日"),
    "arrears.eviction_months": ("明渡請求の対象となる滞納月数", "か月"),
    "my_number.retention_days_after_settlement": ("退去・精算後の個人番号の保存日数", "日"),
}


class MasterParameter(EditableModel):
    """A scalar legal or ordinance figure (立地係数, 控除額, 入居収入基準, 利率, 端数処理 …) from a date."""

    code = CharField(max_length=60, verbose_name="項目")
    valid_from = DateField(verbose_name="適用開始日")
    value = DecimalField(max_digits=14, decimal_places=6, verbose_name="値", auto_round=True)
    basis = CharField(max_length=200, null=True, verbose_name="根拠")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        indexes = ((("code", "valid_from"), True),)


class RentBaseBand(EditableModel):
    """家賃算定基礎額 by 収入分位 (令2条2項)."""

    valid_from = DateField(verbose_name="適用開始日")
    bracket = SmallIntegerField(verbose_name="収入分位", constraints=[Check("bracket BETWEEN 1 AND 8")])
    income_min = YenField(verbose_name="政令月収(下限)")
    income_max = YenField(null=True, verbose_name="政令月収(上限)")
    base_amount = YenField(verbose_name="家賃算定基礎額")

    class Meta:
        indexes = ((("valid_from", "bracket"), True),)
        constraints = [SQL("CHECK (income_max IS NULL OR income_max >= income_min)")]


class OverIncomeRate(EditableModel):
    """収入超過者の家賃: the share of (近傍同種家賃 − 本来家賃) added, by income band and year over (令8条2項)."""

    valid_from = DateField(verbose_name="適用開始日")
    band = SmallIntegerField(verbose_name="政令月収の区分", constraints=[Check("band BETWEEN 1 AND 9")])
    income_min = YenField(verbose_name="政令月収(下限)")
    income_max = YenField(null=True, verbose_name="政令月収(上限)")
    year_over = SmallIntegerField(verbose_name="超過年数", constraints=[Check("year_over BETWEEN 1 AND 9")])
    numerator = SmallIntegerField(verbose_name="分子")
    denominator = SmallIntegerField(verbose_name="分母")

    class Meta:
        indexes = ((("valid_from", "band", "year_over"), True),)
        constraints = [SQL("CHECK (denominator > 0 AND numerator >= 0 AND numerator <= denominator)")]


class SalaryIncomeBand(EditableModel):
    """給与所得 from 給与収入 (所得税法28条, 別表第五) for income years from income_year_from.

    In a band: A = revenue rounded down to a multiple of round_to; 給与所得 = floor(A × rate) + offset,
    never below 0. A fixed amount is rate 0 and offset = the amount (the table's steps).
    """

    income_year_from = SmallIntegerField(verbose_name="適用収入年")
    revenue_min = YenField(verbose_name="給与収入(以上)")
    revenue_max = YenField(null=True, verbose_name="給与収入(以下)")
    round_to = IntegerField(default=1, verbose_name="端数処理単位", constraints=[Check("round_to >= 1")])
    rate = DecimalField(max_digits=6, decimal_places=4, verbose_name="率", auto_round=True)
    offset = IntegerField(verbose_name="加減額")

    class Meta:
        indexes = ((("income_year_from", "revenue_min"), True),)


class PensionDeductionBand(EditableModel):
    """公的年金等控除 (所得税法35条4項) by age group: 控除 = floor(revenue × rate) + offset, capped at revenue."""

    income_year_from = SmallIntegerField(verbose_name="適用収入年")
    age_group = CodeField(AGE_GROUPS, verbose_name="年齢区分")
    revenue_min = YenField(verbose_name="公的年金等収入(以上)")
    revenue_max = YenField(null=True, verbose_name="公的年金等収入(以下)")
    rate = DecimalField(max_digits=6, decimal_places=4, verbose_name="率", auto_round=True)
    offset = IntegerField(verbose_name="加算額")

    class Meta:
        indexes = ((("income_year_from", "age_group", "revenue_min"), True),)
