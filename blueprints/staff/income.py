"""収入申告の入力（世帯員ごとの収入額・所得額・控除額と政令月収）.

The 収入申告・政令月収 section of the household file: staff enter and correct a household's income
declaration for a fiscal year, member by member (給与収入, 公的年金等収入, その他の所得, 非課税収入, the
flags the deductions depend on) with its remote dependents (遠隔地扶養親族), and services.declarations
computes 所得額, 控除額, 政令月収 and 収入分位 with rules.income and the masters in force.

    /staff/household/<hid>/income/new              a declaration for a fiscal year not entered yet
    /staff/household/<hid>/income/<fiscal year>/edit the declaration of that year (opened when missing)

The flow is blueprints.staff.inline's: with htmx the form opens in the section's slot and answers 422
(messages beside the fields, nothing written), 409 (someone saved the declaration first: both versions
of what differs, or the members changed) or the section again with a toast; without JavaScript the
same URLs are whole pages and a save redirects (303) to the household page at #income. Adding or
removing a remote dependent's row posts the form back (a submit button named "action"), so it works
the same with and without JavaScript and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re

from flask import Blueprint, abort, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, Form, FormField, HiddenField, SelectChoice, SelectField

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    NameField,
    VersionField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models.income import DECLARATION_STATUSES, DISABILITY_LEVELS, INCOME_SOURCES
from models.person import RELATIONS
from rules import wareki
from services import declarations

bp = Blueprint("income", __name__, url_prefix="/household")

SECTION = "income"
TEMPLATE = "staff/household/_income_form.html"
CHOOSE = _l("一覧から選んでください。")
OLDEST_FISCAL_YEAR = 2000
NEW_YEARS = 6  # the fiscal years offered for a new declaration: the latest possible and five before


# --- fields and forms -------------------------------------------------------------------------------


class AmountField(YenInputField):
    """A yearly amount in whole yen (12,000 / １２０００円), at most declarations.MAX_AMOUNT; shown 12,000."""

    def normalise(self, text):
        value = super().normalise(text)
        if value > declarations.MAX_AMOUNT:
            raise ValueError("too large")
        return value

    def message_for(self, exc):
        if str(exc) == "too large":
            return _l("金額は999,999,999円以下で入力してください。")
        return self.message

    def display(self, value):
        return f"{int(value):,}"


class MemberIncomeForm(Form):
    """One member's incomes and the flags the deductions depend on (a row of the declaration)."""

    person_id = HiddenField()
    salary_revenue = AmountField(_l("給与収入"), [optional()], description=_l("源泉徴収票の「支払金額」。"))
    pension_revenue = AmountField(
        _l("公的年金等収入"), [optional()], description=_l("老齢年金など課税される年金の収入額。")
    )
    other_income = AmountField(
        _l("その他の所得"), [optional()], description=_l("事業・不動産などの所得（収入から経費を引いた額）。")
    )
    non_taxable_revenue = AmountField(
        _l("非課税収入"),
        [optional()],
        description=_l("遺族年金・障害年金・失業給付など。記録のみで、政令月収の計算には含めません。"),
    )
    is_dependent = BooleanField(_l("扶養親族"))
    is_widow = BooleanField(_l("寡婦"))
    is_single_parent = BooleanField(_l("ひとり親"))
    disability = SelectField(
        _l("障害者控除区分"),
        choices=code_choices(DISABILITY_LEVELS),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )


class RemoteDependentForm(Form):
    """A dependent living elsewhere: 氏名, 生年月日 (西暦/和暦), 障害者控除区分. A blank row is ignored."""

    row_id = HiddenField()
    name = NameField(_l("氏名"), max_length=100)
    birth_date = DateInputField(
        _l("生年月日"), description=_l("西暦（1950-01-01）か和暦（昭和25年1月1日・S25.1.1）で入力。")
    )
    disability = SelectField(
        _l("障害者控除区分"),
        choices=code_choices(DISABILITY_LEVELS),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )

    def is_blank(self) -> bool:
        return (
            not self.name.raw.strip()
            and not self.birth_date.raw.strip()
            and self.disability.data in ("none", "")
        )


