"""世帯員 (members) of the household file: a current member's own data, their 生活保護 periods and their
My Number.

Every form goes through blueprints.staff.inline: with htmx the fragment opens in the section's slot and
answers 422 (messages beside the fields, nothing written), 409 (someone saved first: both versions) or
the section again with a toast; without JavaScript the same URLs are whole pages and a save redirects
(303) to the household page at #members.

What is not here: who belongs to the household (同居, 出生, 転出, 死亡) and who is its head (承継) are
household events (blueprints/staff/events.py). Former members (member_to set) are read-only.

My Number: stored only through services.mynumber (services.member_records adds the duplicate check and
the household's history line). The number typed is never sent back, not even with a 422 (the field
always renders empty), never in the audit trail, and registering needs a WebAuthn re-authentication
within the last 5 minutes, as revealing does.
"""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired

from blueprints.auth.views import current_session, step_up_required
from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    AddressField,
    DateInputField,
    DigitsField,
    KanaField,
    NameField,
    PhoneField,
    PostalCodeField,
    TextField,
    VersionField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Person, WelfarePeriod
from models.person import DISABILITY_GRADES, DISABILITY_KINDS, RELATIONS, SEXES
from rules import kana, wareki
from rules import mynumber as mynumber_rules
from rules.filters import today_tokyo
from services import editing, member_records, mynumber, sessions
from services.vault import keyring_for

bp = Blueprint("members", __name__, url_prefix="/household")

SECTION = "members"
MAX_MONTHLY_AID = 9_999_999  # yen a month
CHOOSE = _l("一覧から選んでください。")

# 障害者手帳の等級: 身体 1-7級, 精神 1-3級, 療育 (川崎市の判定) A1/A2/B1/B2.
GRADES_BY_KIND = {
    "physical": frozenset({"1", "2", "3", "4", "5", "6", "7"}),
    "mental": frozenset({"1", "2", "3"}),
    "intellectual": frozenset({"A1", "A2", "B1", "B2"}),
}
GRADE_MESSAGES = {
    "physical": _l("身体障害者手帳の等級は1級から7級です。"),
    "mental": _l("精神障害者保健福祉手帳の等級は1級から3級です。"),
    "intellectual": _l("療育手帳の判定はA1・A2・B1・B2のいずれかです。"),
}


# --- helpers ----------------------------------------------------------------------------------------


def _member(household, person_id: int) -> Person:
    """The member of this household, or 404 (another household's member is as unknown as none)."""
    person = Person.get_or_none((Person.id == person_id) & (Person.household == household.id))
    if person is None:
        abort(404)
    return person


def _read_only(household, person):
    """A former member's record stays as it was: 409 with a notice instead of a form."""
    return inline.form_response(
        "staff/household/_member_readonly.html",
        status=409,
        title=_("以前の世帯員"),
        household=household,
        person=person,
        section=SECTION,
    )


def relation_choices(person: Person):
    """本人 for the head (changing the head is 承継, a household event); every other relation for the rest."""
    if person.is_head:
        return code_choices([pair for pair in RELATIONS if pair[0] == "head"])
    return code_choices([pair for pair in RELATIONS if pair[0] != "head"])


# --- the member's own data --------------------------------------------------------------------------


