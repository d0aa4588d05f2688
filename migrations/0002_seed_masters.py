"""Default masters with the values of SPEC §4 (公営住宅法施行令 and the city's ordinance figures).

Frozen data: later changes to the law come as new rows with a later valid_from, entered by an officer
or by a later migration, never by editing these.
"""

import datetime

from peewee import Table

NOW = datetime.datetime(2026, 11, 26, 0, 0, 0)
REFORM_2009 = datetime.date(2009, 4, 1)  # 平成21年4月1日: current 収入分位 and 家賃算定基礎額

PARAMETERS = [
    # code, valid_from, value, basis
    ("location_coefficient", REFORM_2009, "1.000000", "令2条1項2号 (市町村立地係数; 市の値を設定)"),
    ("age_coefficient_rate.fire_resistant", REFORM_2009, "0.003900", "令2条1項4号 耐火構造"),
    ("age_coefficient_rate.quasi_fire_resistant", REFORM_2009, "0.008700", "令2条1項4号 準耐火構造"),
    ("age_coefficient_rate.wooden", REFORM_2009, "0.008700", "令2条1項4号 木造"),
    ("standard_floor_area", REFORM_2009, "65.000000", "令2条1項3号 規模係数"),
    ("convenience_coefficient.min", REFORM_2009, "0.500000", "令2条1項5号"),
    ("convenience_coefficient.max", REFORM_2009, "1.300000", "令2条1項5号"),
    ("convenience_coefficient.cap_numerator", REFORM_2009, "1.600000", "令2条1項5号 (1.6÷立地係数)"),
    ("rent_rounding_unit", REFORM_2009, "100.000000", "令2条1項 (100円未満切り捨て)"),
    ("over_income_rounding_unit", REFORM_2009, "100.000000", "令8条2項 (100円未満切り捨て)"),
    ("over_income_uses_rounded_standard", REFORM_2009, "1.000000", "市の運用"),
    ("over_income_count_resets", REFORM_2009, "1.000000", "市の運用"),
    ("deposit_months", REFORM_2009, "3.000000", "法18条 (3か月分を超えない額)"),
    ("income_limit.general", REFORM_2009, "158000.000000", "令6条5項1号 / 条例"),
    ("income_limit.special", REFORM_2009, "214000.000000", "令6条4項 / 条例 (裁量階層)"),
    ("income_limit.high_income", REFORM_2009, "313000.000000", "令9条1項"),
    ("over_income.min_years", REFORM_2009, "3.000000", "法28条1項"),
    ("high_income.min_years", REFORM_2009, "5.000000", "法29条1項"),
    ("high_income.consecutive_years", REFORM_2009, "2.000000", "法29条1項 (最近2年間)"),
    ("eviction.min_months", REFORM_2009, "6.000000", "法29条3項"),
    ("damages.market_rent_multiplier", REFORM_2009, "2.000000", "法29条6項, 法32条4項"),
    (
        "statutory_interest_rate",
        datetime.date(2020, 4, 1),
        "0.030000",
        "民法404条 (令和2年4月1日から3年ごとに見直し)",
    ),
    ("deduction.dependent", REFORM_2009, "380000.000000", "令1条3号イ"),
    ("deduction.elderly", REFORM_2009, "100000.000000", "令1条3号ロ"),
    ("deduction.specific_dependent", REFORM_2009, "250000.000000", "令1条3号ハ"),
    ("deduction.disability", REFORM_2009, "270000.000000", "令1条3号ニ"),
    ("deduction.special_disability", REFORM_2009, "400000.000000", "令1条3号ニ"),
    ("deduction.widow", REFORM_2009, "270000.000000", "令1条3号ホ"),
    ("deduction.single_parent", datetime.date(2021, 4, 1), "350000.000000", "令1条3号ホ (令和2年改正)"),
    ("deduction.earned_income", datetime.date(2021, 4, 1), "100000.000000", "令1条3号ヘ (令和2年改正)"),
    ("age_reference.month_day", REFORM_2009, "1231.000000", "収入年の12月31日現在の年齢"),
    ("disaster.rent_free_months", REFORM_2009, "3.000000", "市の運用"),
    ("declaration.month", REFORM_2009, "7.000000", "条例 (毎年7月)"),
    ("objection.days", REFORM_2009, "30.000000", "令8条の2 等 (意見申出)"),
    ("disclosure.deadline_days", REFORM_2009, "30.000000", "個人情報保護法82条 / 条例"),
    ("disclosure.extension_days", REFORM_2009, "30.000000", "個人情報保護法83条 / 条例"),
    ("arrears.eviction_months", REFORM_2009, "3.000000", "条例25条1項3号"),
    (
        "my_number.retention_days_after_settlement",
        REFORM_2009,
        "0.000000",
        "番号法20条 (不要となれば速やかに削除)",
    ),
]

# 令2条2項: 収入分位 and 家賃算定基礎額
RENT_BANDS = [
    (1, 0, 104000, 34400),
    (2, 104001, 123000, 39700),
    (3, 123001, 139000, 45400),
    (4, 139001, 158000, 51200),
    (5, 158001, 186000, 58500),
    (6, 186001, 214000, 67500),
    (7, 214001, 259000, 79000),
    (8, 259001, None, 91100),
]