class DeclarationForm(FlaskForm):
    """The declaration of one fiscal year: status, source, 提出日, the members' rows, remote dependents."""

    version = VersionField()
    status = SelectField(
        _l("申告状況"),
        choices=code_choices(DECLARATION_STATUSES),
        validators=[required(_l("選んでください。"))],
        invalid_choice_message=CHOOSE,
    )
    source = SelectField(
        _l("収入の根拠"),
        choices=code_choices(INCOME_SOURCES, blank=True),
        invalid_choice_message=CHOOSE,
        description=_l("本人申告・税情報照会・法34条調査のどれによる収入か。"),
    )
    submitted_on = DateInputField(
        _l("提出日"),
        [optional()],
        description=_l("提出済のときに入力。西暦（2026-07-15）か和暦（令和8年7月15日・R8.7.15）で入力。"),
    )
    members = FieldList(FormField(MemberIncomeForm), max_entries=40)
    remote = FieldList(FormField(RemoteDependentForm), max_entries=declarations.MAX_REMOTE)


class NewDeclarationForm(DeclarationForm):
    """A declaration not entered yet: its fiscal year is chosen too."""

    fiscal_year = SelectField(
        _l("年度"), validators=[required(_l("選んでください。"))], invalid_choice_message=CHOOSE
    )


# --- helpers ----------------------------------------------------------------------------------------


def _fiscal_year_choices(existing: set[int]) -> list[SelectChoice]:
    latest = declarations.latest_fiscal_year()
    years = [year for year in range(latest, latest - NEW_YEARS, -1) if year not in existing]
    return [
        SelectChoice(
            str(year),
            _("%(label)s（%(year)s年分の収入）", label=wareki.fiscal_year_label(year), year=year - 1),
        )
        for year in years
    ]


def _existing_years(household_id: int) -> set[int]:
    from models import IncomeDeclaration

    return {
        row.fiscal_year
        for row in IncomeDeclaration.select(IncomeDeclaration.fiscal_year).where(
            IncomeDeclaration.household == household_id
        )
    }


def _member_data(entry: declarations.MemberEntry) -> dict:
    return {
        "person_id": str(entry.person_id),
        "salary_revenue": entry.salary_revenue,
        "pension_revenue": entry.pension_revenue,
        "other_income": entry.other_income,
        "non_taxable_revenue": entry.non_taxable_revenue,
        "is_dependent": entry.is_dependent,
        "is_widow": entry.is_widow,
        "is_single_parent": entry.is_single_parent,
        "disability": entry.disability,
    }


def _remote_data(entry: declarations.RemoteEntry) -> dict:
    return {
        "row_id": str(entry.id) if entry.id else "",
        "name": entry.name,
        "birth_date": entry.birth_date,
        "disability": entry.disability,
    }


def _form_data(opened: declarations.Opened) -> dict:
    stored = opened.entry()
    return {
        "status": stored.status,
        "source": stored.source or "",
        "submitted_on": stored.submitted_on,
        "members": [_member_data(m) for m in stored.members],
        "remote": [_remote_data(r) for r in stored.remote_dependents],
    }


def _int_or_none(text) -> int | None:
    text = text.strip() if isinstance(text, str) else ""
    return int(text) if re.fullmatch(r"[0-9]{1,9}", text) else None


def _posted_person(entry) -> int | None:
    return _int_or_none(entry.form.person_id.data)


def _align_members(form: DeclarationForm, opened: declarations.Opened) -> bool:
    """Make the form's member rows the declaration's members, in its order: rows posted for them are
    kept, missing ones are added with the stored values, others dropped. True when they already were."""
    posted = {}
    for entry in form.members.entries:
        pid = _posted_person(entry)
        if pid is not None and pid not in posted:
            posted[pid] = entry
    expected = [person.id for person in opened.members]
    aligned = [_posted_person(e) for e in form.members.entries] == expected
    if aligned:
        return True
    rows = []
    for person in opened.members:
        if person.id in posted:
            rows.append(posted[person.id])
        else:
            form.members.append_entry(_member_data(opened.member_entry(person)))
            rows.append(form.members.entries.pop())
    form.members.entries = rows
    return False


