"""家賃試算: `flask rent quote` (JSON in, JSON out) and the staff rent calculator (/staff/rent/quote).

Both answer "what would this household's rent be?" from facts typed in, with services.rent_quote and
the masters in force for the fiscal year; nothing is stored.
"""

from __future__ import annotations

import json
import sys

import click

from extensions import db
from services import rent_quote

QUOTE_HELP = """家賃試算: a household as JSON on stdin → the rent as JSON on stdout.

\b
salary_income and pension_income are the REVENUES (給与収入 = the 支払金額 of the 源泉徴収票,
公的年金等収入); 給与所得 and 公的年金等の雑所得 are derived with the tables of income_year
(SPEC §4.1; E1: 3500000 → 給与所得 2,370,000). other_income is already a 所得.
income_year must be fiscal_year − 1. location_coefficient (0.7-1.6) replaces the city's value
for this quote. Every field of the contract is required except tenancy.years_over_limit_before;
unknown fields are refused (a misspelt field would otherwise be ignored silently). Amounts are
JSON integers; floor_area and the coefficients are numbers.

\b
Output: {"seirei_getsushu", "bracket", "base_amount", "standard_rent", "status", "rent",
"deposit", "eligible", "explanation"}; eligible = 政令月収 ≤ the 入居収入基準 of the category.
Invalid input: exit code 2 and one line on stderr, "<field path>: <message>".
"""


@click.command("quote", help=QUOTE_HELP)
def quote_command():
    text = sys.stdin.read()
    try:
        quote = rent_quote.parse_json(text)
        from services.masters import MasterMissing

        with db.connection_context():
            try:
                result = rent_quote.compute(quote)
            except MasterMissing as exc:
                raise rent_quote.QuoteInvalid(
                    [("fiscal_year", f"その年度のマスタがありません({exc})")]
                ) from None
    except rent_quote.QuoteInvalid as exc:
        path, message = exc.problems[0]
        click.echo(f"{path}: {message}", err=True)
        sys.exit(2)
    except ValueError as exc:  # a range of the law the parser did not foresee: still the input's fault
        click.echo(f"(入力): {exc}", err=True)
        sys.exit(2)
    click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))


# --- the staff rent calculator ----------------------------------------------------------------------
#
#     /staff/rent/quote   GET: the empty form; POST: the figures (htmx: the form and the result panel
#                         swap in place; 422 with the messages beside the fields; without JavaScript
#                         the whole page). Adding or removing a member's or a remote dependent's row
#                         posts the form back (a submit button named "action") and computes nothing.
#
# Nothing is stored and the household is not identified (no name is asked). An audit entry is written
# only when a real unit is looked up by its 住宅コード (the 近傍同種家賃 of a unit that may be occupied is
# read from the file); typed-in facts reference nobody and leave no trace.

from flask import Blueprint, render_template, request  # noqa: E402
from flask_babel import gettext as _  # noqa: E402
from flask_babel import lazy_gettext as _l  # noqa: E402
from flask_wtf import FlaskForm  # noqa: E402
from wtforms import BooleanField, FieldList, Form, FormField, RadioField, SelectChoice, SelectField  # noqa: E402

from blueprints.context import audit_context  # noqa: E402
from blueprints.staff.fields import (  # noqa: E402
    DateInputField,
    DecimalInputField,
    SmallIntegerField,
    TextField,
    YenInputField,
    count,
    optional,
    required,
)
from blueprints.staff.inline import wants_fragment  # noqa: E402
from rules import income as income_rules  # noqa: E402
from rules import rent as rent_rules  # noqa: E402
from rules import wareki  # noqa: E402

bp = Blueprint("rent_quote", __name__, url_prefix="/rent")

