"""Members of a household (世帯員), their welfare periods, the place of their My Number, and household events."""

from __future__ import annotations

from peewee import SQL, BlobField, BooleanField, CharField, DateField, ForeignKeyField, TextField

from models.base import CodeField, EditableModel, TimestampedModel, YenField
from models.security import User
from models.tenancy import EVENT_KINDS, Household

SEXES = (("male", "男"), ("female", "女"), ("other", "その他"))

RELATIONS = (
    ("head", "本人"),
    ("spouse", "配偶者"),
    ("child", "子"),
    ("parent", "父母"),
    ("grandchild", "孫"),
    ("grandparent", "祖父母"),
    ("sibling", "兄弟姉妹"),
    ("child_in_law", "子の配偶者"),
    ("parent_in_law", "配偶者の父母"),
    ("other_relative", "その他親族"),
    ("other", "その他"),
)

LEAVE_REASONS = (
    ("moved_out", "転出"),
    ("death", "死亡"),
    ("marriage", "婚姻"),
    ("institution", "施設入所"),
    ("household_moved_out", "世帯退去"),
    ("other", "その他"),
)

DISABILITY_KINDS = (("physical", "身体"), ("mental", "精神"), ("intellectual", "療育"))

# 身体 1-7級, 精神 1-3級, 療育 A1/A2/B1/B2 (川崎市: 療育手帳の判定)
DISABILITY_GRADES = (
    ("1", "1級"),
    ("2", "2級"),
    ("3", "3級"),
    ("4", "4級"),
    ("5", "5級"),
    ("6", "6級"),
    ("7", "7級"),
    ("A1", "A1"),
    ("A2", "A2"),
    ("B1", "B1"),
    ("B2", "B2"),
)


class Person(EditableModel):
    """A member of a household. Age is derived from 生年月日; the head (名義人) is flagged, one per household."""

    household = ForeignKeyField(Household, backref="members", on_delete="RESTRICT", verbose_name="世帯")
    name = CharField(max_length=100, verbose_name="氏名")
    name_kana = CharField(max_length=200, verbose_name="氏名カナ")
    # Width- and kana-insensitive search key (rules.kana.search_key of name_kana), for prefix search.
    kana_key = CharField(max_length=200, index=True, verbose_name="カナ検索キー")
    birth_date = DateField(verbose_name="生年月日")
    sex = CodeField(SEXES, verbose_name="性別")
    nationality = CharField(max_length=40, default="日本", verbose_name="国籍")
    postal_code = CharField(max_length=7, null=True, verbose_name="郵便番号")
    address = CharField(max_length=200, null=True, verbose_name="住所")
    phone = CharField(max_length=15, null=True, index=True, verbose_name="電話番号")  # digits only
    relation = CodeField(RELATIONS, verbose_name="続柄")
    is_head = BooleanField(default=False, verbose_name="名義人")
    member_from = DateField(verbose_name="世帯員となった日")
    member_to = DateField(null=True, verbose_name="世帯員でなくなった日")
    leave_reason = CodeField(LEAVE_REASONS, null=True, verbose_name="異動理由")
    deceased_on = DateField(null=True, verbose_name="死亡日")
    disability_kind = CodeField(DISABILITY_KINDS, null=True, verbose_name="障害者手帳(種類)")
    disability_grade = CodeField(DISABILITY_GRADES, null=True, verbose_name="障害者手帳(等級)")
    atena_no = CharField(
        max_length=15, null=True, index=True, verbose_name="宛名番号"
    )  # the city's internal id

    class Meta:
        constraints = [
            SQL("CHECK (member_to IS NULL OR member_to >= member_from)"),
            SQL("CHECK ((disability_kind IS NULL) = (disability_grade IS NULL))"),
        ]


# One current head (名義人) per household.
Person.add_index(
    Person.index(Person.household, unique=True, name="person_one_head_per_household").where(
        SQL("is_head AND member_to IS NULL")
    )
)


class WelfarePeriod(EditableModel):
    """生活保護: a period of public assistance, with the housing aid and whether welfare pays rent directly."""

    person = ForeignKeyField(Person, backref="welfare_periods", on_delete="RESTRICT", verbose_name="世帯員")
    start_date = DateField(verbose_name="開始日")
    end_date = DateField(null=True, verbose_name="廃止日")
    housing_aid = YenField(null=True, verbose_name="住宅扶助額")
    proxy_payment = BooleanField(default=False, verbose_name="代理納付")
    case_number = CharField(max_length=20, null=True, verbose_name="ケース番号")

    class Meta:
        constraints = [SQL("CHECK (end_date IS NULL OR end_date >= start_date)")]


class PersonalNumber(TimestampedModel):
    """個人番号 (My Number): only ciphertext and a keyed blind index; the clear number is stored nowhere.

    AES-256-GCM with associated data table|column|row|key id (services/vault.py); keys live outside the
    database; key_id says which key encrypted the value so keys can rotate.
    """

    person = ForeignKeyField(
        Person, unique=True, backref="personal_numbers", on_delete="CASCADE", verbose_name="世帯員"
    )
    ciphertext = BlobField(verbose_name="個人番号(暗号文)")
    key_id = CharField(max_length=16, verbose_name="鍵ID")
    blind_index = CharField(max_length=64, index=True, verbose_name="照合用ハッシュ")
    checked_against_document = BooleanField(default=False, verbose_name="書類と照合済")
    entered_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="入力者")


class HouseholdEvent(TimestampedModel):
    """A dated change to the household (入居, 同居, 転出, 出生, 死亡, 承継, 住替え, 退去): its story."""

    household = ForeignKeyField(Household, backref="events", on_delete="RESTRICT", verbose_name="世帯")
    kind = CodeField(EVENT_KINDS, verbose_name="事由")
    event_date = DateField(verbose_name="異動日")
    person = ForeignKeyField(Person, null=True, backref="events", on_delete="RESTRICT", verbose_name="対象者")
    detail = TextField(null=True, verbose_name="内容")
    recorded_by = ForeignKeyField(User, null=True, backref="+", on_delete="RESTRICT", verbose_name="記録者")

    class Meta:
        indexes = ((("household", "event_date"), False),)