def _entry(form: DeclarationForm) -> tuple[declarations.DeclarationEntry, list]:
    """The entry the (valid) form holds, and the form rows of its remote dependents (by index)."""
    members = []
    for row in form.members.entries:
        f = row.form
        members.append(
            declarations.MemberEntry(
                person_id=_posted_person(row),
                salary_revenue=f.salary_revenue.data or 0,
                pension_revenue=f.pension_revenue.data or 0,
                other_income=f.other_income.data or 0,
                non_taxable_revenue=f.non_taxable_revenue.data or 0,
                is_dependent=bool(f.is_dependent.data),
                is_widow=bool(f.is_widow.data),
                is_single_parent=bool(f.is_single_parent.data),
                disability=f.disability.data,
            )
        )
    remote, remote_rows = [], []
    for row in form.remote.entries:
        f = row.form
        if f.is_blank():
            continue
        remote.append(
            declarations.RemoteEntry(
                name=f.name.data or "",
                birth_date=f.birth_date.data,
                disability=f.disability.data,
                id=_int_or_none(f.row_id.data),
            )
        )
        remote_rows.append(row)
    entry = declarations.DeclarationEntry(
        status=form.status.data,
        source=form.source.data or None,
        submitted_on=form.submitted_on.data,
        members=tuple(members),
        remote_dependents=tuple(remote),
    )
    return entry, remote_rows


def _attach(form, problems, remote_rows) -> None:
    """Each problem's message beside its field (or above the form)."""
    members = {_posted_person(row): row.form for row in form.members.entries}
    for key, message in problems:
        target = None
        parts = (key or "").split(".")
        if len(parts) == 1 and parts[0] and parts[0] in form:
            target = form[parts[0]]
        elif len(parts) == 3 and parts[0] == "members":
            sub = members.get(_int_or_none(parts[1]))
            target = sub[parts[2]] if sub is not None and parts[2] in sub else None
        elif len(parts) == 3 and parts[0] == "remote":
            index = _int_or_none(parts[1])
            if index is not None and index < len(remote_rows) and parts[2] in remote_rows[index].form:
                target = remote_rows[index].form[parts[2]]
        if target is not None:
            target.errors = [*target.errors, message]
        else:
            form.form_errors.append(message)


def _yen(value) -> str:
    return _("%(amount)s円", amount=f"{value:,}") if value is not None else ""


def _yesno(value) -> str:
    return _("はい") if value else _("いいえ")


def _conflict_rows(
    opened: declarations.Opened, mine: declarations.DeclarationEntry
) -> list[tuple[str, str, str]]:
    """(label, what this user entered, what is saved now) for everything that differs, the figures too."""
    theirs = opened.entry()
    names = {person.id: person.name for person in opened.members}
    statuses, sources, levels = dict(DECLARATION_STATUSES), dict(INCOME_SOURCES), dict(DISABILITY_LEVELS)
    rows = []

    def row(label, a, b):
        if a != b:
            rows.append((str(label), a, b))

    if opened.declaration is None:
        row(_("収入申告"), _("新規入力"), _("未入力"))
    else:
        row(_("申告状況"), statuses.get(mine.status, mine.status), statuses.get(theirs.status, theirs.status))
        row(_("収入の根拠"), sources.get(mine.source, ""), sources.get(theirs.source, ""))
        row(
            _("提出日"),
            wareki.to_wareki(mine.submitted_on) if mine.submitted_on else "",
            wareki.to_wareki(theirs.submitted_on) if theirs.submitted_on else "",
        )
    labels = {
        "salary_revenue": _("給与収入"),
        "pension_revenue": _("公的年金等収入"),
        "other_income": _("その他の所得"),
        "non_taxable_revenue": _("非課税収入"),
        "is_dependent": _("扶養親族"),
        "is_widow": _("寡婦"),
        "is_single_parent": _("ひとり親"),
        "disability": _("障害者控除区分"),
    }
    stored = {m.person_id: m for m in theirs.members}
    for member in mine.members:
        other = stored.get(member.person_id) or declarations.MemberEntry(member.person_id)
        for name, label in labels.items():
            a, b = getattr(member, name), getattr(other, name)
            if name == "disability":
                a, b = levels.get(a, a), levels.get(b, b)
            elif name.startswith("is_"):
                a, b = _yesno(a), _yesno(b)
            else:
                a, b = _yen(a), _yen(b)
            row(_("%(name)s：%(item)s", name=names.get(member.person_id, ""), item=label), a, b)

    def remote_text(entry):
        return "、".join(
            f"{r.name}（{wareki.to_wareki(r.birth_date)}・{levels.get(r.disability, r.disability)}）"
            for r in entry.remote_dependents
        )

    row(_("遠隔地扶養親族"), remote_text(mine), remote_text(theirs))
    if opened.declaration is not None:
        try:
            computed = (
                declarations.compute(opened, mine) if mine.status in declarations.FIGURE_STATUSES else None
            )
        except declarations.DeclarationInvalid:
            computed = None
        d = opened.declaration
        row(_("政令月収"), _yen(computed.seirei_getsushu) if computed else "", _yen(d.seirei_getsushu))
        row(_("収入分位"), str(computed.bracket) if computed else "", str(d.bracket or ""))
    return rows