MAX_MEMBERS = 10
MAX_REMOTE = 5
CHOOSE = _l("一覧から選んでください。")
RELATIONS = (
    ("本人", _l("本人（名義人）")),
    ("配偶者", _l("配偶者")),
    ("子", _l("子")),
    ("父母", _l("父母")),
    ("その他", _l("その他")),
)
DISABILITIES = (("none", _l("なし")), ("ordinary", _l("障害者")), ("special", _l("特別障害者")))
CATEGORIES = (("general", _l("一般")), ("special", _l("特認（裁量階層）")))
STRUCTURES = (
    ("fire_resistant", _l("耐火構造")),
    ("quasi_fire_resistant", _l("準耐火構造")),
    ("wooden", _l("木造")),
)
UNIT_SOURCES = (("facts", _l("住戸の条件を入力")), ("code", _l("住宅コードで指定")))
STATUS_LABELS = {
    "normal": _l("通常"),
    "over_income": _l("収入超過者"),
    "high_income": _l("高額所得者"),
    "undeclared": _l("収入未申告（近傍同種家賃）"),
}
DATE_HINT = _l("西暦（1985-05-01）か和暦（昭和60年5月1日・S60.5.1）で入力。")


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class MemberRow(Form):
    """One member of the household (the first is the 名義人): revenues and the deduction flags."""

    relation = SelectField(_l("続柄"), choices=_choices(RELATIONS), invalid_choice_message=CHOOSE)
    birth_date = DateInputField(
        _l("生年月日"), [required(_l("生年月日を入力してください。"))], description=DATE_HINT
    )
    salary_revenue = YenInputField(_l("給与収入"), [optional()], description=_l("源泉徴収票の「支払金額」。"))
    pension_revenue = YenInputField(_l("公的年金等収入"), [optional()])
    other_income = YenInputField(_l("その他の所得"), [optional()], description=_l("収入から経費を引いた額。"))
    disability = SelectField(_l("障害者控除"), choices=_choices(DISABILITIES), invalid_choice_message=CHOOSE)
    widow = BooleanField(_l("寡婦"))
    single_parent = BooleanField(_l("ひとり親"))
    dependent = BooleanField(_l("扶養親族"))


class RemoteRow(Form):
    """A dependent living elsewhere; a row without a birth date is ignored."""

    birth_date = DateInputField(_l("生年月日"), [optional()], description=DATE_HINT)
    disability = SelectField(_l("障害者控除"), choices=_choices(DISABILITIES), invalid_choice_message=CHOOSE)


class QuoteForm(FlaskForm):
    """The household, the unit and the tenancy of a quote."""

    fiscal_year = SelectField(_l("年度"), invalid_choice_message=CHOOSE)
    household_category = SelectField(
        _l("世帯区分"), choices=_choices(CATEGORIES), invalid_choice_message=CHOOSE
    )
    members = FieldList(FormField(MemberRow), min_entries=1, max_entries=MAX_MEMBERS)
    remote = FieldList(FormField(RemoteRow), max_entries=MAX_REMOTE)
    unit_source = RadioField(_l("住戸の指定"), choices=_choices(UNIT_SOURCES), default="facts")
    housing_code = TextField(_l("住宅コード"), [optional()], max_length=20)
    floor_area = DecimalInputField(
        _l("床面積（㎡）"), [optional()], places=2, minimum=0, maximum=999, exclusive_minimum=True
    )
    structure = SelectField(_l("構造"), choices=_choices(STRUCTURES), invalid_choice_message=CHOOSE)
    age_years = SmallIntegerField(_l("経過年数"), [optional(), count(0, 200)])
    convenience_coefficient = DecimalInputField(
        _l("利便性係数"), [optional()], places=4, minimum="0.5", maximum="1.3"
    )
    market_rent = YenInputField(_l("近傍同種家賃（月額）"), [optional()])
    location_coefficient = DecimalInputField(
        _l("立地係数"),
        [optional()],
        places=4,
        minimum="0.7",
        maximum="1.6",
        description=_l("空欄のときは市の値（マスタ）を使います。"),
    )
    years_resided = SmallIntegerField(
        _l("入居年数"), [optional(), count(0, 200)], description=_l("新しく入居する世帯は0。")
    )
    previous_1 = YenInputField(_l("前年度の政令月収"), [optional()])
    previous_2 = YenInputField(_l("前々年度の政令月収"), [optional()])
    years_over_before = SmallIntegerField(
        _l("これまでの収入超過年数"),
        [optional(), count(0, 200)],
        description=_l("空欄のときは前年度・前々年度の政令月収から数えます。"),
    )
    declared = BooleanField(_l("収入の申告がある"), default=True)


