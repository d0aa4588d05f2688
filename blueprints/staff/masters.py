"""マスタ: the effective-dated masters of SPEC §4 — scalar parameters (立地係数, 控除額, 入居収入基準 …)
and the tables (家賃算定基礎額, 収入超過者の割合, 給与所得, 公的年金等控除) — with their versions and history.

City staff read them (which version is in force today, which ones are coming, who changed what);
officers add a version from a future date, edit or delete a version whose date has not come, and
never touch one already in force (OFFICER only in the policy table; services.master_edits says why).

Edits follow the inline flow of the other screens: with htmx the form comes into the page's slot,
invalid input → 422 with the messages beside the fields, someone saved in between → 409 with both
versions, a save → the section again with a toast; without JavaScript the same URLs are whole pages
and a save redirects (303) to the page. Masters hold no personal data: reading them is not audited,
every change is (services.editing, under the master's own table).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectField

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    DecimalInputField,
    NoteField,
    SmallIntegerField,
    TextField,
    VersionField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import MasterParameter
from models.masters import AGE_GROUPS, PARAMETERS
from rules.filters import today_tokyo
from services import editing
from services import master_edits as service

bp = Blueprint("masters", __name__, url_prefix="/masters")

SECTION = "versions"
BLANK_ROWS = 2  # empty rows offered under a band table for a new band


def _officer() -> bool:
    return getattr(current_user, "role", None) == "officer"


def _helpers() -> dict:
    return {
        "parameter_text": service.parameter_text,
        "is_officer": _officer(),
        "kinds": service.KINDS,
        "age_group_label": dict(AGE_GROUPS).get,
    }


# --- reading ---------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    """Every parameter with the value in force today and the coming ones; every table's versions."""
    today = today_tokyo()
    return render_template(
        "staff/masters/index.html",
        today=today,
        parameters=service.parameter_summaries(today),
        tables=service.table_summaries(today),
        **_helpers(),
    )


def _parameter_page(code: str) -> service.ParameterPage:
    page = service.parameter_page(code)
    if page is None:
        abort(404)
    return page


def _parameter_section(code: str) -> str:
    return render_template("staff/masters/_parameter_versions.html", page=_parameter_page(code), **_helpers())


@bp.get("/parameters/<code>")
def parameter(code: str):
    """One parameter: its versions by 適用開始日, the one in force highlighted, each with its history.
    An htmx request gets the section alone (取消 of an inline form)."""
    if inline.wants_fragment():
        return _parameter_section(code)
    return render_template("staff/masters/parameter.html", page=_parameter_page(code), **_helpers())


def _kind_or_404(slug: str) -> service.TableKind:
    kind = service.KINDS.get(slug)
    if kind is None:
        abort(404)
    return kind


def _table_section(kind: service.TableKind) -> str:
    return render_template("staff/masters/_table_versions.html", page=service.table_page(kind), **_helpers())


@bp.get("/tables/<kind>")
def table(kind: str):
    """One table: its versions, newest first, the one in force highlighted, each with its history."""
    table_kind = _kind_or_404(kind)
    if inline.wants_fragment():
        return _table_section(table_kind)
    return render_template("staff/masters/table.html", page=service.table_page(table_kind), **_helpers())


# --- the inline flow ----------------------------------------------------------------------------------------


def _form_response(template: str, *, status: int = 200, title: str, **context):
    """The form fragment for htmx, or a whole page holding it."""
    context = {**_helpers(), **context}
    if inline.wants_fragment():
        return render_template(template, **context), status
    return render_template("staff/masters/_edit_page.html", fragment=template, title=title, **context), status


def _saved(*, page_url: str, render_section: Callable[[], str], message: str):
    """After a save: the section again with a toast (htmx), or a redirect to the page (303)."""
    if inline.wants_fragment():
        response = make_response(render_section())
        response.headers["HX-Retarget"] = f"#{SECTION}"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = inline.toast_header(message)
        return response
    flash(message, "success")
    return redirect(f"{page_url}#{SECTION}", code=303)


# --- scalar parameters ---------------------------------------------------------------------------------------


def _value_field():
    return DecimalInputField(
        _l("値"),
        [required()],
        places=6,
        minimum=0,
        maximum=9_999_999,
        description=_l("小数点以下6桁まで。金額は円、率は小数（3%は0.03）で入力。"),
    )


