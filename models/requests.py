"""Residents' requests and the agent's work items: inquiries, disclosure requests, applications,
move-in/out procedures, repair requests, and changes waiting for the city's approval (maker-checker)."""

from __future__ import annotations

from peewee import (
    SQL,
    BlobField,
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from models.base import CodeField, EditableModel, TimestampedModel
from models.housing import Unit
from models.person import Person
from models.security import Office, User
from models.tenancy import Household, Tenancy

CHANNELS = (
    ("counter", "窓口"),
    ("phone", "電話"),
    ("letter", "文書"),
    ("email", "電子メール"),
    ("agent", "公社経由"),
)
INQUIRY_STATUSES = (("open", "対応中"), ("answered", "回答済"), ("closed", "完了"))

DISCLOSURE_KINDS = (("disclosure", "開示請求"), ("correction", "訂正請求"), ("suspension", "利用停止請求"))
DISCLOSURE_STATUSES = (
    ("received", "受付"),
    ("extended", "期間延長"),
    ("decided", "決定済"),
    ("withdrawn", "取下げ"),
)
DISCLOSURE_DECISIONS = (
    ("full", "全部開示"),
    ("partial", "部分開示"),
    ("refused", "不開示"),
    ("corrected", "訂正"),
    ("not_corrected", "訂正しない"),
    ("suspended", "利用停止"),
    ("not_suspended", "利用停止しない"),
    ("no_record", "不存在"),
)

APPLICATION_KINDS = (
    ("cohabitation", "同居承認申請"),
    ("succession", "使用承継申請"),
    ("non_use", "不使用届"),
    ("move_out", "退去届"),
    ("other", "その他の届出"),
)
WORKFLOW_STATES = (
    ("draft", "作成中"),
    ("submitted", "承認待ち"),
    ("approved", "承認"),
    ("returned", "差戻し"),
    ("rejected", "却下"),
    ("withdrawn", "取下げ"),
)

PROCEDURE_KINDS = (("move_in", "入居手続"), ("move_out", "退去手続"))
REPAIR_STATUSES = (("received", "受付"), ("ordered", "発注済"), ("done", "完了"), ("cancelled", "取消"))
CHANGE_ACTIONS = (("create", "登録"), ("update", "変更"), ("delete", "削除"))


class Inquiry(EditableModel):
    """A resident's inquiry (問合せ): channel, content, answer."""

    household = ForeignKeyField(
        Household, null=True, backref="inquiries", on_delete="RESTRICT", verbose_name="世帯"
    )
    channel = CodeField(CHANNELS, verbose_name="受付方法")
    received_at = DateTimeField(verbose_name="受付日時")
    subject = CharField(max_length=200, verbose_name="件名")
    content = TextField(verbose_name="内容")
    answer = TextField(null=True, verbose_name="回答")
    answered_at = DateTimeField(null=True, verbose_name="回答日時")
    status = CodeField(INQUIRY_STATUSES, default="open", verbose_name="状態")
    recorded_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="記録者")
    office = ForeignKeyField(Office, null=True, backref="+", on_delete="RESTRICT", verbose_name="受付事務所")


class DisclosureRequest(EditableModel):
    """開示・訂正・利用停止請求 under the personal-information ordinance: 30-day deadline, extendable by 30."""

    kind = CodeField(DISCLOSURE_KINDS, verbose_name="請求種別")
    requester_name = CharField(max_length=100, verbose_name="請求者氏名")
    requester_kana = CharField(max_length=200, null=True, verbose_name="請求者カナ")
    person = ForeignKeyField(
        Person, null=True, backref="disclosure_requests", on_delete="RESTRICT", verbose_name="本人"
    )
    received_on = DateField(verbose_name="受付日")
    deadline = DateField(verbose_name="決定期限")
    extended_deadline = DateField(null=True, verbose_name="延長後期限")
    extension_notified_on = DateField(null=True, verbose_name="延長通知日")
    content = TextField(verbose_name="請求内容")
    status = CodeField(DISCLOSURE_STATUSES, default="received", verbose_name="状態")
    decision = CodeField(DISCLOSURE_DECISIONS, null=True, verbose_name="決定")
    decided_on = DateField(null=True, verbose_name="決定日")
    decided_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="決定者")
    note = TextField(null=True, verbose_name="備考")

    class Meta:
        constraints = [SQL("CHECK (deadline >= received_on)")]


