"""連帯保証人・緊急連絡人: add, edit and dismiss (解任) on the household file, inline or as plain pages.

Every write goes through services.editing (one transaction with the audit entry, optimistic locking)
and answers through blueprints.staff.inline (422 beside the fields, 409 with both versions, the
section again with a toast; 303 and a flash message without JavaScript). A household without a
current guarantor or contact is flagged by services.household_file (_flags); the section repeats the
warning so that it follows an inline save.
"""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    KanaField,
    NameField,
    PhoneField,
    PostalCodeField,
    TextField,
    VersionField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models.tenancy import GUARANTOR_KINDS, Guarantor
from rules.filters import today_tokyo
from services import editing

bp = Blueprint("guarantors", __name__, url_prefix="/household/<int:household_id>/guarantors")

SECTION = "guarantors"
FORM_TEMPLATE = "staff/household/_guarantor_form.html"
DISMISS_TEMPLATE = "staff/household/_guarantor_dismiss.html"
PREFIX = "guarantor_"  # the field ids stay unique when another section's form is open on the page


class GuarantorForm(FlaskForm):
    """A guarantor or emergency contact as it is added: who, how to reach them, since when."""

    kind = SelectField(_l("種別"), choices=code_choices(GUARANTOR_KINDS), validators=[required()])
    name = NameField(_l("氏名"), [required()], max_length=100)
    name_kana = KanaField(_l("氏名カナ"), [optional()], max_length=200)
    birth_date = DateInputField(
        _l("生年月日"), [optional()], description=_l("西暦（1960-04-01）か和暦（昭和35年4月1日）で入力。")
    )
    relation = TextField(
        _l("続柄"), [optional()], max_length=30, description=_l("名義人から見た続柄（例: 長男、姉、知人）。")
    )
    postal_code = PostalCodeField(
        _l("郵便番号"), [optional()], description=_l("入力すると住所の候補を表示します。")
    )
    # No optional(): it would stop the chain before the validate_* methods that require these.
    address = TextField(_l("住所"), max_length=200)
    phone = PhoneField(_l("電話番号"))
    appointed_on = DateInputField(_l("就任日"), [required()])

    columns = {
        "kind": "kind",
        "name": "name",
        "name_kana": "name_kana",
        "birth_date": "birth_date",
        "relation": "relation",
        "postal_code": "postal_code",
        "address": "address",
        "phone": "phone",
        "appointed_on": "appointed_on",
    }

    def validate_birth_date(self, field):
        if field.data and field.data > today_tokyo():
            raise ValidationError(_l("生年月日に未来の日付は入力できません。"))

    def validate_address(self, field):
        if field.errors:
            return
        if self.postal_code.data and not field.data:
            raise ValidationError(_l("郵便番号を入力したときは住所も入力してください。"))
        # 連帯保証人 receive the arrears notices by post (SPEC §8: guarantor notice).
        if self.kind.data == "guarantor" and not field.data:
            raise ValidationError(_l("連帯保証人は住所を入力してください。"))

    def validate_phone(self, field):
        if not field.data and not field.errors:
            raise ValidationError(_l("連絡がつく電話番号を入力してください。"))

    def values(self) -> dict:
        return {column: self[name].data or None for name, column in self.columns.items()}


class GuarantorEditForm(GuarantorForm):
    """The same with the version read and the 解任日 (to correct it)."""

    version = VersionField()
    dismissed_on = DateInputField(
        _l("解任日"), [optional()], description=_l("解任するときは「解任」から入力できます。")
    )

    columns = {**GuarantorForm.columns, "dismissed_on": "dismissed_on"}

    def validate_dismissed_on(self, field):
        if field.data and self.appointed_on.data and field.data < self.appointed_on.data:
            raise ValidationError(_l("解任日は就任日以降の日付にしてください。"))


