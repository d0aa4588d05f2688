"""Income (収入申告), rent decisions (家賃決定), the yearly run, certifications and eviction requests."""

from __future__ import annotations

from peewee import (
    SQL,
    BooleanField,
    CharField,
    Check,
    DateField,
    DateTimeField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    SmallIntegerField,
    TextField,
)

from models.base import CodeField, EditableModel, YenField
from models.billing import DamageClaim
from models.housing import Unit
from models.person import Person
from models.security import User
from models.tenancy import Household, Tenancy

DECLARATION_STATUSES = (
    ("sent", "送付済"),
    ("submitted", "提出済"),
    ("not_submitted", "未提出"),
    ("reminded", "督促済"),
    ("investigation", "法34条調査"),
    ("tax_certified", "税情報で認定"),
)

INCOME_SOURCES = (
    ("self", "本人申告"),
    ("tax", "税情報照会"),
    ("investigation", "法34条調査"),
)

DISABILITY_LEVELS = (("none", "なし"), ("ordinary", "障害者"), ("special", "特別障害者"))

RENT_STATUSES = (
    ("normal", "通常"),
    ("over_income", "収入超過者"),
    ("high_income", "高額所得者"),
    ("undeclared", "未申告"),
)

DECISION_KINDS = (
    ("annual", "年度更新"),
    ("move_in", "入居時決定"),
    ("correction", "更正"),
    ("change", "世帯異動による変更"),
)

DECISION_STATES = (
    ("draft", "計算済(未承認)"),
    ("approved", "決定"),
    ("superseded", "更正により失効"),
    ("cancelled", "取消"),
)

RUN_STATES = (
    ("running", "計算中"),
    ("preview", "確認待ち"),
    ("approved", "承認済"),
    ("issued", "通知発行済"),
    ("cancelled", "中止"),
)

CERTIFICATION_KINDS = (("over_income", "収入超過者"), ("high_income", "高額所得者"))
CERTIFICATION_STATES = (("draft", "認定前"), ("certified", "認定"), ("withdrawn", "取消"))

EVICTION_GROUNDS = (
    ("high_income", "高額所得者(法29条)"),
    ("arrears", "家賃滞納(条例25条1項3号)"),
    ("fraud", "不正入居(法32条1項1号)"),
    ("other", "その他"),
)
EVICTION_STATUSES = (
    ("requested", "請求中"),
    ("extended", "期限延長"),
    ("vacated", "明渡済"),
    ("legal_action", "法的措置"),
    ("withdrawn", "取下げ"),
)


class IncomeDeclaration(EditableModel):
    """A household's 収入申告 for a fiscal year (incomes of the previous calendar year), and its result."""

    household = ForeignKeyField(Household, backref="declarations", on_delete="RESTRICT", verbose_name="世帯")
    fiscal_year = SmallIntegerField(verbose_name="年度")
    income_year = SmallIntegerField(verbose_name="収入年")
    status = CodeField(DECLARATION_STATUSES, default="sent", verbose_name="申告状況")
    source = CodeField(INCOME_SOURCES, null=True, verbose_name="収入の根拠")
    sent_on = DateField(null=True, verbose_name="送付日")
    submitted_on = DateField(null=True, verbose_name="提出日")
    reminded_on = DateField(null=True, verbose_name="督促日")
    total_income = YenField(null=True, verbose_name="所得額(世帯計)")
    total_deduction = YenField(null=True, verbose_name="控除額(世帯計)")
    seirei_getsushu = YenField(null=True, verbose_name="政令月収")
    bracket = SmallIntegerField(
        null=True, verbose_name="収入分位", constraints=[Check("bracket BETWEEN 1 AND 8")]
    )
    masters_used = TextField(null=True, verbose_name="適用マスタ")  # JSON: master ids and valid_from dates
    explanation = TextField(null=True, verbose_name="計算過程")  # JSON list of steps, in Japanese
    computed_at = DateTimeField(null=True, verbose_name="計算日時")
    # migration 0014: why the cycle set the status (法34条調査 asked, the 市民税 extract keyed from)
    status_note = TextField(null=True, verbose_name="申告状況の備考")

    class Meta:
        indexes = ((("household", "fiscal_year"), True), (("fiscal_year", "status"), False))
        constraints = [SQL("CHECK (income_year = fiscal_year - 1)")]


