"""Finding households: one search box that understands what is typed, with filters (POST only).

The search terms travel in the POST body only, never in a URL (SECURITY.md: no personal data in URLs);
paging is a POST of the same form with the page number. htmx swaps the results region; without
JavaScript the same POST returns the whole page.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from models import Estate, Ward
from rules import search as rules
from services import access
from services import search as service

bp = Blueprint("households", __name__, url_prefix="/households")

# i18n: household statuses in the search filter and the result list
STATUS_LABELS = {
    "active": _l("入居中"),
    "moving_out": _l("退去手続中"),
    "moved_out": _l("退去済"),
}

# i18n: short badges in the household list (収入超過, 高額所得, 生活保護, 代理納付, 滞納, 車検切れ)
FLAG_LABELS = {
    "over_income": _l("収入超過"),
    "high_income": _l("高額所得"),
    "welfare": _l("生活保護"),
    "proxy_payment": _l("代理納付"),
    "arrears": _l("滞納"),
    "inspection_expired": _l("車検切れ"),
}

KIND_LABELS = {
    # i18n: how the search box was understood, shown above the results
    rules.KANA_PREFIX: _l("カナ氏名（前方一致）"),
    rules.KANJI_NAME: _l("氏名（部分一致）"),
    rules.HOUSING_CODE: _l("住宅コード"),
    rules.HOUSEHOLD_NO: _l("世帯番号"),
    rules.CODE: _l("住宅コードまたは世帯番号"),
    rules.ATENA_NO: _l("宛名番号"),
    rules.PHONE: _l("電話番号"),
    rules.ESTATE_ROOM: _l("団地名と部屋番号"),
    rules.ESTATE: _l("団地名"),
    rules.NONE: _l("絞り込み条件のみ"),
}


def _id_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class HouseholdSearchForm(FlaskForm):
    """The search box and the filters. Choices of estate and ward are loaded per request."""

    q = StringField(
        _l("検索語"),
        description=_l(
            "カナ・ひらがな・漢字の氏名、住宅コード、世帯番号、宛名番号、電話番号、"
            "または「団地名 棟-部屋番号」（例: 小田 3-101）"
        ),
    )
    estate = SelectField(_l("団地"), coerce=_id_or_none, validate_choice=True)
    ward = SelectField(_l("区"), coerce=_id_or_none, validate_choice=True)
    status = SelectField(_l("状態"), default="", validate_choice=True)
    arrears = BooleanField(_l("滞納あり"))
    over_income = BooleanField(_l("収入超過"))
    high_income = BooleanField(_l("高額所得"))
    welfare = BooleanField(_l("生活保護"))
    proxy_payment = BooleanField(_l("代理納付"))
    inspection_expired = BooleanField(_l("車検切れ"))

    FLAG_FIELDS = ("arrears", "over_income", "high_income", "welfare", "proxy_payment", "inspection_expired")

    def load_choices(self) -> None:
        wards = list(Ward.select(Ward.id, Ward.name).order_by(Ward.code))
        ward_names = {w.id: w.name for w in wards}
        estates = Estate.select(Estate.id, Estate.name, Estate.ward).order_by(Estate.ward, Estate.code)
        everything = ("", _l("すべて"))
        self.ward.choices = [everything] + [(w.id, w.name) for w in wards]
        self.estate.choices = [everything] + [
            (e.id, f"{e.name}（{ward_names.get(e.ward_id, '')}）") for e in estates
        ]
        self.status.choices = [everything] + list(STATUS_LABELS.items())

    def validate_q(self, field) -> None:
        text = field.data or ""
        if len(text) > rules.MAX_QUERY:  # before NFKC too: no unbounded work on a huge body
            raise ValidationError(_("検索語は%(max)d文字以内で入力してください。", max=rules.MAX_QUERY))
        try:
            field.data = rules.clean_query(text)
        except ValueError as exc:
            if len(field.data or "") > rules.MAX_QUERY:
                raise ValidationError(
                    _("検索語は%(max)d文字以内で入力してください。", max=rules.MAX_QUERY)
                ) from None
            raise ValidationError(str(exc)) from None

    def filters(self) -> service.Filters:
        return service.Filters(
            estate_id=self.estate.data,
            ward_id=self.ward.data,
            status=self.status.data or None,
            **{name: bool(getattr(self, name).data) for name in self.FLAG_FIELDS},
        )


def page_number() -> int:
    # The pager buttons submit the form with name="page"; anything unreadable is the first page.
    value = request.form.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else 1


def render_search(folder: str, form, result=None, *, status: int = 200, flag_labels=FLAG_LABELS):
    """The search page from folder's index.html, or for htmx's POST only its _results.html (the fields
    swapped out of band). The portal's search shares it with its own templates and flags."""
    context = {
        "form": form,
        "result": result,
        "flag_labels": flag_labels,
        "status_labels": STATUS_LABELS,
        "kind_labels": KIND_LABELS,
    }
    if request.method == "POST" and inline.wants_fragment():
        return render_template(f"{folder}/_results.html", oob_fields=True, **context), status
    return render_template(f"{folder}/index.html", **context), status


def refuse_terms(form, invalid: service.SearchInvalid) -> None:
    """Why the search was refused, beside the search box."""
    message = (
        _("検索条件を入力してください。") if invalid.message == service.NO_CONDITION else invalid.message
    )
    form.q.errors = [*form.q.errors, message]


def _render(form: HouseholdSearchForm, result=None, *, status: int = 200):
    return render_search("staff/households", form, result, status=status)


@bp.route("/", methods=["GET", "POST"])
def index():
    """GET: the empty search form. POST: run the search and show a page of results."""
    form = HouseholdSearchForm()
    form.load_choices()
    if request.method == "GET":
        return _render(form)
    if not form.validate_on_submit():
        return _render(form, status=422)
    try:
        result = service.search(
            current_user, form.q.data, form.filters(), page=page_number(), **audit_context()
        )
    except service.SearchInvalid as invalid:
        refuse_terms(form, invalid)
        return _render(form, status=422)
    except access.SearchRefused:
        abort(403)
    return _render(form, result)