class DismissForm(FlaskForm):
    """解任: the day the guarantor or contact stops being one (on or after the 就任日)."""

    version = VersionField()
    dismissed_on = DateInputField(
        _l("解任日"), [required()], description=_l("西暦（2026-04-01）か和暦（令和8年4月1日）で入力。")
    )

    columns = {"dismissed_on": "dismissed_on"}

    def __init__(self, *args, appointed_on=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.appointed_on = appointed_on

    def validate_dismissed_on(self, field):
        if field.data and self.appointed_on and field.data < self.appointed_on:
            raise ValidationError(_l("解任日は就任日以降の日付にしてください。"))

    def values(self) -> dict:
        return {"dismissed_on": self.dismissed_on.data}


def _guarantor_or_404(household, guarantor_id: int) -> Guarantor:
    guarantor = Guarantor.get_or_none((Guarantor.id == guarantor_id) & (Guarantor.household == household.id))
    if guarantor is None:
        abort(404)
    return guarantor


@bp.route("/new", methods=["GET", "POST"])
def add(household_id: int):
    """Add a guarantor or an emergency contact."""
    household = inline.household_or_404(household_id, section=SECTION)
    form = GuarantorForm(prefix=PREFIX)
    title = _("連帯保証人・緊急連絡人の追加")
    context = {"form": form, "household": household, "section": SECTION, "guarantor": None}
    if request.method == "POST":
        if not form.validate_on_submit():
            return inline.form_response(FORM_TEMPLATE, status=422, title=title, **context)
        try:
            editing.create(
                Guarantor,
                # Empty fields stay NULL and out of the history ("— → —" says nothing).
                {"household": household.id, **{k: v for k, v in form.values().items() if v is not None}},
                household_id=household.id,
                action="guarantor.create",
                **audit_context(),
            )
        except editing.RuleViolation as exc:
            form.form_errors.append(exc.message)
            return inline.form_response(FORM_TEMPLATE, status=422, title=title, **context)
        return inline.saved(household, SECTION, _("連帯保証人・緊急連絡人を登録しました。"))
    return inline.form_response(FORM_TEMPLATE, title=title, **context)


@bp.route("/<int:guarantor_id>/edit", methods=["GET", "POST"])
def edit(household_id: int, guarantor_id: int):
    """Edit a guarantor or contact (a 409 shows both versions when someone saved first)."""
    household = inline.household_or_404(household_id, section=SECTION)
    guarantor = _guarantor_or_404(household, guarantor_id)
    form = GuarantorEditForm(obj=guarantor, version=guarantor.version, prefix=PREFIX)
    return inline.edit_record(
        form=form,
        instance=guarantor,
        household=household,
        section=SECTION,
        template=FORM_TEMPLATE,
        action="guarantor.update",
        values=GuarantorEditForm.values,
        message=_("連帯保証人・緊急連絡人を保存しました。"),
        title=_("連帯保証人・緊急連絡人の編集"),
        context={"guarantor": guarantor},
    )


@bp.route("/<int:guarantor_id>/dismiss", methods=["GET", "POST"])
def dismiss(household_id: int, guarantor_id: int):
    """Record the 解任日 of a guarantor or contact (the record stays, shown as 解任済)."""
    household = inline.household_or_404(household_id, section=SECTION)
    guarantor = _guarantor_or_404(household, guarantor_id)
    form = DismissForm(
        obj=guarantor, version=guarantor.version, appointed_on=guarantor.appointed_on, prefix="dismiss_"
    )
    return inline.edit_record(
        form=form,
        instance=guarantor,
        household=household,
        section=SECTION,
        template=DISMISS_TEMPLATE,
        action="guarantor.dismiss",
        values=DismissForm.values,
        message=_("解任日を登録しました。"),
        title=_("連帯保証人・緊急連絡人の解任"),
        context={"guarantor": guarantor, "kind_label": dict(GUARANTOR_KINDS).get(guarantor.kind, "")},
    )
