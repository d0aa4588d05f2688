"""Applicants for a unit (入居申込): the subjects of the 入居資格確認 before they become households."""

from __future__ import annotations

from peewee import BooleanField, CharField, DateField, ForeignKeyField, TextField

from models.base import CodeField, EditableModel, YenField
from models.housing import Unit
from models.income import DISABILITY_LEVELS
from models.person import DISABILITY_GRADES, DISABILITY_KINDS, RELATIONS, SEXES
from models.tenancy import CATEGORIES, SPECIAL_REASONS, Household

CITY_BASIS = (("resident", "市内在住"), ("worker", "市内在勤(同一勤務先1年以上)"))
APPLICATION_STATUSES = (
    ("received", "受付"),
    ("eligible", "資格あり"),
    ("ineligible", "資格なし"),
    ("allocated", "あっせん済"),
    ("withdrawn", "辞退"),
)


class Application(EditableModel):
    """An application to move in, with what the eligibility check (入居資格確認) needs."""

    application_no = CharField(max_length=20, unique=True, verbose_name="申込番号")
    received_on = DateField(verbose_name="受付日")
    category = CodeField(CATEGORIES, default="general", verbose_name="世帯区分")
    special_reason = CodeField(SPECIAL_REASONS, null=True, verbose_name="特認理由")
    postal_code = CharField(max_length=7, null=True, verbose_name="郵便番号")
    address = CharField(max_length=200, verbose_name="住所")
    phone = CharField(max_length=15, null=True, verbose_name="電話番号")
    city_basis = CodeField(CITY_BASIS, verbose_name="市内在住・在勤")
    housing_need = TextField(null=True, verbose_name="住宅困窮の事情")
    city_tax_arrears = BooleanField(default=False, verbose_name="市税の滞納")
    declared_not_gang_member = BooleanField(default=False, verbose_name="暴力団員でない旨の申告")
    seirei_getsushu = YenField(null=True, verbose_name="政令月収")
    eligible = BooleanField(null=True, verbose_name="入居資格")
    eligibility_explanation = TextField(null=True, verbose_name="資格確認の理由")
    status = CodeField(APPLICATION_STATUSES, default="received", verbose_name="状態")
    allocated_unit = ForeignKeyField(
        Unit, null=True, backref="+", on_delete="RESTRICT", verbose_name="あっせん住戸"
    )
    household = ForeignKeyField(
        Household, null=True, backref="+", on_delete="RESTRICT", verbose_name="入居後の世帯"
    )


class ApplicationMember(EditableModel):
    """A member of an applying household, with the incomes the 政令月収 needs."""

    application = ForeignKeyField(Application, backref="members", on_delete="CASCADE", verbose_name="申込")
    name = CharField(max_length=100, verbose_name="氏名")
    name_kana = CharField(max_length=200, verbose_name="氏名カナ")
    birth_date = DateField(verbose_name="生年月日")
    sex = CodeField(SEXES, verbose_name="性別")
    relation = CodeField(RELATIONS, verbose_name="続柄")
    salary_revenue = YenField(default=0, verbose_name="給与収入")
    pension_revenue = YenField(default=0, verbose_name="公的年金等収入")
    other_income = YenField(default=0, verbose_name="その他所得")
    disability_kind = CodeField(DISABILITY_KINDS, null=True, verbose_name="障害者手帳(種類)")
    disability_grade = CodeField(DISABILITY_GRADES, null=True, verbose_name="障害者手帳(等級)")
    disability = CodeField(DISABILITY_LEVELS, default="none", verbose_name="障害者控除区分")
    is_widow = BooleanField(default=False, verbose_name="寡婦")
    is_single_parent = BooleanField(default=False, verbose_name="ひとり親")