class ParameterForm(FlaskForm):
    """A version of a scalar parameter: 適用開始日, 値, 根拠, 備考."""

    valid_from = DateInputField(
        _l("適用開始日"),
        [required()],
        description=_l("明日以降の日付。西暦または和暦（例: 令和9年4月1日）。"),
    )
    value = _value_field()
    basis = TextField(_l("根拠"), [required()], max_length=200, description=_l("例: 令2条1項2号、条例改正"))
    note = NoteField(_l("備考"), [optional()], max_length=1000)

    columns = {"valid_from": "valid_from", "value": "value", "basis": "basis", "note": "note"}

    def values(self) -> dict:
        return {
            "valid_from": self.valid_from.data,
            "value": self.value.data,
            "basis": self.basis.data,
            "note": self.note.data,
        }


class ParameterEditForm(ParameterForm):
    version = VersionField()


class DeleteForm(FlaskForm):
    """Deleting a future version: the version read (a scalar) or the stamp of its rows (a table)."""

    version = VersionField()
    columns: dict = {}


class TableDeleteForm(FlaskForm):
    stamp = HiddenField()


def _parameter_row(row_id: int) -> MasterParameter:
    row = MasterParameter.get_or_none(MasterParameter.id == row_id)
    if row is None or row.code not in PARAMETERS:
        abort(404)
    return row


def _read_only_response(template_context: dict, *, title: str, message: str):
    """A version already in force: 409 with the reason instead of a form."""
    return _form_response(
        "staff/masters/_read_only.html", status=409, title=title, message=message, **template_context
    )


def _in_force(row: MasterParameter, title: str, message: str):
    """A parameter version already in force: the reason instead of its form (409)."""
    context = {"code": row.code, "label": PARAMETERS[row.code][0], "instance": row}
    return _read_only_response(context, title=title, message=message)


def _parameter_flow(*, form, instance, code: str, save: Callable, message: str, title: str, template: str):
    page_url = url_for(".parameter", code=code)
    context = {"form": form, "instance": instance, "code": code, "label": PARAMETERS[code][0]}
    return inline.versioned_form(
        form,
        template,
        title,
        context,
        save,
        reread=lambda: MasterParameter.get_or_none(MasterParameter.id == instance.id),
        gone=lambda: _read_only_response(
            context, title=title, message=_("この版はほかの職員が削除しました。画面を開き直してください。")
        ),
        on_saved=lambda changes: _saved(
            page_url=page_url,
            render_section=lambda: _parameter_section(code),
            message=message if changes else _("変更はありませんでした。"),
        ),
        respond=_form_response,
    )


@bp.route("/parameters/<code>/new", methods=["GET", "POST"])
def parameter_new(code: str):
    """Add a version of a parameter from a future date (pre-filled with the value in force)."""
    page = _parameter_page(code)
    form = ParameterForm()
    if request.method == "GET":
        current = page.versions[0].row if page.versions else None
        if current is not None:
            form.value.data = current.value
            form.basis.data = current.basis

    def save(f):
        service.add_parameter(code, f.values(), **audit_context())
        return True

    return _parameter_flow(
        form=form,
        instance=None,
        code=code,
        save=save,
        message=_("新しい版を登録しました。"),
        title=_("%(label)sの新しい版", label=page.label),
        template="staff/masters/_parameter_form.html",
    )


@bp.route("/parameters/<int:row_id>/edit", methods=["GET", "POST"])
def parameter_edit(row_id: int):
    """Edit a version whose date has not come."""
    row = _parameter_row(row_id)
    title = _("%(label)sの版の編集", label=PARAMETERS[row.code][0])
    if row.valid_from <= today_tokyo():
        return _in_force(row, title, _("適用が始まった版は変更できません。新しい版を登録してください。"))
    form = ParameterEditForm(obj=row, version=row.version)

    def save(f):
        return bool(service.save_parameter(row, f.version.data, f.values(), **audit_context()))

    return _parameter_flow(
        form=form,
        instance=row,
        code=row.code,
        save=save,
        message=_("版を保存しました。"),
        title=title,
        template="staff/masters/_parameter_form.html",
    )


