"""Charges and payments (調定・収納), bank-transfer batches, arrears actions, installment plans, damages."""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from models.base import CodeField, EditableModel, TimestampedModel, YenField
from models.parking import ParkingContract
from models.security import User
from models.tenancy import TRANSFER_PURPOSES, Household

CHARGE_KINDS = (
    ("rent", "住宅使用料"),
    ("parking", "駐車場使用料"),
    ("damages", "損害賠償金"),
)

PAYMENT_METHODS = (
    ("bank_transfer", "口座振替"),
    ("counter", "窓口"),
    ("payment_slip", "納付書"),
    ("proxy", "代理納付"),
)

ARREARS_ACTIONS = (
    ("demand", "督促"),
    ("urge", "催告"),
    ("guarantor_notice", "連帯保証人への通知"),
    ("phone", "電話"),
    ("visit", "訪問"),
    ("consultation", "納付相談"),
    ("installment", "分納誓約"),
    ("eviction_list", "明渡請求対象(3か月以上)"),
    ("legal", "法的措置"),
    ("other", "その他"),
)

TRANSFER_STATES = (("exported", "依頼データ作成済"), ("result_imported", "結果取込済"), ("cancelled", "取消"))
PLAN_STATUSES = (("active", "履行中"), ("completed", "完了"), ("broken", "不履行"))
DAMAGE_GROUNDS = (
    ("fraud", "不正入居(法32条1項1号)"),
    ("overstay", "明渡期限後の使用"),
    ("other", "その他"),
)


class Charge(EditableModel):
    """調定: what a household owes for one month and one source (rent, a parking contract, damages)."""

    household = ForeignKeyField(Household, backref="charges", on_delete="RESTRICT", verbose_name="世帯")
    kind = CodeField(CHARGE_KINDS, verbose_name="種別")
    period = DateField(verbose_name="調定年月")  # first day of the month charged
    # What the charge is for, unique within household and month: "rent", "parking:<contract id>", "damages:<id>"
    source_key = CharField(max_length=40, verbose_name="調定の対象")
    parking_contract = ForeignKeyField(
        ParkingContract, null=True, backref="charges", on_delete="RESTRICT", verbose_name="駐車場契約"
    )
    amount = YenField(verbose_name="調定額")
    reduction_amount = YenField(default=0, verbose_name="減免額")
    due_date = DateField(verbose_name="納期限")
    # 徴収猶予 (migration 0011): the 納期限 before a postponement moved due_date; None when never postponed.
    original_due_date = DateField(null=True, verbose_name="当初納期限")
    cancelled = BooleanField(default=False, verbose_name="調定取消")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        indexes = ((("household", "period", "source_key"), True), (("period", "kind"), False))
        constraints = [
            SQL("CHECK (reduction_amount <= amount)"),
            SQL("CHECK ((kind = 'parking') = (parking_contract_id IS NOT NULL))"),
        ]


class TransferBatch(TimestampedModel):
    """A 全銀協 口座振替 request file sent to the banks, and its result file."""

    purpose = CodeField(TRANSFER_PURPOSES, verbose_name="対象")
    billing_month = DateField(verbose_name="請求年月")
    withdrawal_date = DateField(verbose_name="振替日")
    state = CodeField(TRANSFER_STATES, default="exported", verbose_name="状態")
    records = IntegerField(default=0, verbose_name="件数")
    total = YenField(default=0, verbose_name="合計金額")
    file_sha256 = CharField(max_length=64, verbose_name="ファイルハッシュ")
    exported_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="作成者")
    result_imported_at = DateTimeField(null=True, verbose_name="結果取込日時")

    class Meta:
        indexes = ((("purpose", "billing_month"), False),)


class Payment(TimestampedModel):
    """収納: money received against a charge. Unpaid amount (未納額) = 調定額 − 減免額 − Σ 収納額."""

    charge = ForeignKeyField(Charge, backref="payments", on_delete="RESTRICT", verbose_name="調定")
    amount = YenField(verbose_name="収納額")
    receipt_date = DateField(verbose_name="領収日")  # the day paid at the bank or counter
    posted_date = DateField(verbose_name="収納日")  # the day the city posted it
    method = CodeField(PAYMENT_METHODS, verbose_name="納付方法")
    transfer_batch = ForeignKeyField(
        TransferBatch, null=True, backref="payments", on_delete="RESTRICT", verbose_name="口座振替"
    )
    reversed = BooleanField(default=False, verbose_name="取消")
    note = TextField(null=True, verbose_name="収納の備考")  # migration 0012: why reversed, counter remarks
    recorded_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="記録者")

    class Meta:
        indexes = ((("receipt_date",), False),)
        constraints = [SQL("CHECK (amount > 0)"), SQL("CHECK (posted_date >= receipt_date)")]


class ArrearsAction(TimestampedModel):
    """A step or contact in collecting arrears (督促 → 催告 → 保証人通知 → 納付相談 → …)."""

    household = ForeignKeyField(
        Household, backref="arrears_actions", on_delete="RESTRICT", verbose_name="世帯"
    )
    kind = CodeField(ARREARS_ACTIONS, verbose_name="対応")
    action_date = DateField(verbose_name="対応日")
    amount_due = YenField(null=True, verbose_name="その時点の未納額")
    months_due = SmallIntegerField(null=True, verbose_name="滞納月数")
    note = TextField(null=True, verbose_name="記録")
    staff = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="担当者")
    next_action_date = DateField(null=True, verbose_name="次回対応予定日")  # migration 0012

    class Meta:
        indexes = ((("household", "action_date"), False),)


class InstallmentPlan(EditableModel):
    """分納誓約: an installment plan, which the household signs as an acknowledgement of the debt (債務承認)."""

    household = ForeignKeyField(
        Household, backref="installment_plans", on_delete="RESTRICT", verbose_name="世帯"
    )
    total_amount = YenField(verbose_name="誓約額")
    monthly_amount = YenField(verbose_name="月額")
    start_month = DateField(verbose_name="開始月")
    months = SmallIntegerField(verbose_name="回数")
    acknowledged_on = DateField(verbose_name="債務承認日")
    status = CodeField(PLAN_STATUSES, default="active", verbose_name="状態")

    class Meta:
        constraints = [SQL("CHECK (monthly_amount > 0 AND months > 0)")]


class DamageClaim(EditableModel):
    """損害賠償金: the basis of damages charges (不正入居 or use past an eviction deadline)."""

    household = ForeignKeyField(Household, backref="damage_claims", on_delete="RESTRICT", verbose_name="世帯")
    ground = CodeField(DAMAGE_GROUNDS, verbose_name="事由")
    from_date = DateField(verbose_name="起算日")
    to_date = DateField(null=True, verbose_name="終了日")
    monthly_amount = YenField(null=True, verbose_name="月額")
    principal = YenField(null=True, verbose_name="差額(元本)")
    interest = YenField(null=True, verbose_name="利息")
    interest_rate = DecimalField(
        max_digits=6, decimal_places=4, null=True, verbose_name="法定利率", auto_round=True
    )
    explanation = TextField(null=True, verbose_name="計算過程")