class MemberForm(FlaskForm):
    """世帯員: 氏名, カナ, 生年月日, 性別, 国籍, 続柄, 住所, 電話, 障害者手帳, 宛名番号."""

    version = VersionField()
    name = NameField(_l("氏名"), [required()], max_length=100)
    name_kana = KanaField(
        _l("氏名カナ"),
        [required()],
        max_length=200,
        description=_l("ひらがな・半角カナでも入力できます（全角カタカナで保存します）。"),
    )
    birth_date = DateInputField(
        _l("生年月日"),
        [required()],
        description=_l("西暦（1970-01-01）か和暦（昭和45年1月1日・S45.1.1）で入力。"),
    )
    sex = SelectField(
        _l("性別"),
        choices=code_choices(SEXES),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    nationality = TextField(_l("国籍"), [required()], max_length=40)
    relation = SelectField(
        _l("続柄"),
        choices=code_choices(RELATIONS),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=_l(
            "この世帯員の続柄としては選べません。名義人の変更は承継の手続きで行います。"
        ),
    )
    postal_code = PostalCodeField(_l("郵便番号"), description=_l("入力すると住所の候補を表示します。"))
    address = AddressField(_l("住所"), max_length=200)
    phone = PhoneField(_l("電話番号"), [optional()])
    disability_kind = SelectField(
        _l("障害者手帳の種類"),
        choices=code_choices(DISABILITY_KINDS, blank=True),
        invalid_choice_message=CHOOSE,
    )
    disability_grade = SelectField(
        _l("等級"),
        choices=code_choices(DISABILITY_GRADES, blank=True),
        invalid_choice_message=CHOOSE,
        description=_l("身体 1〜7級、精神 1〜3級、療育 A1・A2・B1・B2。手帳がなければ種類・等級とも空欄。"),
    )
    atena_no = DigitsField(
        _l("宛名番号"),
        [optional()],
        max_digits=15,
        description=_l("住民記録システムの宛名番号（数字15桁以内）。"),
    )

    # field → column, for the conflict view (kana_key is derived from name_kana)
    columns = {
        "name": "name",
        "name_kana": "name_kana",
        "birth_date": "birth_date",
        "sex": "sex",
        "nationality": "nationality",
        "relation": "relation",
        "postal_code": "postal_code",
        "address": "address",
        "phone": "phone",
        "disability_kind": "disability_kind",
        "disability_grade": "disability_grade",
        "atena_no": "atena_no",
    }

    member_from = None  # set by the view: the birth date cannot be after the day they joined

    def validate_birth_date(self, field):
        if field.data and field.data > today_tokyo():
            raise ValidationError(_l("生年月日に今日より後の日付は入力できません。"))
        if field.data and self.member_from and field.data > self.member_from:
            raise ValidationError(
                _l(
                    "生年月日が世帯員となった日（%(date)s）より後になっています。",
                    date=wareki.to_wareki(self.member_from),
                )
            )

    def validate_address(self, field):
        if self.postal_code.data and not field.data:
            raise ValidationError(_l("郵便番号を入力したときは住所も入力してください。"))

    def validate_disability_kind(self, field):
        if self.disability_grade.data and not field.data:
            raise ValidationError(_l("等級を選んだときは手帳の種類も選んでください。"))

    def validate_disability_grade(self, field):
        kind, grade = self.disability_kind.data, field.data
        if kind and not grade:
            raise ValidationError(_l("手帳の種類を選んだときは等級も選んでください。"))
        if kind in GRADES_BY_KIND and grade and grade not in GRADES_BY_KIND[kind]:
            raise ValidationError(GRADE_MESSAGES[kind])

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "name_kana": self.name_kana.data,
            "kana_key": kana.search_key(self.name_kana.data),
            "birth_date": self.birth_date.data,
            "sex": self.sex.data,
            "nationality": self.nationality.data,
            "relation": self.relation.data,
            "postal_code": self.postal_code.data,
            "address": self.address.data,
            "phone": self.phone.data,
            "disability_kind": self.disability_kind.data or None,
            "disability_grade": self.disability_grade.data or None,
            "atena_no": self.atena_no.data,
        }


@bp.route("/<int:household_id>/members/<int:person_id>/edit", methods=["GET", "POST"])
def edit(household_id: int, person_id: int):
    """Edit a current member's own data (inline with htmx, or as a page)."""
    household = inline.household_or_404(household_id, section=SECTION)
    person = _member(household, person_id)
    if person.member_to is not None:
        return _read_only(household, person)
    form = MemberForm(obj=person, version=person.version, prefix="member_")
    form.relation.choices = relation_choices(person)
    if person.is_head:
        form.relation.description = _l("名義人の続柄は「本人」です。名義人の変更は承継の手続きで行います。")
    form.member_from = person.member_from
    return inline.edit_record(
        form=form,
        instance=person,
        household=household,
        section=SECTION,
        template="staff/household/_member_form.html",
        action="person.update",
        values=MemberForm.values,
        message=_("世帯員の情報を保存しました。"),
        title=_("世帯員の編集"),
        context={"person": person},
    )


# --- 生活保護 periods ----------------------------------------------------------------------------------