@bp.route("/parameters/<int:row_id>/delete", methods=["GET", "POST"])
def parameter_delete(row_id: int):
    """Delete a version whose date has not come (a confirmation first)."""
    row = _parameter_row(row_id)
    title = _("%(label)sの版の削除", label=PARAMETERS[row.code][0])
    if row.valid_from <= today_tokyo():
        return _in_force(row, title, _("適用が始まった版は削除できません。"))
    form = DeleteForm(version=row.version)

    def save(f):
        service.delete_parameter(row, f.version.data, **audit_context())
        return True

    return _parameter_flow(
        form=form,
        instance=row,
        code=row.code,
        save=save,
        message=_("版を削除しました。"),
        title=title,
        template="staff/masters/_parameter_delete.html",
    )


# --- tables: a new version, its rows, its deletion ---------------------------------------------------------


class NewDateVersionForm(FlaskForm):
    key = DateInputField(
        _l("適用開始日"), [required()], description=_l("明日以降の日付。いま適用中の版を写して作ります。")
    )


class NewYearVersionForm(FlaskForm):
    key = SmallIntegerField(
        _l("適用する所得年"),
        [required()],
        description=_l("西暦で入力（例: 2027）。その年の所得から使います。いま適用中の版を写して作ります。"),
    )


@bp.route("/tables/<kind>/new", methods=["GET", "POST"])
def table_new(kind: str):
    """Copy the version in force into a new 適用開始日 (or income year), then edit its rows."""
    table_kind = _kind_or_404(kind)
    form = (NewYearVersionForm if table_kind.by_income_year else NewDateVersionForm)()
    title = _("%(table)sの新しい版", table=table_kind.title)
    template = "staff/masters/_table_new_form.html"
    context = {"form": form, "kind": table_kind}
    if request.method == "GET" and table_kind.by_income_year:
        form.key.data = today_tokyo().year
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.copy_version(table_kind, form.key.data, **audit_context())
            except editing.RuleViolation as exc:
                inline.attach(form, exc)
            else:
                key_text = table_kind.key_text(form.key.data)
                message = _(
                    "%(version)sの版を作りました。行を確認して保存してください。",
                    version=table_kind.key_label(form.key.data),
                )
                edit_url = url_for(".table_edit", kind=table_kind.slug, key=key_text)
                if inline.wants_fragment():
                    # The new version's rows open for editing in place of the copy form.
                    response = _table_edit_response(table_kind, form.key.data, status=200)
                    response.headers["HX-Trigger"] = inline.toast_header(message)
                    return response
                flash(message, "success")
                return redirect(edit_url, code=303)
        return _form_response(template, status=422, title=title, **context)
    return _form_response(template, title=title, **context)


def _table_read_only(kind: service.TableKind, version: service.TableVersion, title: str, message: str):
    """A table version already in force (or deleted meanwhile): the reason instead of its form (409)."""
    return _read_only_response({"kind": kind, "version": version}, title=title, message=message)


def _table_saved(kind: service.TableKind, message: str):
    return _saved(
        page_url=url_for(".table", kind=kind.slug),
        render_section=lambda: _table_section(kind),
        message=message,
    )


def _version_or_404(kind: service.TableKind, key_text: str) -> service.TableVersion:
    key = kind.parse_key(key_text)
    if key is None:
        abort(404)
    version = service.table_page(kind, history=False).version(key)
    if version is None:
        abort(404)
    return version


# Row forms: every input is optional for WTForms (a blank new row is no row); the view asks for what a
# kept row needs, and services.master_edits checks the table as a whole.


class FractionField(TextField):
    """A share typed as a fraction: 1/5, ２／５, 1 (= 1/1). The data is (numerator, denominator)."""

    message = _l("割合は分数で入力してください（例: 2/5、全額は1）。")

    def normalise(self, text):
        cleaned = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).replace("∕", "/")
        match = re.fullmatch(r"([0-9]{1,3})(?:/([0-9]{1,3}))?", cleaned)
        if not match:
            raise ValueError("not a fraction")
        return int(match.group(1)), int(match.group(2) or 1)

    def display(self, value):
        return _fraction_text(value)


def _fraction_text(value) -> str:
    """(2, 5) → 2/5, (1, 1) → 1; "" for none."""
    if not value:
        return ""
    numerator, denominator = value
    return str(numerator) if denominator == 1 else f"{numerator}/{denominator}"