def _fiscal_years() -> list[SelectChoice]:
    from services.declarations import current_fiscal_year

    current = current_fiscal_year()
    return [
        SelectChoice(
            str(year),
            _("%(label)s（%(year)s年分の収入）", label=wareki.fiscal_year_label(year), year=year - 1),
        )
        for year in range(current + 1, current - 5, -1)
    ]


def _row_action() -> tuple[str, str, int | None] | None:
    """The add/remove row button pressed: ("add"|"remove", "members"|"remote", index)."""
    action = request.form.get("action", "")
    for rows in ("members", "remote"):
        if action == f"add_{rows}":
            return "add", rows, None
        prefix = f"remove_{rows}:"
        if action.startswith(prefix) and action[len(prefix) :].isdigit():
            return "remove", rows, int(action[len(prefix) :])
    return None


def _error(field, message) -> None:
    field.errors = [*field.errors, str(message)]


def _unit_facts(form: QuoteForm, fiscal_year: int):
    """The UnitFacts of the quote (from the 住宅コード or typed), and the unit looked up (or None)."""
    if form.unit_source.data == "code":
        from models.housing import Unit
        from services.masters import unit_facts

        code = (form.housing_code.data or "").strip()
        if not code:
            _error(form.housing_code, _l("住宅コードを入力してください。"))
            return None, None
        unit = Unit.get_or_none(Unit.housing_code == code)
        if unit is None:
            _error(form.housing_code, _l("この住宅コードの住戸はありません。"))
            return None, None
        facts = unit_facts(unit, fiscal_year)
        if facts is None:
            _error(
                form.housing_code,
                _l(
                    "この住戸の%(year)sの近傍同種家賃・利便性係数が入力されていません。",
                    year=wareki.fiscal_year_label(fiscal_year),
                ),
            )
            return None, unit
        return facts, unit
    missing = False
    for field in (form.floor_area, form.age_years, form.convenience_coefficient, form.market_rent):
        if field.data is None and not field.errors:
            _error(field, _l("入力してください。"))
            missing = True
    if missing or form.errors:
        return None, None
    return (
        rent_rules.UnitFacts(
            floor_area=form.floor_area.data,
            structure=form.structure.data,
            age_years=form.age_years.data,
            convenience_coefficient=form.convenience_coefficient.data,
            market_rent=form.market_rent.data,
        ),
        None,
    )


