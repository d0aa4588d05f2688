"""Estates, buildings and units (団地・棟・住戸), with each unit's yearly rent figures."""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    Check,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from models.base import CodeField, EditableModel, YenField
from models.security import Office

STRUCTURES = (
    ("fire_resistant", "耐火"),
    ("quasi_fire_resistant", "準耐火"),
    ("wooden", "木造"),
)

UNIT_TYPES = (
    ("general", "一般"),
    ("elderly", "高齢者向け"),
    ("single", "単身者向け"),
    ("large_family", "多家族向け"),
    ("silver_housing", "シルバーハウジング"),
    ("wheelchair", "車いす使用者向け"),
)

UNIT_STATUSES = (
    ("occupied", "入居中"),
    ("vacant", "空家"),
    ("repair", "修繕中"),
    ("policy_vacant", "政策空家"),
)


class Ward(EditableModel):
    """A ward (区) of the city; the 公社 office that manages its estates."""

    code = CharField(max_length=8, unique=True, verbose_name="区コード")
    name = CharField(max_length=20, unique=True, verbose_name="区名")
    office = ForeignKeyField(
        Office, null=True, backref="wards", on_delete="SET NULL", verbose_name="管理事務所"
    )


class Estate(EditableModel):
    """A housing estate (団地)."""

    code = CharField(max_length=16, unique=True, verbose_name="団地コード")
    name = CharField(max_length=100, verbose_name="住宅名")
    name_kana = CharField(max_length=200, null=True, verbose_name="住宅名カナ")
    ward = ForeignKeyField(Ward, backref="estates", on_delete="RESTRICT", verbose_name="区")
    postal_code = CharField(max_length=7, null=True, verbose_name="郵便番号")
    address = CharField(max_length=200, verbose_name="所在地")
    residents_association = CharField(max_length=100, null=True, verbose_name="自治会")
    note = TextField(null=True, verbose_name="備考")


class Building(EditableModel):
    """A building (棟) of an estate; its structure and age drive the 経過年数係数."""

    estate = ForeignKeyField(Estate, backref="buildings", on_delete="RESTRICT", verbose_name="団地")
    number = CharField(max_length=16, verbose_name="棟番号")
    structure = CodeField(STRUCTURES, verbose_name="構造")
    year_built = SmallIntegerField(
        verbose_name="建設年度", constraints=[Check("year_built BETWEEN 1900 AND 2200")]
    )
    floors = SmallIntegerField(verbose_name="階数", constraints=[Check("floors BETWEEN 1 AND 60")])
    has_elevator = BooleanField(default=False, verbose_name="エレベーター")

    class Meta:
        indexes = ((("estate", "number"), True),)


class Unit(EditableModel):
    """A dwelling (住戸), identified by its 住宅コード."""

    housing_code = CharField(max_length=20, unique=True, verbose_name="住宅コード")
    building = ForeignKeyField(Building, backref="units", on_delete="RESTRICT", verbose_name="棟")
    room_number = CharField(max_length=16, verbose_name="部屋番号")
    floor_area = DecimalField(max_digits=6, decimal_places=2, verbose_name="床面積(㎡)", auto_round=True)
    layout = CharField(max_length=16, null=True, verbose_name="間取り")
    floor = SmallIntegerField(verbose_name="階")
    unit_type = CodeField(UNIT_TYPES, default="general", verbose_name="住戸種別")
    status = CodeField(UNIT_STATUSES, default="vacant", verbose_name="状態")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        indexes = ((("building", "room_number"), True),)
        constraints = [SQL("CHECK (floor_area > 0)")]


class UnitYearFigure(EditableModel):
    """Per unit and fiscal year: 利便性係数 and 近傍同種家賃 (令2条; entered or imported each year)."""

    unit = ForeignKeyField(Unit, backref="year_figures", on_delete="CASCADE", verbose_name="住戸")
    fiscal_year = IntegerField(verbose_name="年度")
    convenience_coefficient = DecimalField(
        max_digits=5, decimal_places=3, verbose_name="利便性係数", auto_round=True
    )
    market_rent = YenField(verbose_name="近傍同種家賃")

    class Meta:
        indexes = ((("unit", "fiscal_year"), True),)
        # 令2条: 0.5 ≤ 利便性係数 ≤ 1.3 (the 1.6 / 立地係数 cap depends on the master and is checked in rules/)
        constraints = [SQL("CHECK (convenience_coefficient >= 0.5 AND convenience_coefficient <= 1.3)")]