class MemberIncome(EditableModel):
    """One member's incomes for a declaration (収入額, 所得額, 控除額) and what the deductions depend on."""

    declaration = ForeignKeyField(
        IncomeDeclaration, backref="member_incomes", on_delete="CASCADE", verbose_name="収入申告"
    )
    person = ForeignKeyField(Person, backref="incomes", on_delete="RESTRICT", verbose_name="世帯員")
    salary_revenue = YenField(default=0, verbose_name="給与収入")
    pension_revenue = YenField(default=0, verbose_name="公的年金等収入")
    other_income = YenField(default=0, verbose_name="その他所得")
    non_taxable_revenue = YenField(
        default=0, verbose_name="非課税収入"
    )  # 遺族年金, 障害年金, 失業給付: excluded
    salary_income = YenField(null=True, verbose_name="給与所得")
    pension_income = YenField(null=True, verbose_name="雑所得(公的年金等)")
    income_amount = YenField(null=True, verbose_name="所得額")
    deduction_amount = YenField(null=True, verbose_name="控除額")
    is_dependent = BooleanField(default=False, verbose_name="扶養親族")
    is_widow = BooleanField(default=False, verbose_name="寡婦")
    is_single_parent = BooleanField(default=False, verbose_name="ひとり親")
    disability = CodeField(DISABILITY_LEVELS, default="none", verbose_name="障害者控除区分")

    class Meta:
        indexes = ((("declaration", "person"), True),)
        constraints = [SQL("CHECK (NOT (is_widow AND is_single_parent))")]


class RemoteDependent(EditableModel):
    """A dependent living elsewhere (控除イ applies) declared with the household's income."""

    declaration = ForeignKeyField(
        IncomeDeclaration, backref="remote_dependents", on_delete="CASCADE", verbose_name="収入申告"
    )
    name = CharField(max_length=100, verbose_name="氏名")
    birth_date = DateField(verbose_name="生年月日")
    disability = CodeField(DISABILITY_LEVELS, default="none", verbose_name="障害者控除区分")


class RentRun(EditableModel):
    """The yearly run that computes every household's rent for the next fiscal year (resumable)."""

    fiscal_year = SmallIntegerField(verbose_name="年度")
    state = CodeField(RUN_STATES, default="running", verbose_name="状態")
    started_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="実行者")
    started_at = DateTimeField(verbose_name="開始日時")
    finished_at = DateTimeField(null=True, verbose_name="計算終了日時")
    approved_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者")
    approved_at = DateTimeField(null=True, verbose_name="承認日時")
    households_total = IntegerField(default=0, verbose_name="対象世帯数")
    households_done = IntegerField(default=0, verbose_name="計算済世帯数")


RentRun.add_index(
    RentRun.index(RentRun.fiscal_year, unique=True, name="rent_run_one_open_per_year").where(
        SQL("state IN ('running', 'preview', 'approved')")
    )
)


class RentDecision(EditableModel):
    """家賃決定: the rent of one household from a date, with its figures, explanation and masters used."""

    household = ForeignKeyField(
        Household, backref="rent_decisions", on_delete="RESTRICT", verbose_name="世帯"
    )
    tenancy = ForeignKeyField(Tenancy, backref="rent_decisions", on_delete="RESTRICT", verbose_name="入居")
    unit = ForeignKeyField(Unit, backref="+", on_delete="RESTRICT", verbose_name="住戸")
    run = ForeignKeyField(
        RentRun, null=True, backref="decisions", on_delete="RESTRICT", verbose_name="年次処理"
    )
    fiscal_year = SmallIntegerField(verbose_name="年度")
    kind = CodeField(DECISION_KINDS, default="annual", verbose_name="決定種別")
    effective_from = DateField(verbose_name="適用開始日")
    seirei_getsushu = YenField(null=True, verbose_name="政令月収")
    bracket = SmallIntegerField(
        null=True, verbose_name="収入分位", constraints=[Check("bracket BETWEEN 1 AND 8")]
    )
    base_amount = YenField(null=True, verbose_name="家賃算定基礎額")
    standard_rent = YenField(null=True, verbose_name="本来家賃")
    market_rent = YenField(verbose_name="近傍同種家賃")
    rent_status = CodeField(RENT_STATUSES, verbose_name="家賃区分")
    years_over = SmallIntegerField(default=0, verbose_name="収入超過年数")
    rent = YenField(verbose_name="住宅使用料")
    deposit = YenField(null=True, verbose_name="敷金")
    state = CodeField(DECISION_STATES, default="draft", verbose_name="状態")
    decided_on = DateField(null=True, verbose_name="決定日")
    approved_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者")
    supersedes = ForeignKeyField(
        "self", null=True, backref="superseded_by", on_delete="RESTRICT", verbose_name="更正前の決定"
    )
    objection_deadline = DateField(null=True, verbose_name="意見申出期限")  # 30 days after the notice
    masters_used = TextField(verbose_name="適用マスタ")
    explanation = TextField(verbose_name="計算過程")

    class Meta:
        indexes = ((("household", "fiscal_year"), False), (("fiscal_year", "state"), False))


