"""Forms of the portal, with the same fields (and the same normalising) as the staff screens."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, ValidationError, widgets

from blueprints.staff.fields import DateInputField, NoteField, VersionField, optional, required
from blueprints.staff.household import code_choices
from models.requests import APPLICATION_KINDS, PROCEDURE_KINDS, REPAIR_STATUSES
from rules import search as search_rules
from services import household_applications as applications

CHOOSE = _l("一覧から選んでください。")


def _id_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class SearchForm(FlaskForm):
    """The portal's search box: a name (漢字, or kana from its beginning), a 住宅コード or 世帯番号, or
    「団地名 棟-部屋番号」; an estate of the office; moved-out households on request."""

    q = StringField(
        _l("検索語"),
        description=_l(
            "氏名（漢字）、カナ氏名（前方一致）、住宅コード、世帯番号、または「団地名 棟-部屋番号」（例: 小田 3-101）"
        ),
    )
    estate = SelectField(_l("団地"), coerce=_id_or_none, validate_choice=True, invalid_choice_message=CHOOSE)
    status = SelectField(_l("状態"), default="", validate_choice=True, invalid_choice_message=CHOOSE)

    def load_choices(self, estates, status_labels) -> None:
        everything = ("", _l("すべて"))
        self.estate.choices = [everything] + [(e.id, e.name) for e in estates]
        self.status.choices = [everything] + list(status_labels.items())

    def validate_q(self, field) -> None:
        text = field.data or ""
        if len(text) > search_rules.MAX_QUERY:
            raise ValidationError(
                _("検索語は%(max)d文字以内で入力してください。", max=search_rules.MAX_QUERY)
            )
        try:
            field.data = search_rules.clean_query(text)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        # The city's internal person number (宛名番号) is not the agent's to search by.
        if search_rules.parse(field.data).kind == search_rules.ATENA_NO:
            raise ValidationError(
                _("宛名番号では検索できません。氏名、住宅コード、世帯番号で検索してください。")
            )


class ProcedureForm(FlaskForm):
    """入居手続・退去手続: the tenancy's keys, inspection and repairs needed."""

    kind = SelectField(
        _l("種別"),
        choices=code_choices(PROCEDURE_KINDS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    keys_handed_on = DateInputField(
        _l("鍵の受渡日"), [optional()], description=_l("入居では入居者へ渡した日、退去では返還を受けた日。")
    )
    inspection_on = DateInputField(_l("立会検査日"), [optional()], description=_l("予定日も入力できます。"))
    repair_needs = NoteField(_l("修繕の必要箇所"), [optional()], max_length=2000)

    columns = {
        "keys_handed_on": "keys_handed_on",
        "inspection_on": "inspection_on",
        "repair_needs": "repair_needs",
    }

    def values(self) -> dict:
        return {
            name: getattr(self, name).data for name in ("keys_handed_on", "inspection_on", "repair_needs")
        }


class ProcedureEditForm(ProcedureForm):
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.kind  # the kind of a record never changes


class CheckboxesField(SelectMultipleField):
    """A list of checkboxes (the documents of an application)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ApplicationForm(FlaskForm):
    """届出・申請: kind, 受付日, the documents checked, the content."""

    kind = SelectField(
        _l("種別"),
        choices=code_choices(APPLICATION_KINDS, blank=True),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    received_on = DateInputField(_l("受付日"), [required()], description=_l("入居者から書類を受け取った日。"))
    attachments = CheckboxesField(_l("確認した書類"), choices=[], validate_choice=False)
    details = NoteField(
        _l("内容"),
        [optional()],
        max_length=2000,
        description=_l("同居しようとする人の氏名・続柄、承継する人、不使用の期間、退去予定日など。"),
    )

    def load_choices(self, kind: str | None) -> None:
        """The checklist of the kind chosen (all kinds' documents when none is chosen yet)."""
        kinds = [kind] if kind in applications.CHECKLISTS else list(applications.CHECKLISTS)
        seen, choices = set(), []
        for k in kinds:
            for document in applications.checklist(k):
                if document.code not in seen:
                    seen.add(document.code)
                    choices.append((document.code, document.label))
        self.attachments.choices = choices


class ApplicationEditForm(ApplicationForm):
    version = VersionField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.kind


class VersionOnlyForm(FlaskForm):
    """A confirmation (取下げ) naming the version the user saw."""

    version = VersionField()


class RepairForm(FlaskForm):
    """修繕依頼: 受付日, 内容, 状態, 完了日."""

    received_on = DateInputField(_l("受付日"), [required()])
    content = NoteField(_l("内容"), [required()], max_length=2000)
    status = SelectField(
        _l("状態"),
        choices=code_choices(REPAIR_STATUSES),
        validators=[required()],
        invalid_choice_message=CHOOSE,
    )
    completed_on = DateInputField(_l("完了日"), [optional()], description=_l("状態が「完了」のときに入力。"))

    columns = {
        "received_on": "received_on",
        "content": "content",
        "status": "status",
        "completed_on": "completed_on",
    }

    def values(self) -> dict:
        return {name: getattr(self, name).data for name in self.columns}


class RepairEditForm(RepairForm):
    version = VersionField()