def _context(household, opened, form, *, new: bool, **extra) -> dict:
    people = {person.id: person for person in opened.members}
    reference = opened.reference_day
    age_day = dt.date(opened.income_year, 12, 31)  # ages count at the end of the income year (令1条3号)
    rows = []
    for entry in form.members.entries:
        person = people.get(_posted_person(entry))
        if person is not None:
            current = person.member_to is None or person.member_to >= reference
            age = max(0, wareki.age_on(person.birth_date, age_day))
            rows.append((entry, person, age, current))
    if new:
        url = url_for(".new", household_id=household.id)
    else:
        url = url_for(".edit", household_id=household.id, fiscal_year=opened.fiscal_year)
    return {
        "form": form,
        "household": household,
        "section": SECTION,
        "opened": opened,
        "member_rows": rows,
        "relations": dict(RELATIONS),
        "form_url": url,
        "new": new,
        "max_remote": declarations.MAX_REMOTE,
        **extra,
    }


def _title(opened, new: bool) -> str:
    if new:
        return _("収入申告の入力")
    return _("%(year)sの収入申告", year=wareki.fiscal_year_label(opened.fiscal_year))


def _row_action() -> tuple[str, int | None] | None:
    """The add/remove row button pressed, if any: ("add", None) or ("remove", index)."""
    action = request.form.get("action", "")
    if action == "add_remote":
        return "add", None
    if action.startswith("remove_remote:"):
        index = _int_or_none(action.partition(":")[2])
        return ("remove", index) if index is not None else None
    return None


def _handle(household, opened, form, *, new: bool):
    """The POST of a declaration form (new or existing)."""
    title = _title(opened, new)

    def answer(status: int, **extra):
        return inline.form_response(
            TEMPLATE, status=status, title=title, **_context(household, opened, form, new=new, **extra)
        )

    pressed = _row_action()
    if pressed is not None:
        kind, index = pressed
        if kind == "add" and len(form.remote.entries) < declarations.MAX_REMOTE:
            form.remote.append_entry({"disability": "none"})
        elif kind == "remove" and index is not None and index < len(form.remote.entries):
            form.remote.entries.pop(index)
        _align_members(form, opened)
        return answer(200)

    if not _align_members(form, opened):
        form.form_errors.append(str(declarations.MembersChanged().message))
        return answer(409)
    if not form.validate_on_submit():
        return answer(422)
    entry, remote_rows = _entry(form)
    problems = declarations.check(opened, entry)
    if problems:
        _attach(form, problems, remote_rows)
        return answer(422)
    try:
        saved = declarations.save(household, opened.fiscal_year, entry, form.version.data, **audit_context())
    except declarations.ConflictError:
        current = declarations.load(household, opened.fiscal_year)
        rows = _conflict_rows(current, entry)
        form.version.data = current.version
        form.version.raw_data = [str(current.version)]
        now_new = new and current.declaration is None
        if new and not now_new:
            del form.fiscal_year  # the year is taken: the form now edits that declaration
        opened = current
        _align_members(form, opened)
        title = _title(opened, now_new)
        return inline.form_response(
            TEMPLATE,
            status=409,
            title=title,
            **_context(household, opened, form, new=now_new, conflict=rows),
        )
    except declarations.MembersChanged as exc:
        opened = declarations.load(household, opened.fiscal_year)
        _align_members(form, opened)
        form.form_errors.append(str(exc.message))
        return answer(409)
    except declarations.DeclarationInvalid as exc:
        _attach(form, exc.problems, remote_rows)
        return answer(422)
    label = wareki.fiscal_year_label(opened.fiscal_year)
    if not saved.changed:
        message = _("変更はありませんでした。")
    elif saved.computed is not None:
        message = _(
            "%(year)sの収入申告を保存しました（政令月収 %(amount)s円・収入分位 %(bracket)s）。",
            year=label,
            amount=f"{saved.computed.seirei_getsushu:,}",
            bracket=saved.computed.bracket,
        )
    else:
        message = _("%(year)sの収入申告を保存しました。", year=label)
    return inline.saved(household, SECTION, message)