# One decision of each kind per household and start date that is in force (drafts and approved).
RentDecision.add_index(
    RentDecision.index(
        RentDecision.household, RentDecision.effective_from, unique=True, name="rent_decision_one_current"
    ).where(SQL("state IN ('draft', 'approved')"))
)


class Certification(EditableModel):
    """収入超過者 (法28条) or 高額所得者 (法29条) certification of a household for a fiscal year."""

    household = ForeignKeyField(
        Household, backref="certifications", on_delete="RESTRICT", verbose_name="世帯"
    )
    fiscal_year = SmallIntegerField(verbose_name="年度")
    kind = CodeField(CERTIFICATION_KINDS, verbose_name="認定種別")
    seirei_getsushu = YenField(verbose_name="政令月収")
    years_over = SmallIntegerField(null=True, verbose_name="収入超過年数")
    state = CodeField(CERTIFICATION_STATES, default="draft", verbose_name="状態")
    certified_on = DateField(null=True, verbose_name="認定日")
    certified_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="認定者")

    class Meta:
        indexes = ((("household", "fiscal_year", "kind"), True),)


class EvictionRequest(EditableModel):
    """明渡請求: ground, request date, deadline (高額所得者: ≥ 6 months after the day after), tracking."""

    household = ForeignKeyField(
        Household, backref="eviction_requests", on_delete="RESTRICT", verbose_name="世帯"
    )
    ground = CodeField(EVICTION_GROUNDS, verbose_name="請求事由")
    requested_on = DateField(verbose_name="請求日")
    deadline = DateField(verbose_name="明渡期限")
    extended_until = DateField(null=True, verbose_name="延長後期限")
    extension_reason = TextField(null=True, verbose_name="延長理由")
    status = CodeField(EVICTION_STATUSES, default="requested", verbose_name="状態")
    vacated_on = DateField(null=True, verbose_name="明渡日")
    approved_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="承認者")
    market_rent_multiplier = DecimalField(
        max_digits=3, decimal_places=2, null=True, verbose_name="損害金倍率", auto_round=True
    )  # up to 2 × 近傍同種家賃 after the deadline
    # migration 0016: who prepared it and when an officer approved it (the request is issued only then),
    # an extension asked for and who decided it, the damages claim after the deadline, remarks.
    prepared_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="起案者")
    approved_at = DateTimeField(null=True, verbose_name="承認日時")
    extension_requested_on = DateField(null=True, verbose_name="延長申出日")
    extension_requested_until = DateField(null=True, verbose_name="延長申出の期限")
    extension_decided_by = ForeignKeyField(
        User, null=True, backref="+", on_delete="RESTRICT", verbose_name="延長の決定者"
    )
    damage_claim = ForeignKeyField(
        DamageClaim, null=True, backref="+", on_delete="RESTRICT", verbose_name="損害賠償金"
    )
    note = TextField(null=True, verbose_name="経過")

    class Meta:
        constraints = [
            SQL("CHECK (deadline > requested_on)"),
            SQL("CHECK (extended_until IS NULL OR extended_until > deadline)"),
        ]

    @property
    def effective_deadline(self):
        """The deadline in force: the extended one when an extension was granted."""
        return self.extended_until or self.deadline


REVIEW_KINDS = (("objection", "意見申出"), ("correction", "更正"))
REVIEW_STATES = (
    ("received", "受付"),
    ("upheld", "原決定維持"),
    ("redecided", "再決定"),
    ("withdrawn", "取下げ"),
)


class RentReview(EditableModel):
    """A rent decision looked at again (migration 0016): a resident's 意見申出 within the period after its
    notice, or the office's 更正 of a past year (a corrected declaration). An officer decides: the
    decision stands (an answer is recorded) or a correction decision replaces it."""

    kind = CodeField(REVIEW_KINDS, verbose_name="種別")
    household = ForeignKeyField(Household, backref="rent_reviews", on_delete="RESTRICT", verbose_name="世帯")
    decision = ForeignKeyField(
        RentDecision, backref="reviews", on_delete="RESTRICT", verbose_name="対象の家賃決定"
    )
    fiscal_year = SmallIntegerField(verbose_name="年度")
    received_on = DateField(verbose_name="受付日")
    content = TextField(verbose_name="内容")
    late_reason = TextField(null=True, verbose_name="期間経過後に受け付けた理由")
    prepared_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="受付者")
    status = CodeField(REVIEW_STATES, default="received", verbose_name="状態")
    answer = TextField(null=True, verbose_name="回答・決定理由")
    decided_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="決定者")
    decided_at = DateTimeField(null=True, verbose_name="決定日時")
    new_decision = ForeignKeyField(
        RentDecision, null=True, backref="+", on_delete="RESTRICT", verbose_name="再決定"
    )

    class Meta:
        indexes = ((("household", "received_on"), False),)