class WelfareForm(FlaskForm):
    """生活保護: 開始日, 廃止日, 住宅扶助額, 代理納付, ケース番号."""

    start_date = DateInputField(_l("開始日"), [required()])
    end_date = DateInputField(_l("廃止日"), [optional()], description=_l("保護が続いている間は空欄。"))
    housing_aid = YenInputField(_l("住宅扶助額（月額・円）"), [optional()])
    proxy_payment = BooleanField(_l("代理納付（住宅扶助を福祉事務所から直接納付）"))
    case_number = TextField(_l("ケース番号"), [optional()], max_length=20)

    columns = {
        "start_date": "start_date",
        "end_date": "end_date",
        "housing_aid": "housing_aid",
        "proxy_payment": "proxy_payment",
        "case_number": "case_number",
    }

    def validate_end_date(self, field):
        if field.data and self.start_date.data and field.data < self.start_date.data:
            raise ValidationError(_l("廃止日は開始日と同じ日かそれより後にしてください。"))

    def validate_housing_aid(self, field):
        # A monthly aid, far below the integer column's limit: a typo of extra digits is refused here.
        if field.data is not None and field.data > MAX_MONTHLY_AID:
            raise ValidationError(_l("住宅扶助額が大きすぎます。月額を円で入力してください。"))

    def values(self) -> dict:
        return {
            "start_date": self.start_date.data,
            "end_date": self.end_date.data,
            "housing_aid": self.housing_aid.data,
            "proxy_payment": bool(self.proxy_payment.data),
            "case_number": self.case_number.data,
        }


class WelfareEditForm(WelfareForm):
    version = VersionField()


class WelfareEndForm(FlaskForm):
    """End a 生活保護 period: its 廃止日."""

    version = VersionField()
    end_date = DateInputField(_l("廃止日"), [required()])

    columns = {"end_date": "end_date"}
    start_date = None  # set by the view: the period's 開始日

    def validate_end_date(self, field):
        if field.data and self.start_date and field.data < self.start_date:
            raise ValidationError(
                _l(
                    "廃止日は開始日（%(date)s）と同じ日かそれより後にしてください。",
                    date=wareki.to_wareki(self.start_date),
                )
            )

    def values(self) -> dict:
        return {"end_date": self.end_date.data}


def _period(person: Person, period_id: int) -> WelfarePeriod:
    period = WelfarePeriod.get_or_none((WelfarePeriod.id == period_id) & (WelfarePeriod.person == person.id))
    if period is None:
        abort(404)
    return period


@bp.route("/<int:household_id>/members/<int:person_id>/welfare/new", methods=["GET", "POST"])
def welfare_new(household_id: int, person_id: int):
    """Add a 生活保護 period; one that overlaps another period of the member is refused."""
    household = inline.household_or_404(household_id, section=SECTION)
    person = _member(household, person_id)
    if person.member_to is not None:
        return _read_only(household, person)
    form = WelfareForm(prefix="welfare_")
    context = {"form": form, "person": person, "period": None, "section": SECTION, "household": household}
    title = _("生活保護の期間の登録")
    template = "staff/household/_member_welfare_form.html"
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                member_records.create_welfare_period(
                    person, form.values(), household_id=household.id, **audit_context()
                )
            except editing.RuleViolation as exc:
                inline.attach(form, exc)
            else:
                return inline.saved(household, SECTION, _("生活保護の期間を登録しました。"))
        return inline.form_response(template, status=422, title=title, **context)
    return inline.form_response(template, title=title, **context)


def _edit_period(household, person, period, form, *, template, title, message):
    """The inline flow for a period; the overlap check and the save share one locked transaction."""

    def values(f):
        return member_records.checked_welfare_values(period, f.values())

    arguments = {
        "form": form,
        "instance": period,
        "household": household,
        "section": SECTION,
        "template": template,
        "action": "welfare_period.update",
        "values": values,
        "message": message,
        "title": title,
        "context": {"person": person, "period": period},
    }
    return inline.edit_record(**arguments)


@bp.route("/<int:household_id>/members/<int:person_id>/welfare/<int:period_id>/edit", methods=["GET", "POST"])
def welfare_edit(household_id: int, person_id: int, period_id: int):
    """Edit a 生活保護 period (dates, 住宅扶助額, 代理納付, ケース番号)."""
    household = inline.household_or_404(household_id, section=SECTION)
    person = _member(household, person_id)
    if person.member_to is not None:
        return _read_only(household, person)
    period = _period(person, period_id)
    form = WelfareEditForm(obj=period, version=period.version, prefix="welfare_")
    return _edit_period(
        household,
        person,
        period,
        form,
        template="staff/household/_member_welfare_form.html",
        title=_("生活保護の期間の編集"),
        message=_("生活保護の期間を保存しました。"),
    )