# --- views ------------------------------------------------------------------------------------------


@bp.route("/<int:household_id>/income/new", methods=["GET", "POST"])
def new(household_id: int):
    """Enter the declaration of a fiscal year not entered yet (default: the latest year possible)."""
    household = inline.household_or_404(household_id, section=SECTION)
    if request.method == "POST":
        form = NewDeclarationForm()
        # Every year of the range is accepted here: a year someone entered in the meantime is a
        # conflict (409 with both versions), not an invalid choice.
        form.fiscal_year.choices = _fiscal_year_choices(set())
        year = _int_or_none(form.fiscal_year.data)
        if year is None or str(year) not in {choice.value for choice in form.fiscal_year.choices}:
            year = declarations.current_fiscal_year()  # the form is invalid; the members of today
        return _handle(household, declarations.load(household, year), form, new=True)
    choices = _fiscal_year_choices(_existing_years(household.id))
    if not choices:
        return inline.form_response(
            "staff/household/_income_none.html",
            title=_title(None, True),
            household=household,
            section=SECTION,
        )
    year = int(choices[0].value)
    opened = declarations.load(household, year)
    form = NewDeclarationForm(
        formdata=None, data={**_form_data(opened), "fiscal_year": str(year), "version": 0}
    )
    form.fiscal_year.choices = choices
    return inline.form_response(
        TEMPLATE, title=_title(opened, True), **_context(household, opened, form, new=True)
    )


@bp.route("/<int:household_id>/income/<int:fiscal_year>/edit", methods=["GET", "POST"])
def edit(household_id: int, fiscal_year: int):
    """Enter or correct the declaration of a fiscal year (opened when not entered yet)."""
    household = inline.household_or_404(household_id, section=SECTION)
    opened = declarations.load(household, fiscal_year)
    if opened.declaration is None and not (
        OLDEST_FISCAL_YEAR <= fiscal_year <= declarations.latest_fiscal_year()
    ):
        abort(404)
    if request.method == "POST":
        return _handle(household, opened, DeclarationForm(), new=False)
    form = DeclarationForm(formdata=None, data={**_form_data(opened), "version": opened.version})
    return inline.form_response(
        TEMPLATE, title=_title(opened, False), **_context(household, opened, form, new=False)
    )


# --- display ----------------------------------------------------------------------------------------

MASTER_LABELS = {
    "salary_income_band": _l("給与所得の表"),
    "pension_deduction_band": _l("公的年金等控除の表"),
    "master_parameter": _l("控除額など"),
    "rent_base_band": _l("家賃算定基礎額の表"),
}


@bp.app_template_filter("declaration_steps")
def declaration_steps(text) -> list[str]:
    """The explanation of a declaration (a JSON list of steps) as a list; [] when there is none."""
    try:
        steps = json.loads(text) if text else []
    except (TypeError, ValueError):
        return []
    return [str(step) for step in steps] if isinstance(steps, list) else []


@bp.app_template_filter("declaration_masters")
def declaration_masters(text) -> list[tuple[str, str]]:
    """The masters a declaration was computed with, as (label, version) pairs."""
    try:
        used = json.loads(text) if text else {}
    except (TypeError, ValueError):
        return []
    if not isinstance(used, dict):
        return []
    return [
        (str(MASTER_LABELS.get(key, key)), _master_version(str(value))) for key, value in sorted(used.items())
    ]


def _master_version(text: str) -> str:
    """income_year_from=2025 → 2025年分から; valid_from=2009-04-01 / in force on 2026-04-01 → the date."""
    if match := re.fullmatch(r"income_year_from=(\d{4})", text):
        return _("%(year)s年分から", year=match.group(1))
    if match := re.fullmatch(r"(?:valid_from=|in force on )(\d{4}-\d{2}-\d{2})", text):
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            return text
        label = _("%(date)s から適用", date=wareki.to_wareki(day))
        return label if text.startswith("valid_from") else _("%(date)s 時点", date=wareki.to_wareki(day))
    return text