def _shown(field, value) -> str:
    """A cell's value as the form shows it (for the 409 comparison)."""
    if value is None or value == "":
        return ""
    if isinstance(field, SelectField):
        return str(dict(AGE_GROUPS).get(value, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return field.display(value) if hasattr(field, "display") else str(value)


class SignedYenField(YenInputField):
    """Whole yen that may be negative: -550,000 / −550,000 / ▲550,000 (給与所得の加減額)."""

    def normalise(self, text):
        cleaned = unicodedata.normalize("NFKC", text).strip()
        negative = cleaned[:1] in ("-", "−", "▲", "△", "ー")
        value = super().normalise(cleaned[1:] if negative else cleaned)
        return -value if negative else value

    def display(self, value):
        return f"-{abs(value):,}" if value < 0 else f"{value:,}"


def _rate_field(label):
    return DecimalInputField(label, [optional()], places=4, minimum=0, maximum=1)


class RentRowForm(Form):
    income_min = YenInputField(_l("政令月収（下限）"), [optional()])
    income_max = YenInputField(_l("政令月収（上限）"), [optional()])
    base_amount = YenInputField(_l("家賃算定基礎額"), [optional()])


YEARS = range(1, 10)


class OverIncomeRowForm(Form):
    income_min = YenInputField(_l("政令月収（下限）"), [optional()])
    income_max = YenInputField(_l("政令月収（上限）"), [optional()])
    year_1 = FractionField(_l("1年目"), [optional()])
    year_2 = FractionField(_l("2年目"), [optional()])
    year_3 = FractionField(_l("3年目"), [optional()])
    year_4 = FractionField(_l("4年目"), [optional()])
    year_5 = FractionField(_l("5年目"), [optional()])
    year_6 = FractionField(_l("6年目"), [optional()])
    year_7 = FractionField(_l("7年目"), [optional()])
    year_8 = FractionField(_l("8年目"), [optional()])
    year_9 = FractionField(_l("9年目"), [optional()])


class _BandRowForm(Form):
    row_id = HiddenField()
    revenue_min = YenInputField(_l("収入（以上）"), [optional()])
    revenue_max = YenInputField(_l("収入（以下）"), [optional()])
    rate = _rate_field(_l("率"))
    delete = BooleanField(_l("この行を削除"))

    def id_value(self) -> int | None:
        raw = self.row_id.data
        return (
            int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        )


class SalaryRowForm(_BandRowForm):
    round_to = SmallIntegerField(_l("端数処理単位"), [optional()])
    offset = SignedYenField(_l("加減額"), [optional()])


class PensionRowForm(_BandRowForm):
    age_group = SelectField(
        _l("年齢区分"), choices=code_choices(AGE_GROUPS, blank=True), validate_choice=True
    )
    offset = YenInputField(_l("加算額"), [optional()])


ROW_FORMS = {
    "rent-bands": RentRowForm,
    "over-income-rates": OverIncomeRowForm,
    "salary-bands": SalaryRowForm,
    "pension-bands": PensionRowForm,
}
REQUIRED = {
    "rent-bands": ("income_min", "base_amount"),
    "over-income-rates": ("income_min",),
    "salary-bands": ("revenue_min", "round_to", "rate", "offset"),
    "pension-bands": ("age_group", "revenue_min", "rate", "offset"),
}


def _table_form_class(kind: service.TableKind):
    class TableForm(FlaskForm):
        stamp = HiddenField()
        rows = FieldList(FormField(ROW_FORMS[kind.slug]), min_entries=0, max_entries=service.MAX_ROWS + 10)

    return TableForm


def _initial_rows(kind: service.TableKind, version: service.TableVersion) -> list[dict]:
    if kind.slug == "over-income-rates":
        bands: dict[int, dict] = {}
        for row in version.rows:
            band = bands.setdefault(row.band, {"income_min": row.income_min, "income_max": row.income_max})
            band[f"year_{row.year_over}"] = (row.numerator, row.denominator)
        return [bands[b] for b in sorted(bands)]
    rows = []
    for row in version.rows:
        data = {c: getattr(row, c) for c in kind.compare}
        if kind.by_income_year:
            data["row_id"] = str(row.id)
        rows.append(data)
    if kind.by_income_year:
        rows += [{} for _ in range(BLANK_ROWS)]
    return rows


def _years_of(version: service.TableVersion) -> dict[int, list[int]]:
    """band → the years over the version has (the form shows those)."""
    years: dict[int, list[int]] = {}
    for row in version.rows:
        years.setdefault(row.band, []).append(row.year_over)
    return {band: sorted(ys) for band, ys in years.items()}


def _table_context(kind, version, form, **extra) -> dict:
    return {
        "kind": kind,
        "version": version,
        "form": form,
        "years": _years_of(version) if kind.slug == "over-income-rates" else {},
        **extra,
    }


def _table_edit_response(kind: service.TableKind, key, *, status: int = 200):
    version = service.table_page(kind, history=False).version(key)
    form = _table_form_class(kind)(
        formdata=None, data={"stamp": version.stamp(), "rows": _initial_rows(kind, version)}
    )
    html = render_template(
        "staff/masters/_table_form.html", **_helpers(), **_table_context(kind, version, form)
    )
    return make_response(html, status)


def _blank(entry) -> bool:
    return entry.form.id_value() is None and all(
        f.data in (None, "", False)
        for name, f in entry.form._fields.items()
        if name not in ("row_id", "delete")
    )


def _collect(kind: service.TableKind, version, form) -> tuple[list[dict], list[int]] | None:
    """The rows the form holds as the service takes them, and the form entry of each; None after
    marking the fields a kept row leaves empty."""
    rows, entries, missing = [], [], False
    years = _years_of(version) if kind.slug == "over-income-rates" else {}
    for index, entry in enumerate(form.rows.entries):
        sub = entry.form
        if kind.by_income_year and _blank(entry):
            continue
        deleting = kind.by_income_year and bool(sub.delete.data)
        if not deleting:
            for name in REQUIRED[kind.slug]:
                if sub[name].data in (None, "") and not sub[name].errors:
                    sub[name].errors = [*sub[name].errors, _("入力してください。")]
                    missing = True
        if kind.slug == "over-income-rates":
            shares = {}
            for year in years.get(index + 1, []):
                share = sub[f"year_{year}"]
                if share.data is None and not share.errors:
                    share.errors = [_("入力してください。")]
                    missing = True
                shares[year] = share.data
            rows.append(
                {"income_min": sub.income_min.data, "income_max": sub.income_max.data, "shares": shares}
            )
        else:
            data = {name: sub[name].data for name in kind.compare}
            if kind.by_income_year:
                data["id"] = sub.id_value()
                data["delete"] = deleting
            rows.append(data)
        entries.append(index)
    return None if missing else (rows, entries)


def _attach_problems(form, entries: list[int], problems) -> None:
    for index, column, message in problems:
        if index is None or column is None:
            form.form_errors.append(str(message))
            continue
        sub = form.rows.entries[entries[index]].form
        if column in sub._fields:
            sub[column].errors = [*sub[column].errors, str(message)]
        else:
            form.form_errors.append(str(message))


def _conflict_rows(kind, form, entries, current_rows) -> list[tuple[str, str, str]]:
    """(what, this officer's input, what is saved now) for the cells that differ."""
    out = []
    if kind.slug == "over-income-rates":
        saved = {(r.band, r.year_over): r for r in current_rows}
        for position, entry in enumerate(form.rows.entries, start=1):
            sub = entry.form
            for year in YEARS:
                row = saved.get((position, year))
                if row is None:
                    continue
                mine = sub[f"year_{year}"].data
                theirs = (row.numerator, row.denominator)
                if mine != theirs:
                    out.append(
                        (
                            _("区分%(band)s %(year)s年目", band=position, year=year),
                            _fraction_text(mine),
                            _fraction_text(theirs),
                        )
                    )
        return out
    by_id = {r.id: r for r in current_rows}
    ordered = sorted(current_rows, key=lambda r: tuple(getattr(r, c) for c in kind.order))
    for position, entry in enumerate(form.rows.entries):
        sub = entry.form
        if kind.by_income_year:
            row = by_id.get(sub.id_value())
        else:
            row = ordered[position] if position < len(ordered) else None
        if row is None:
            continue
        for column in kind.compare:
            field = sub[column]
            mine, theirs = field.data, getattr(row, column)
            if mine is not None and theirs is not None and str(mine) == str(theirs):
                continue
            if mine == theirs:
                continue
            label = _("%(row)s行目 %(column)s", row=position + 1, column=field.label.text)
            out.append((label, _shown(field, mine), _shown(field, theirs)))
    return out


@bp.route("/tables/<kind>/<key>/edit", methods=["GET", "POST"])
def table_edit(kind: str, key: str):
    """Edit the rows of a version whose date has not come; the whole table is checked at each save."""
    table_kind = _kind_or_404(kind)
    version = _version_or_404(table_kind, key)
    title = _("%(table)s %(version)sの版の編集", table=table_kind.title, version=version.label)
    template = "staff/masters/_table_form.html"
    if not version.editable:
        return _table_read_only(
            table_kind, version, title, _("適用が始まった版は変更できません。新しい版を作ってください。")
        )
    form_class = _table_form_class(table_kind)
    if request.method != "POST":
        form = form_class(
            formdata=None, data={"stamp": version.stamp(), "rows": _initial_rows(table_kind, version)}
        )
        return _form_response(template, title=title, **_table_context(table_kind, version, form))
    form = form_class()
    context = _table_context(table_kind, version, form)
    stamp = service.parse_stamp(form.stamp.data)
    if stamp is None:
        form.form_errors.append(_("画面を開き直してください。"))
        return _form_response(template, status=422, title=title, **context)
    valid = form.validate_on_submit()
    collected = _collect(table_kind, version, form)
    if not valid or collected is None:
        return _form_response(template, status=422, title=title, **context)
    rows, entries = collected
    try:
        if table_kind.slug == "rent-bands":
            changes = service.save_rent_bands(version.key, stamp, rows, **audit_context())
        elif table_kind.slug == "over-income-rates":
            changes = service.save_over_income(version.key, stamp, rows, **audit_context())
        else:
            changes = service.save_bands(table_kind, version.key, stamp, rows, **audit_context())
    except service.TableInvalid as exc:
        _attach_problems(form, entries, exc.problems)
        return _form_response(template, status=422, title=title, **context)
    except editing.RuleViolation as exc:
        inline.attach(form, exc)
        return _form_response(template, status=422, title=title, **context)
    except editing.ConflictError:
        current = service.table_page(table_kind, history=False).version(version.key)
        if current is None:
            return _table_read_only(
                table_kind, version, title, _("この版はほかの職員が削除しました。画面を開き直してください。")
            )
        same_rows = {r.id for r in current.rows} == set(stamp)
        conflict = _conflict_rows(table_kind, form, entries, current.rows)
        if same_rows:
            # This officer's input stays, now based on the saved rows: saving again overwrites knowingly.
            form.stamp.data = current.stamp()
        else:
            # Rows were added or deleted meanwhile: the form shows the version as saved now.
            form = form_class(
                formdata=None, data={"stamp": current.stamp(), "rows": _initial_rows(table_kind, current)}
            )
            form.form_errors.append(
                _("行の追加・削除があったため、保存されている内容を表示しています。入力し直してください。")
            )
        context = _table_context(table_kind, current, form, conflict=conflict)
        return _form_response(template, status=409, title=title, **context)
    return _table_saved(table_kind, _("版を保存しました。") if changes else _("変更はありませんでした。"))


@bp.route("/tables/<kind>/<key>/delete", methods=["GET", "POST"])
def table_delete(kind: str, key: str):
    """Delete a version whose date has not come (a confirmation first)."""
    table_kind = _kind_or_404(kind)
    version = _version_or_404(table_kind, key)
    title = _("%(table)s %(version)sの版の削除", table=table_kind.title, version=version.label)
    template = "staff/masters/_table_delete.html"
    if not version.editable:
        return _table_read_only(table_kind, version, title, _("適用が始まった版は削除できません。"))
    form = TableDeleteForm(stamp=version.stamp())
    context = {"form": form, "kind": table_kind, "version": version}
    if request.method == "POST":
        stamp = service.parse_stamp(form.stamp.data) if form.validate_on_submit() else None
        if stamp is None:
            form.form_errors.append(_("画面を開き直してください。"))
            return _form_response(template, status=422, title=title, **context)
        try:
            service.delete_version(table_kind, version.key, stamp, **audit_context())
        except editing.RuleViolation as exc:
            inline.attach(form, exc)
            return _form_response(template, status=422, title=title, **context)
        except editing.ConflictError:
            form.stamp.data = version.stamp()
            context.update(conflict=[])
            return _form_response(template, status=409, title=title, **context)
        return _table_saved(table_kind, _("版を削除しました。"))
    return _form_response(template, title=title, **context)