@bp.route("/<int:household_id>/members/<int:person_id>/welfare/<int:period_id>/end", methods=["GET", "POST"])
def welfare_end(household_id: int, person_id: int, period_id: int):
    """End a 生活保護 period (廃止日)."""
    household = inline.household_or_404(household_id, section=SECTION)
    person = _member(household, person_id)
    if person.member_to is not None:
        return _read_only(household, person)
    period = _period(person, period_id)
    form = WelfareEndForm(obj=period, version=period.version, prefix="welfare_")
    form.start_date = period.start_date
    return _edit_period(
        household,
        person,
        period,
        form,
        template="staff/household/_member_welfare_end_form.html",
        title=_("生活保護の廃止"),
        message=_("生活保護の廃止日を登録しました。"),
    )


# --- My Number ----------------------------------------------------------------------------------------

# Separators people type between digit groups (as rules.mynumber accepts them).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30FC\uFF70]")


class MyNumberInputField(StringField):
    """The 12 digits of a My Number (full width and separators accepted), check digit verified.

    Never rendered back: the input is always empty, so the number typed is in no response."""

    def process_formdata(self, valuelist):
        raw = valuelist[0] if valuelist else ""
        self.data = None
        if not isinstance(raw, str) or not raw.strip():
            return
        digits = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
        if not re.fullmatch(r"[0-9]{12}", digits):
            raise ValueError(str(_l("個人番号は12桁の数字で入力してください。")))
        if not mynumber_rules.is_valid(digits):
            raise ValueError(str(_l("個人番号の検査用数字が一致しません。入力を確認してください。")))
        self.data = digits

    def _value(self):
        return ""


class MyNumberForm(FlaskForm):
    """Register or replace a member's My Number: the number and the check against the document."""

    number = MyNumberInputField(
        _l("個人番号（12桁）"),
        [required(_l("個人番号を入力してください。"))],
        description=_l(
            "本人確認書類を見ながら入力してください。誤りがあると保存できません。入力した番号は画面に再表示しません。"
        ),
    )
    confirmed = BooleanField(
        _l("本人確認書類（通知カード・マイナンバーカード等）と照合しました"),
        validators=[
            DataRequired(message=_l("本人確認書類と照合したことを確認して、チェックを入れてください。"))
        ],
    )


@bp.route("/<int:household_id>/members/<int:person_id>/my-number", methods=["GET", "POST"])
def my_number(household_id: int, person_id: int):
    """Register or replace a member's My Number: validated, checked against the document, after a step-up."""
    household = inline.household_or_404(household_id, section=SECTION)
    person = _member(household, person_id)
    if person.member_to is not None:
        return _read_only(household, person)
    keyring = keyring_for(current_app.config)
    form = MyNumberForm(prefix="mynumber_")
    here = url_for(".my_number", household_id=household.id, person_id=person.id)
    # After the re-authentication: back to the household page at the section, where the form opens
    # inline again (the number has to be typed again anyway: it is never kept).
    back = url_for("staff.household.show", household_id=household.id) + f"#{SECTION}"
    context = {
        "form": form,
        "person": person,
        "section": SECTION,
        "household": household,
        "masked": mynumber.masked(person.id, keyring),
        "stepped_up": sessions.recently_stepped_up(current_session()),
        "step_up_url": url_for("auth.step_up", next=back),
        "here": here,
        "back": back,
    }
    title = _("個人番号の登録")
    template = "staff/household/_member_my_number_form.html"
    if request.method == "GET":
        return inline.form_response(template, title=title, **context)
    if not form.validate_on_submit():
        return inline.form_response(template, status=422, title=title, **context)
    if not context["stepped_up"]:
        return step_up_required()
    replacing = context["masked"] is not None
    try:
        member_records.register_my_number(
            person,
            form.number.data,
            checked_against_document=bool(form.confirmed.data),
            keyring=keyring,
            household_id=household.id,
            **audit_context(),
        )
    except member_records.DuplicateNumber:
        form.number.errors = [
            _(
                "この個人番号はすでに別の世帯員に登録されているため、登録できません。本人確認書類の番号をもう一度確認し、誤りがない場合は保護責任者に相談してください。"
            )
        ]
        return inline.form_response(template, status=422, title=title, **context)
    except mynumber.MyNumberError:
        form.number.errors = [_("個人番号を確認してください。")]
        return inline.form_response(template, status=422, title=title, **context)
    message = _("個人番号を置き換えました。") if replacing else _("個人番号を登録しました。")
    return inline.saved(household, SECTION, message)
