"""The household (入居世帯) and its tenancies, guarantors, bank transfers, reductions and events."""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    TextField,
)

from models.base import CodeField, EditableModel, TimestampedModel, YenField
from models.housing import Unit
from models.security import User

CATEGORIES = (("general", "一般"), ("special", "特認"))

# 特認 (裁量階層) reasons, 令6条4項 and the city's ordinance.
SPECIAL_REASONS = (
    ("elderly", "高齢者世帯"),
    ("disability", "障害者"),
    ("child", "義務教育終了前の子"),
    ("war_victim", "戦傷病者・原爆被爆者"),
    ("repatriate", "海外引揚者"),
    ("leprosy", "ハンセン病療養所入所者等"),
    ("dv_victim", "DV被害者"),
    ("other", "その他"),
)

PERMIT_TYPES = (("normal", "通常"), ("fixed_term", "定期使用許可"))

DECLARATION_CATEGORIES = (
    ("declared", "申告済"),
    ("undeclared", "未申告"),
    ("investigated", "調査"),
)

HOUSEHOLD_STATUSES = (
    ("active", "入居中"),
    ("moving_out", "退去手続中"),
    ("moved_out", "退去済"),
)

TENANCY_STATUSES = (("active", "入居中"), ("ended", "終了"))

TENANCY_REASONS = (
    ("new", "新規入居"),
    ("transfer", "住替え"),
    ("succession", "使用承継"),
    ("disaster", "災害による一時使用"),
)

EVENT_KINDS = (
    ("move_in", "入居"),
    ("member_join", "同居承認"),
    ("member_leave", "転出"),
    ("birth", "出生"),
    ("death", "死亡"),
    ("head_change", "名義人変更(使用承継)"),
    ("transfer", "住替え"),
    ("move_out", "退去"),
    ("category_change", "区分変更"),
    ("contact_change", "連絡先変更"),
)

GUARANTOR_KINDS = (("guarantor", "連帯保証人"), ("emergency", "緊急連絡人"))

TRANSFER_PURPOSES = (("rent", "住宅使用料"), ("parking", "駐車場使用料"))

ACCOUNT_TYPES = (("ordinary", "普通"), ("current", "当座"), ("savings", "貯蓄"))

REDUCTION_KINDS = (("reduction", "減免"), ("postponement", "徴収猶予"))
REDUCTION_REASONS = (
    ("income_drop", "収入の著しい低下"),
    ("medical", "療養"),
    ("disaster", "災害"),
    ("other", "その他"),
)
REDUCTION_STATUSES = (
    ("requested", "申請中"),
    ("approved", "承認"),
    ("rejected", "却下"),
    ("ended", "終了"),
)


class Household(EditableModel):
    """A household (入居世帯): the continuing subject of the tenant file across units and years."""

    household_no = CharField(max_length=20, unique=True, verbose_name="世帯番号")
    first_move_in_date = DateField(
        verbose_name="当初入居日"
    )  # counts for the 3- and 5-year rules (法28条, 29条)
    category = CodeField(CATEGORIES, default="general", verbose_name="世帯区分")
    special_reason = CodeField(SPECIAL_REASONS, null=True, verbose_name="特認理由")
    permit_type = CodeField(PERMIT_TYPES, default="normal", verbose_name="使用許可種別")
    permit_end_date = DateField(null=True, verbose_name="使用期限")
    mail_name = CharField(max_length=100, null=True, verbose_name="送付先宛名")
    mail_postal_code = CharField(max_length=7, null=True, verbose_name="送付先郵便番号")
    mail_address = CharField(max_length=200, null=True, verbose_name="送付先")
    contact_name = CharField(max_length=100, null=True, verbose_name="連絡先氏名")
    contact_phone = CharField(max_length=15, null=True, verbose_name="連絡先")
    proxy_payment = BooleanField(default=False, verbose_name="代理納付")
    declaration_category = CodeField(DECLARATION_CATEGORIES, default="declared", verbose_name="収入申告区分")
    over_income = BooleanField(
        default=False, verbose_name="収入超過"
    )  # derived from the current certification
    high_income = BooleanField(
        default=False, verbose_name="高額所得"
    )  # derived from the current certification
    support_measure = BooleanField(
        default=False, verbose_name="支援措置対象"
    )  # DV/stalking: restricted access
    status = CodeField(HOUSEHOLD_STATUSES, default="active", verbose_name="状態")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        indexes = ((("status",), False),)
        constraints = [SQL("CHECK (permit_type = 'normal' OR permit_end_date IS NOT NULL)")]


class Tenancy(EditableModel):
    """The household's occupation of one unit, from 入居日 to 退去日. One active tenancy per unit."""

    household = ForeignKeyField(Household, backref="tenancies", on_delete="RESTRICT", verbose_name="世帯")
    unit = ForeignKeyField(Unit, backref="tenancies", on_delete="RESTRICT", verbose_name="住戸")
    move_in_date = DateField(verbose_name="入居日")
    move_out_date = DateField(null=True, verbose_name="退去日")
    status = CodeField(TENANCY_STATUSES, default="active", verbose_name="状態")
    reason = CodeField(TENANCY_REASONS, default="new", verbose_name="入居事由")
    deposit = YenField(null=True, verbose_name="敷金")
    deposit_settled_on = DateField(null=True, verbose_name="敷金精算日")
    # 退去時の精算 (migration 0007): what the household pays for repairs, and the deposit's outcome.
    repair_cost = YenField(null=True, verbose_name="退去時修繕費")
    deposit_refund = YenField(null=True, verbose_name="敷金返還額")
    settlement_due = YenField(null=True, verbose_name="精算不足額")

    class Meta:
        constraints = [SQL("CHECK (move_out_date IS NULL OR move_out_date >= move_in_date)")]