# 令8条2項: share of (近傍同種家賃 − 本来家賃) by band (政令月収) and year over the limit.
OVER_INCOME_BANDS = [(1, 0, 186000), (2, 186001, 214000), (3, 214001, 259000), (4, 259001, None)]
OVER_INCOME_SHARES = {
    1: [(1, 5), (2, 5), (3, 5), (4, 5), (1, 1)],
    2: [(1, 4), (2, 4), (3, 4), (1, 1), (1, 1)],
    3: [(1, 2), (1, 1), (1, 1), (1, 1), (1, 1)],
    4: [(1, 1), (1, 1), (1, 1), (1, 1), (1, 1)],
}

# 所得税法 別表第五 / 28条3項: 給与所得 = floor(A × rate) + offset, A = revenue rounded down to round_to.
SALARY_BANDS = {
    2020: [  # 令和2年分から令和6年分
        (0, 550999, 1, "0", 0),
        (551000, 1618999, 1, "1", -550000),
        (1619000, 1619999, 1, "0", 1069000),
        (1620000, 1621999, 1, "0", 1070000),
        (1622000, 1623999, 1, "0", 1072000),
        (1624000, 1627999, 1, "0", 1074000),
        (1628000, 1799999, 4000, "0.6", 100000),
        (1800000, 3599999, 4000, "0.7", -80000),
        (3600000, 6599999, 4000, "0.8", -440000),
        (6600000, 8499999, 1, "0.9", -1100000),
        (8500000, None, 1, "1", -1950000),
    ],
    2025: [  # 令和7年分から (給与所得控除の最低額 65万円)
        (0, 650999, 1, "0", 0),
        (651000, 1899999, 1, "1", -650000),
        (1900000, 3599999, 4000, "0.7", -80000),
        (3600000, 6599999, 4000, "0.8", -440000),
        (6600000, 8499999, 1, "0.9", -1100000),
        (8500000, None, 1, "1", -1950000),
    ],
}

# 所得税法35条4項: 公的年金等控除 (公的年金等に係る雑所得以外の合計所得金額 1,000万円以下)
PENSION_BANDS = {
    "65plus": [
        (0, 3299999, "0", 1100000),
        (3300000, 4099999, "0.25", 275000),
        (4100000, 7699999, "0.15", 685000),
        (7700000, 9999999, "0.05", 1455000),
        (10000000, None, "0", 1955000),
    ],
    "under65": [
        (0, 1299999, "0", 600000),
        (1300000, 4099999, "0.25", 275000),
        (4100000, 7699999, "0.15", 685000),
        (7700000, 9999999, "0.05", 1455000),
        (10000000, None, "0", 1955000),
    ],
}


def _stamp(row):
    row.update(created_at=NOW, updated_at=NOW, version=1)
    return row


def _insert(db, table, rows):
    Table(table, list(rows[0])).bind(db).insert(rows).execute()


def up(migrator, db):
    _insert(
        db,
        "master_parameter",
        [
            _stamp({"code": c, "valid_from": v, "value": val, "basis": b, "note": None})
            for c, v, val, b in PARAMETERS
        ],
    )
    _insert(
        db,
        "rent_base_band",
        [
            _stamp(
                {
                    "valid_from": REFORM_2009,
                    "bracket": k,
                    "income_min": lo,
                    "income_max": hi,
                    "base_amount": base,
                }
            )
            for k, lo, hi, base in RENT_BANDS
        ],
    )
    _insert(
        db,
        "over_income_rate",
        [
            _stamp(
                {
                    "valid_from": REFORM_2009,
                    "band": band,
                    "income_min": lo,
                    "income_max": hi,
                    "year_over": year,
                    "numerator": num,
                    "denominator": den,
                }
            )
            for band, lo, hi in OVER_INCOME_BANDS
            for year, (num, den) in enumerate(OVER_INCOME_SHARES[band], start=1)
        ],
    )
    _insert(
        db,
        "salary_income_band",
        [
            _stamp(
                {
                    "income_year_from": year,
                    "revenue_min": lo,
                    "revenue_max": hi,
                    "round_to": round_to,
                    "rate": rate,
                    "offset": offset,
                }
            )
            for year, rows in SALARY_BANDS.items()
            for lo, hi, round_to, rate, offset in rows
        ],
    )
    _insert(
        db,
        "pension_deduction_band",
        [
            _stamp(
                {
                    "income_year_from": 2020,
                    "age_group": group,
                    "revenue_min": lo,
                    "revenue_max": hi,
                    "rate": rate,
                    "offset": offset,
                }
            )
            for group, rows in PENSION_BANDS.items()
            for lo, hi, rate, offset in rows
        ],
    )


def down(migrator, db):
    for table in (
        "pension_deduction_band",
        "salary_income_band",
        "over_income_rate",
        "rent_base_band",
        "master_parameter",
    ):
        Table(table).bind(db).delete().execute()
