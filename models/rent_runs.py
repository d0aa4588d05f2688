"""What the yearly rent run found for each household: the draft it computed, or why it could not.

One row per run and household, written in the same transaction as the household's draft RentDecision,
so a run stopped anywhere (a crash, kill -9) knows exactly which households are done and a second run
skips them. The row also keeps what the preview needs without computing again: the decision in force
this year, the reasons the rent changes, the estate (a filter), and whether the household is owed a
収入超過者認定通知書 (resident 3 years or more on 1 April).
"""

from __future__ import annotations

from peewee import BooleanField, CharField, ForeignKeyField

from models.base import CodeField, TimestampedModel, YenField
from models.housing import Estate
from models.income import RentDecision, RentRun
from models.tenancy import Household

# Why a household has no draft: the run lists them instead of skipping them silently.
PROBLEMS = (
    ("no_tenancy", "4月1日に入居中の住戸がない"),
    ("no_figures", "住戸の近傍同種家賃・利便性係数が未登録"),
    ("no_declaration", "収入申告の記録がない"),
    ("no_figures_declared", "申告済だが政令月収が未計算"),
    ("invalid_facts", "住戸・棟の情報が家賃の計算に使えない"),
    ("already_decided", "この年度の家賃が決定済み"),
)

# Why a draft differs from the decision in force (several may apply; stored ",code,code,").
REASONS = (
    ("new_bracket", "収入分位の変更"),
    ("over_income", "収入超過者"),
    ("over_income_ended", "収入超過の解消"),
    ("high_income", "高額所得者"),
    ("high_income_ended", "高額所得者の解消"),
    ("undeclared", "未申告(近傍同種家賃)"),
    ("declared_again", "申告により本来家賃へ"),
    ("market_rent", "近傍同種家賃の改定"),
    ("coefficients", "経過年数係数等の変動"),
    ("no_previous", "前年度の決定なし"),
    ("unit_changed", "住戸の変更"),
)


class RentRunItem(TimestampedModel):
    """One household in a yearly run: its draft decision (or the problem), the decision in force, why."""

    run = ForeignKeyField(RentRun, backref="items", on_delete="RESTRICT", verbose_name="年次処理")
    household = ForeignKeyField(Household, backref="+", on_delete="RESTRICT", verbose_name="世帯")
    decision = ForeignKeyField(
        RentDecision, null=True, backref="+", on_delete="RESTRICT", verbose_name="計算した家賃決定"
    )
    previous = ForeignKeyField(
        RentDecision, null=True, backref="+", on_delete="RESTRICT", verbose_name="現在の家賃決定"
    )
    estate = ForeignKeyField(Estate, null=True, backref="+", on_delete="RESTRICT", verbose_name="団地")
    previous_rent = YenField(null=True, verbose_name="現在の家賃")
    rent = YenField(null=True, verbose_name="新しい家賃")
    reasons = CharField(max_length=200, default="", verbose_name="変更の理由")  # ",code,code,"
    problem = CodeField(PROBLEMS, null=True, verbose_name="計算できない理由")
    resident_three_years = BooleanField(default=False, verbose_name="入居3年以上")

    class Meta:
        indexes = ((("run", "household"), True), (("run", "problem"), False), (("run", "estate"), False))

    @property
    def reason_codes(self) -> list[str]:
        """The reasons as a list of codes, in the order of REASONS."""
        given = set(filter(None, self.reasons.split(",")))
        return [code for code, _ in REASONS if code in given]
