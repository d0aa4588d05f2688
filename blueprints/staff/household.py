"""One household's tenant file (入居者情報ファイル), section by section, and the 世帯 section's edit.

The other sections' edits live in their own modules (members, guarantors, transfers, parking, …);
every one of them goes through blueprints.staff.inline (422 / 409 / section + toast, and plain forms
when JavaScript is off) and services.editing (one transaction with the audit entry).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    NameField,
    NoteField,
    PhoneField,
    PostalCodeField,
    TextField,
    VersionField,
    optional,
    required,
)
from models.tenancy import CATEGORIES, DECLARATION_CATEGORIES, PERMIT_TYPES, SPECIAL_REASONS
from services import access, household_file
from services.vault import keyring_for

bp = Blueprint("household", __name__, url_prefix="/household")


def code_choices(pairs, blank: bool = False):
    """Select options from a model's (code, Japanese label) pairs; blank adds 「選択してください」."""
    options = [SelectChoice(code, label) for code, label in pairs]
    return ([SelectChoice("", _l("選択してください"))] if blank else []) + options


@bp.get("/<int:household_id>")
def show(household_id: int):
    """The whole file of one household: every section of 別添1, audited as one view."""
    try:
        household = access.require_household(
            current_user,
            household_id,
            action="household.view",
            fields=household_file.SECTION_NAMES,
            **audit_context(),
        )
    except access.NotVisible:
        abort(404)
    except access.ReadBudgetExceeded:
        abort(429)
    file = household_file.load(household, keyring=keyring_for(current_app.config))
    return render_template(
        "staff/household/show.html",
        file=file,
        sections=household_file.SECTIONS,
        label=household_file.label,
        mask_account=household_file.mask_account,
    )


@bp.get("/<int:household_id>/section/<section>")
def section(household_id: int, section: str):
    """One section alone (htmx: after 取消 of an inline edit); without htmx, the page at the section."""
    if section not in household_file.SECTION_IDS:
        abort(404)
    household = inline.household_or_404(household_id, section=section)
    if not inline.wants_fragment():
        return redirect(url_for(".show", household_id=household.id) + f"#{section}", code=303)
    return inline.section_html(household, section)


# --- the 世帯 section -----------------------------------------------------------------------------


class HouseholdForm(FlaskForm):
    """世帯: category and 特認 reason, permit, 送付先, 連絡先, 代理納付, 収入申告区分, 備考."""

    version = VersionField()
    first_move_in_date = DateInputField(
        _l("当初入居日"),
        [required()],
        description=_l("住替え後も最初の入居日のまま。西暦（2026-04-01）か和暦（令和8年4月1日）で入力。"),
    )
    category = SelectField(_l("世帯区分"), choices=code_choices(CATEGORIES), validators=[required()])
    special_reason = SelectField(_l("特認理由"), choices=code_choices(SPECIAL_REASONS, blank=True))
    permit_type = SelectField(_l("使用許可種別"), choices=code_choices(PERMIT_TYPES), validators=[required()])
    permit_end_date = DateInputField(
        _l("使用期限"), [optional()], description=_l("定期使用許可のときに入力。")
    )
    mail_name = NameField(_l("送付先宛名"), [optional()], max_length=100)
    mail_postal_code = PostalCodeField(
        _l("送付先郵便番号"), [optional()], description=_l("入力すると住所の候補を表示します。")
    )
    mail_address = TextField(
        _l("送付先"), [optional()], max_length=200, description=_l("住戸と異なる場合だけ入力。")
    )
    contact_name = NameField(_l("連絡先氏名"), [optional()], max_length=100)
    contact_phone = PhoneField(_l("連絡先"), [optional()])
    proxy_payment = BooleanField(_l("代理納付（生活保護の住宅扶助を福祉事務所から直接納付）"))
    declaration_category = SelectField(
        _l("収入申告区分"), choices=code_choices(DECLARATION_CATEGORIES), validators=[required()]
    )
    note = NoteField(_l("備考"), [optional()], max_length=1000)

    # field → column, for the conflict view
    columns = {
        "first_move_in_date": "first_move_in_date",
        "category": "category",
        "special_reason": "special_reason",
        "permit_type": "permit_type",
        "permit_end_date": "permit_end_date",
        "mail_name": "mail_name",
        "mail_postal_code": "mail_postal_code",
        "mail_address": "mail_address",
        "contact_name": "contact_name",
        "contact_phone": "contact_phone",
        "proxy_payment": "proxy_payment",
        "declaration_category": "declaration_category",
        "note": "note",
    }

    def validate_special_reason(self, field):
        if self.category.data == "special" and not field.data:
            raise ValidationError(_l("特認の世帯は特認理由を選んでください。"))
        if self.category.data == "general" and field.data:
            raise ValidationError(_l("一般の世帯には特認理由を入力しません。"))

    def validate_permit_end_date(self, field):
        if self.permit_type.data == "fixed_term" and not field.data:
            raise ValidationError(_l("定期使用許可には使用期限を入力してください。"))
        if field.data and self.first_move_in_date.data and field.data <= self.first_move_in_date.data:
            raise ValidationError(_l("使用期限は当初入居日より後の日付にしてください。"))

    def validate_mail_address(self, field):
        if self.mail_postal_code.data and not field.data:
            raise ValidationError(_l("郵便番号を入力したときは送付先の住所も入力してください。"))

    def values(self) -> dict:
        return {
            "first_move_in_date": self.first_move_in_date.data,
            "category": self.category.data,
            "special_reason": self.special_reason.data or None,
            "permit_type": self.permit_type.data,
            "permit_end_date": self.permit_end_date.data,
            "mail_name": self.mail_name.data,
            "mail_postal_code": self.mail_postal_code.data,
            "mail_address": self.mail_address.data,
            "contact_name": self.contact_name.data,
            "contact_phone": self.contact_phone.data,
            "proxy_payment": bool(self.proxy_payment.data),
            "declaration_category": self.declaration_category.data,
            "note": self.note.data,
        }


@bp.route("/<int:household_id>/edit", methods=["GET", "POST"])
def edit(household_id: int):
    """Edit the 世帯 section (inline with htmx, or as a page)."""
    household = inline.household_or_404(household_id, section="household")
    form = HouseholdForm(obj=household, version=household.version)
    return inline.edit_record(
        form=form,
        instance=household,
        household=household,
        section="household",
        template="staff/household/_household_form.html",
        action="household.update",
        values=HouseholdForm.values,
        message=_("世帯の情報を保存しました。"),
        title=_("世帯の情報の編集"),
    )