class HouseholdApplication(EditableModel):
    """An application or notification about the household (同居承認, 承継, 不使用届, 退去届)."""

    household = ForeignKeyField(Household, backref="applications", on_delete="RESTRICT", verbose_name="世帯")
    kind = CodeField(APPLICATION_KINDS, verbose_name="種別")
    received_on = DateField(verbose_name="受付日")
    state = CodeField(WORKFLOW_STATES, default="draft", verbose_name="状態")
    details = TextField(null=True, verbose_name="内容")  # JSON of the form's fields
    attachments = TextField(null=True, verbose_name="添付書類")  # the documents checked (a list, not files)
    office = ForeignKeyField(Office, null=True, backref="+", on_delete="RESTRICT", verbose_name="受付事務所")
    submitted_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="受付者")
    decided_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="決定者")
    decided_on = DateField(null=True, verbose_name="決定日")
    comment = TextField(null=True, verbose_name="コメント")

    class Meta:
        indexes = ((("state", "office"), False),)  # the city's list of applications waiting (0012)


class MoveProcedure(EditableModel):
    """Move-in or move-out procedure recorded by the agent: keys, inspection, repairs needed."""

    tenancy = ForeignKeyField(Tenancy, backref="procedures", on_delete="RESTRICT", verbose_name="入居")
    kind = CodeField(PROCEDURE_KINDS, verbose_name="種別")
    keys_handed_on = DateField(null=True, verbose_name="鍵の受渡日")
    inspection_on = DateField(null=True, verbose_name="立会検査日")
    repair_needs = TextField(null=True, verbose_name="修繕の必要箇所")
    recorded_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="記録者")
    office = ForeignKeyField(Office, null=True, backref="+", on_delete="RESTRICT", verbose_name="事務所")

    class Meta:
        indexes = ((("tenancy", "kind"), True),)  # one move-in and one move-out record per tenancy (0012)


class RepairRequest(EditableModel):
    """A repair request from a resident, logged by the agent or staff."""

    household = ForeignKeyField(
        Household, null=True, backref="repair_requests", on_delete="RESTRICT", verbose_name="世帯"
    )
    unit = ForeignKeyField(Unit, backref="repair_requests", on_delete="RESTRICT", verbose_name="住戸")
    received_on = DateField(verbose_name="受付日")
    content = TextField(verbose_name="内容")
    status = CodeField(REPAIR_STATUSES, default="received", verbose_name="状態")
    completed_on = DateField(null=True, verbose_name="完了日")
    recorded_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="記録者")
    office = ForeignKeyField(Office, null=True, backref="+", on_delete="RESTRICT", verbose_name="事務所")


class PendingChange(EditableModel):
    """A change to the tenant file entered by the agent, waiting for a city staff member's approval.

    payload is the JSON of the new values (never a My Number: one typed on the portal is held encrypted
    in pending_my_number and the payload names the member only). target_version is the target's version
    when the change was submitted. Approval applies it in one transaction with its audit entries
    (services/pending_changes.py).
    """

    office = ForeignKeyField(Office, backref="pending_changes", on_delete="RESTRICT", verbose_name="事務所")
    household = ForeignKeyField(
        Household, null=True, backref="pending_changes", on_delete="RESTRICT", verbose_name="世帯"
    )
    target_table = CharField(max_length=40, verbose_name="対象")
    target_id = IntegerField(null=True, verbose_name="対象ID")
    action = CodeField(CHANGE_ACTIONS, verbose_name="操作")
    payload = TextField(verbose_name="変更内容")
    before = TextField(null=True, verbose_name="変更前")
    target_version = IntegerField(null=True, verbose_name="提出時の対象の版")  # stale check on approval
    state = CodeField(WORKFLOW_STATES, default="submitted", verbose_name="状態")
    submitted_by = ForeignKeyField(User, backref="+", on_delete="RESTRICT", verbose_name="入力者")
    submitted_at = DateTimeField(verbose_name="提出日時")
    reviewed_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="審査者")
    reviewed_at = DateTimeField(null=True, verbose_name="審査日時")
    comment = TextField(null=True, verbose_name="コメント")

    class Meta:
        indexes = ((("state", "office"), False),)
        constraints = [SQL("CHECK (reviewed_by_id IS NULL OR reviewed_by_id <> submitted_by_id)")]


class PendingMyNumber(TimestampedModel):
    """A My Number typed on the portal for a pending change, held encrypted until the city approves it.

    Never in the change's payload: the payload names the member only. AES-256-GCM through the vault
    with associated data pending_my_number|ciphertext|<change id>:<person id>|<key id>, so a value
    moved to another change or member does not decrypt. Approval stores it in personal_number and
    deletes this row in the same transaction; a withdrawal deletes it.
    """

    change = ForeignKeyField(
        PendingChange, backref="my_numbers", on_delete="CASCADE", verbose_name="承認待ちの変更"
    )
    person = ForeignKeyField(Person, backref="+", on_delete="CASCADE", verbose_name="世帯員")
    ciphertext = BlobField(verbose_name="個人番号(暗号文)")
    key_id = CharField(max_length=16, verbose_name="鍵ID")
    checked_against_document = BooleanField(default=False, verbose_name="書類と照合済")

    class Meta:
        indexes = ((("change", "person"), True),)