Tenancy.add_index(
    Tenancy.index(Tenancy.unit, unique=True, name="tenancy_one_active_per_unit").where(
        SQL("status = 'active'")
    )
)
Tenancy.add_index(
    Tenancy.index(Tenancy.household, unique=True, name="tenancy_one_active_per_household").where(
        SQL("status = 'active'")
    )
)


class Guarantor(EditableModel):
    """A joint guarantor (連帯保証人) or emergency contact (緊急連絡人), with 就任日 and 解任日."""

    household = ForeignKeyField(Household, backref="guarantors", on_delete="RESTRICT", verbose_name="世帯")
    kind = CodeField(GUARANTOR_KINDS, verbose_name="種別")
    name = CharField(max_length=100, verbose_name="氏名")
    name_kana = CharField(max_length=200, null=True, verbose_name="氏名カナ")
    birth_date = DateField(null=True, verbose_name="生年月日")
    relation = CharField(max_length=30, null=True, verbose_name="続柄")
    postal_code = CharField(max_length=7, null=True, verbose_name="郵便番号")
    address = CharField(max_length=200, null=True, verbose_name="住所")
    phone = CharField(max_length=15, null=True, verbose_name="電話番号")
    appointed_on = DateField(verbose_name="就任日")
    dismissed_on = DateField(null=True, verbose_name="解任日")

    class Meta:
        constraints = [SQL("CHECK (dismissed_on IS NULL OR dismissed_on >= appointed_on)")]


class BankTransfer(EditableModel):
    """口座振替登録: one current registration per household and purpose (rent, parking); history kept."""

    household = ForeignKeyField(
        Household, backref="bank_transfers", on_delete="RESTRICT", verbose_name="世帯"
    )
    purpose = CodeField(TRANSFER_PURPOSES, verbose_name="対象")
    bank_code = CharField(max_length=4, verbose_name="金融機関コード")
    branch_code = CharField(max_length=3, verbose_name="支店コード")
    account_type = CodeField(ACCOUNT_TYPES, default="ordinary", verbose_name="預金種目")
    account_number = CharField(max_length=7, verbose_name="口座番号")
    holder_kana = CharField(
        max_length=30, verbose_name="口座名義(半角カナ)"
    )  # 全銀 files carry 30 characters
    valid_from = DateField(verbose_name="開始日")
    valid_to = DateField(null=True, verbose_name="終了日")

    class Meta:
        constraints = [
            SQL("CHECK (length(bank_code) = 4 AND length(branch_code) = 3 AND length(account_number) = 7)"),
            SQL("CHECK (valid_to IS NULL OR valid_to >= valid_from)"),
        ]


BankTransfer.add_index(
    BankTransfer.index(
        BankTransfer.household, BankTransfer.purpose, unique=True, name="bank_transfer_one_current"
    ).where(SQL("valid_to IS NULL"))
)


class RentReduction(EditableModel):
    """減免 or 徴収猶予: by reason, a rate or an amount, a minimum rent and a period; approved by an officer."""

    household = ForeignKeyField(Household, backref="reductions", on_delete="RESTRICT", verbose_name="世帯")
    kind = CodeField(REDUCTION_KINDS, default="reduction", verbose_name="種別")
    reason = CodeField(REDUCTION_REASONS, verbose_name="理由")
    rate = DecimalField(max_digits=5, decimal_places=4, null=True, verbose_name="減免率", auto_round=True)
    amount = YenField(null=True, verbose_name="減免額")
    minimum_rent = YenField(null=True, verbose_name="最低家賃")
    start_date = DateField(verbose_name="開始日")
    end_date = DateField(verbose_name="終了日")
    status = CodeField(REDUCTION_STATUSES, default="requested", verbose_name="状態")
    approved_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者")
    approved_at = DateField(null=True, verbose_name="承認日")
    note = TextField(null=True, verbose_name="備考")
    # 更新 (migration 0011): the granted reduction this request continues, for the period after it.
    renews = ForeignKeyField(
        "self", null=True, backref="renewals", on_delete="RESTRICT", verbose_name="更新前の減免"
    )

    class Meta:
        constraints = [
            SQL("CHECK (end_date >= start_date)"),
            SQL("CHECK (rate IS NULL OR (rate > 0 AND rate <= 1))"),
        ]


class SupportAssignment(TimestampedModel):
    """支援措置 (DV/stalking support): the staff assigned to a protected household; only they see it."""

    household = ForeignKeyField(
        Household, backref="support_assignments", on_delete="RESTRICT", verbose_name="世帯"
    )
    user = ForeignKeyField(User, backref="support_assignments", on_delete="RESTRICT", verbose_name="担当職員")
    assigned_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="指定者")
    ended_at = DateTimeField(null=True, verbose_name="終了日時")


SupportAssignment.add_index(
    SupportAssignment.index(
        SupportAssignment.household,
        SupportAssignment.user,
        unique=True,
        name="support_assignment_one_current",
    ).where(SQL("ended_at IS NULL"))
)