def _quote(form: QuoteForm):
    """The Quote the (valid) form holds, or None with the messages attached to the fields."""
    members = []
    for index, row in enumerate(form.members.entries):
        f = row.form
        if index == 0 and f.relation.data != "本人":
            _error(f.relation, _l("最初の世帯員は名義人（本人）です。"))
        if index > 0 and f.relation.data == "本人":
            _error(f.relation, _l("本人は最初の世帯員だけです。"))
        if f.widow.data and f.single_parent.data:
            _error(f.single_parent, _l("寡婦とひとり親はどちらか一方です。"))
        members.append(
            income_rules.Member(
                relation=f.relation.data,
                birth_date=f.birth_date.data,
                salary_revenue=f.salary_revenue.data or 0,
                pension_revenue=f.pension_revenue.data or 0,
                other_income=f.other_income.data or 0,
                disability=f.disability.data,
                widow=bool(f.widow.data),
                single_parent=bool(f.single_parent.data),
                dependent=bool(f.dependent.data),
            )
        )
    remote = [
        income_rules.RemoteDependent(row.form.birth_date.data, row.form.disability.data)
        for row in form.remote.entries
        if row.form.birth_date.data is not None
    ]
    fiscal_year = int(form.fiscal_year.data)
    facts, unit = _unit_facts(form, fiscal_year)
    if facts is None or form.errors:
        return None, unit
    previous = tuple(v for v in (form.previous_1.data, form.previous_2.data) if v is not None)
    if form.previous_2.data is not None and form.previous_1.data is None:
        _error(form.previous_1, _l("前々年度を入力するときは前年度も入力してください。"))
        return None, unit
    return (
        rent_quote.Quote(
            fiscal_year=fiscal_year,
            income_year=fiscal_year - 1,
            category=form.household_category.data,
            members=tuple(members),
            remote_dependents=tuple(remote),
            unit=facts,
            location_coefficient=form.location_coefficient.data,
            years_resided=form.years_resided.data or 0,
            previous=previous,
            years_over_before=form.years_over_before.data,
            declared=bool(form.declared.data),
        ),
        unit,
    )


FIELD_OF_PATH = {
    "unit.convenience_coefficient": "convenience_coefficient",
    "location_coefficient": "location_coefficient",
}


def _render(form: QuoteForm, status: int = 200, **context):
    template = "staff/rent_quote/_quote.html" if wants_fragment() else "staff/rent_quote/quote.html"
    context.setdefault("result", None)
    return (
        render_template(
            template,
            form=form,
            max_members=MAX_MEMBERS,
            max_remote=MAX_REMOTE,
            relations=dict(RELATIONS),
            statuses=STATUS_LABELS,
            **context,
        ),
        status,
    )


@bp.route("/quote", methods=["GET", "POST"])
def quote():
    """家賃試算: the rent a household would pay for a unit (nothing is stored)."""
    from services import audit
    from services.masters import MasterMissing

    if request.method == "GET":
        form = QuoteForm(formdata=None)
        form.fiscal_year.choices = _fiscal_years()
        form.fiscal_year.data = form.fiscal_year.choices[1].value  # this fiscal year
        form.members[0].form.relation.data = "本人"
        return _render(form)
    form = QuoteForm()
    form.fiscal_year.choices = _fiscal_years()
    pressed = _row_action()
    if pressed is not None:
        kind, rows, index = pressed
        entries = form.members if rows == "members" else form.remote
        limit = MAX_MEMBERS if rows == "members" else MAX_REMOTE
        if kind == "add" and len(entries.entries) < limit:
            entries.append_entry({"relation": "その他", "disability": "none"} if rows == "members" else {})
        elif (
            kind == "remove"
            and index is not None
            and index < len(entries.entries)
            and (rows == "remote" or index > 0)  # the 名義人's row stays
        ):
            entries.entries.pop(index)
        return _render(form)
    if not form.validate():
        return _render(form, 422)
    quoted, unit = _quote(form)
    if quoted is None:
        return _render(form, 422)
    try:
        result = rent_quote.compute(quoted)
    except rent_quote.QuoteInvalid as exc:
        for path, message in exc.problems:
            name = FIELD_OF_PATH.get(path)
            if name and form.unit_source.data == "code" and name == "convenience_coefficient":
                name = "housing_code"
            if name:
                _error(form[name], message)
            else:
                form.form_errors.append(message)
        return _render(form, 422)
    except MasterMissing:
        _error(form.fiscal_year, _l("この年度のマスタ（家賃算定基礎額など）がありません。"))
        return _render(form, 422)
    except ValueError as exc:
        form.form_errors.append(str(exc))
        return _render(form, 422)
    if unit is not None:
        audit.record(
            "rent.quote",
            target_table="unit",
            target_ids=[unit.id],
            fields=["近傍同種家賃", "利便性係数"],
            purpose="家賃試算",
            **audit_context(),
        )
    return _render(form, result=result, quoted=quoted, unit=unit)
