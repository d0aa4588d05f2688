"""世帯の異動 (同居・転出・出生・死亡・承継・住替え・退去): one dated event per form.

Every event is a form that opens inline (htmx) in a slot of the household page, or as a page of its
own without JavaScript. Posting it answers:

- invalid input, or a rule refuses the change → 422 and the form with the message beside the field
  (the 同居承認's refusal also shows how the 政令月収 was computed);
- someone else's change came first (the unit was let meanwhile, a move-out's figures changed since the
  confirmation page) → 409 and the form (or the confirmation) again;
- registered → the sections that changed, re-rendered (the one holding the form swapped in place, the
  others out of band) with a toast; a 住替え or 退去 reloads the whole page (its header changes).
  Without JavaScript: a redirect (303) to the household page with a flash message.

退去 takes two steps: the form posts to a confirmation page showing the computed figures (日割り, 敷金
精算); its 確定 button posts them with a fingerprint, so nothing is committed on figures nobody saw.
The business rules and the transaction are in services/household_events.py.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DateInputField,
    KanaField,
    NameField,
    NoteField,
    TextField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models.housing import UNIT_STATUSES
from models.income import DISABILITY_LEVELS
from models.person import LEAVE_REASONS, RELATIONS, SEXES, Person
from services import audit, household_file
from services import household_events as events
from services.vault import keyring_for

bp = Blueprint("events", __name__, url_prefix="/household")

DATE_HINT = _l("西暦（2026-04-01）か和暦（令和8年4月1日）で入力。")
MAX_YEN = 99_999_999  # a yearly income or a repair bill above this is a typing error
AFTER_MOVE_OUT = tuple((code, label) for code, label in UNIT_STATUSES if code in events.UNIT_AFTER_MOVE_OUT)


# --- fields --------------------------------------------------------------------------------------------


class ChoiceField(SelectField):
    """A select whose value must be one of its options, refused in the user's language."""

    def __init__(self, label=None, validators=None, message=None, strict=True, **kwargs):
        super().__init__(label, validators, validate_choice=False, **kwargs)
        self.message = message
        self.strict = strict

    def pre_validate(self, form):
        if self.data in (None, "") or not self.strict:
            return
        if str(self.data) not in {str(choice[0]) for choice in self.iter_choices()}:
            raise ValidationError(str(self.message or _l("一覧から選んでください。")))


def no_my_number(form, field):
    """Free text never carries a My Number (the audit trail refuses one; SPEC §6)."""
    if isinstance(field.data, str) and audit.contains_my_number(field.data):
        raise ValidationError(_l("個人番号と思われる12桁の数字は入力できません。"))


def at_most(limit: int):
    """A yen amount no larger than limit (what the columns and the checks are for)."""

    def check(form, field):
        if isinstance(field.data, int) and field.data > limit:
            raise ValidationError(_l("%(max)s円以下で入力してください。", max=f"{limit:,}"))

    return check


def _yen(label, description=None):
    return YenInputField(label, [optional(), at_most(MAX_YEN)], description=description)


def _note(label=None, max_length=500):
    return NoteField(label or _l("備考"), [optional(), no_my_number], max_length=max_length)


def _date(label, description=DATE_HINT, validators=None):
    return DateInputField(label, validators or [required()], description=description)


def _people_choices(people, blank=True):
    options = [SelectChoice(str(p.id), f"{p.name}（{events.relation_label(p.relation)}）") for p in people]
    return ([SelectChoice("", _l("選択してください"))] if blank else []) + options


def _as_id(value) -> int | None:
    return (
        int(value)
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10
        else None
    )


# --- forms ---------------------------------------------------------------------------------------------


class _PersonForm(FlaskForm):
    """The person who joins or is born: 氏名, カナ, 生年月日, 性別, 続柄, 国籍."""

    name = NameField(
        _l("氏名"), [required(), no_my_number], max_length=100, description=_l("氏と名の間は全角スペース。")
    )
    name_kana = KanaField(_l("氏名カナ"), [required()], max_length=200)
    birth_date = _date(_l("生年月日"))
    sex = ChoiceField(_l("性別"), [required()], choices=code_choices(SEXES, blank=True))
    nationality = TextField(_l("国籍"), [optional(), no_my_number], max_length=40, default="日本")

    def new_member(self, **extra) -> events.NewMember:
        return events.NewMember(
            name=self.name.data,
            name_kana=self.name_kana.data,
            birth_date=self.birth_date.data,
            sex=self.sex.data,
            relation=self.relation.data,
            nationality=self.nationality.data or "日本",
            **extra,
        )


class JoinForm(_PersonForm):
    """同居承認: the new member and their yearly incomes (for the 政令月収 with them)."""

    event_date = _date(_l("同居開始日"))
    relation = ChoiceField(
        _l("続柄"),
        [required()],
        choices=code_choices([(c, label) for c, label in RELATIONS if c != "head"], blank=True),
    )
    salary_revenue = _yen(_l("給与収入（年額）"), _l("収入申告と同じ年の収入。ないときは空欄。"))
    pension_revenue = _yen(_l("公的年金等収入（年額）"))
    other_income = _yen(_l("その他の所得（年額）"))
    disability = ChoiceField(
        _l("障害者控除"), [required()], choices=code_choices(DISABILITY_LEVELS), default="none"
    )
    dependent = BooleanField(_l("扶養親族"))
    note = _note()

    def values(self) -> events.NewMember:
        return self.new_member(
            salary_revenue=self.salary_revenue.data or 0,
            pension_revenue=self.pension_revenue.data or 0,
            other_income=self.other_income.data or 0,
            disability=self.disability.data or "none",
            dependent=bool(self.dependent.data),
        )


class BirthForm(_PersonForm):
    """出生: the child, a member from the birth date."""

    relation = ChoiceField(
        _l("続柄"),
        [required()],
        choices=code_choices([(c, label) for c, label in RELATIONS if c in events.BIRTH_RELATIONS]),
    )
    note = _note()


class LeaveForm(FlaskForm):
    """転出: which member, when, why."""

    person = ChoiceField(_l("転出する世帯員"), [required(_l("世帯員を選んでください。"))])
    event_date = _date(_l("転出日"))
    leave_reason = ChoiceField(
        _l("異動理由"),
        [required()],
        choices=code_choices(
            [(c, label) for c, label in LEAVE_REASONS if c in events.OWN_LEAVE_REASONS], blank=True
        ),
    )
    note = _note()


class DeathForm(FlaskForm):
    """死亡: which member, the date of death."""

    person = ChoiceField(_l("亡くなった世帯員"), [required(_l("世帯員を選んでください。"))])
    event_date = _date(_l("死亡日"))
    note = _note()


class SuccessionForm(FlaskForm):
    """使用承継: the new 名義人."""

    person = ChoiceField(
        _l("新しい名義人"),
        [required(_l("世帯員を選んでください。"))],
        description=_l("配偶者、または同居1年以上の親族で使用承継申請を承認した方。"),
    )
    event_date = _date(_l("承継日"))
    approved = BooleanField(
        _l("使用承継申請を審査し、承認した（配偶者以外の親族のときに必要）"),
    )
    note = _note()


class TransferForm(FlaskForm):
    """住替え: the new unit (団地 → 空家), the two dates, the deposit, the old unit's state."""

    estate = ChoiceField(_l("住替え先の団地"), [required(_l("団地を選んでください。"))])
    unit = ChoiceField(
        _l("住替え先の住戸"),
        [required(_l("住戸を選んでください。"))],
        description=_l("空家の住戸だけが表示されます。"),
        # Not checked against the list: a unit let since the form opened gets the service's 409.
        strict=False,
    )
    move_out_date = _date(_l("元の住戸の退去日"))
    move_in_date = _date(_l("新しい住戸の入居日"))
    deposit = _yen(_l("敷金（新しい住戸）"), _l("空欄のときは現在の敷金を引き継ぎます。"))
    old_unit_status = ChoiceField(
        _l("元の住戸の状態"), [required()], choices=code_choices(AFTER_MOVE_OUT), default="repair"
    )
    note = _note()

    def validate_move_in_date(self, field):
        if field.data and self.move_out_date.data and field.data < self.move_out_date.data:
            raise ValidationError(_l("新しい住戸の入居日は元の住戸の退去日以降にしてください。"))


class MoveOutForm(FlaskForm):
    """退去: the last day, the repair cost, the unit's state after, the procedure's dates."""

    last_day = _date(_l("退去日（最終日）"), description=_l("住宅を使用した最後の日。西暦か和暦で入力。"))
    repair_cost = _yen(_l("修繕費（世帯の負担）"), _l("立会検査で決まった原状回復の費用。ないときは空欄。"))
    unit_status = ChoiceField(
        _l("退去後の住戸の状態"), [required()], choices=code_choices(AFTER_MOVE_OUT), default="repair"
    )
    keys_returned_on = DateInputField(_l("鍵の返却日"), [optional()])
    inspection_on = DateInputField(_l("立会検査日"), [optional()])
    repair_needs = _note(_l("修繕の必要箇所"), 1000)
    note = _note()
    digest = HiddenField()


# --- the flow every event shares -----------------------------------------------------------------------


def _household(household_id: int, section: str):
    return inline.household_or_404(household_id, section=section)


def _render_section(file, section: str, **extra) -> str:
    return render_template(
        "staff/household/_section.html",
        id=section,
        file=file,
        label=household_file.label,
        mask_account=household_file.mask_account,
        **extra,
    )


def _out_of_band(html: str, section: str) -> str:
    """A section marked to replace its namesake on the page (htmx out-of-band swap)."""
    opening = f'<section class="section file-section" id="{section}"'
    if opening not in html:
        return ""
    return html.replace(
        opening, f'<section hx-swap-oob="true" class="section file-section" id="{section}"', 1
    )


def _done(household, result: events.EventResult, section: str, others=(), reload: bool = False):
    """After an event: the sections that changed (htmx), a whole-page reload, or a redirect (no JS)."""
    target = url_for("staff.household.show", household_id=household.id) + f"#{section}"
    if inline.wants_fragment() and not reload and inline.on_household_page(household):
        file = household_file.load(household, keyring=keyring_for(current_app.config))
        parts = [_render_section(file, section, event_result=result)]
        parts += [_out_of_band(_render_section(file, other), other) for other in others]
        parts.append(
            render_template(
                "staff/household/_flags.html",
                oob=True,
                file=file,
                label=household_file.label,
                mask_account=household_file.mask_account,
            )
        )
        response = make_response("\n".join(parts))
        response.headers["HX-Retarget"] = f"#{section}"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = inline.toast_header(str(result.message))
        return response
    flash(str(result.message), "success")
    if result.summary is not None and result.explanation:
        flash(f"{result.summary}: " + " / ".join(result.explanation[-2:]), "info")
    for warning in result.warnings:
        flash(str(warning), "warning")
    if inline.wants_fragment():
        # A whole-page load from the top (the header changed; the flash messages are there). Without a
        # fragment: a URL differing from the page's only by its #fragment would not reload it.
        response = make_response("")
        response.headers["HX-Redirect"] = url_for("staff.household.show", household_id=household.id)
        return response
    return redirect(target, code=303)


def _event_form(household, form, *, template, title, section, run, others=(), reload=False, context=None):
    """GET: the form. POST: validate, run the event, answer 422 / 409 / the changed sections."""
    context = dict(context or {})
    context.update(form=form, household=household, section=section, title=title)
    if request.method == "POST":
        if not form.validate_on_submit():
            return inline.form_response(template, status=422, **context)
        try:
            result = run(form)
        except events.IncomeOverLimit as exc:
            inline.attach(form, exc)
            context["income_check"] = exc.check
            return inline.form_response(template, status=422, **context)
        except events.RuleViolation as exc:
            inline.attach(form, exc)
            return inline.form_response(template, status=422, **context)
        except events.EventConflict as exc:
            inline.attach(form, exc)
            return inline.form_response(template, status=409, **context)
        return _done(household, result, section, others, reload)
    return inline.form_response(template, **context)


def _members_for(household_id: int, *, exclude_head: bool = False):
    people = events.current_members(household_id)
    return [p for p in people if not (exclude_head and p.is_head)]


def _preselect(form, person_id: int | None, household_id: int) -> None:
    """A member chosen by the link (転出/死亡 of this member) when the form opens."""
    if person_id is None:
        return
    if Person.get_or_none((Person.id == person_id) & (Person.household == household_id)) is None:
        abort(404)  # another household's member named in the URL: not found, whatever the method
    if request.method == "GET":
        form.person.data = str(person_id)


# --- 同居承認 and 出生 -----------------------------------------------------------------------------------


@bp.route("/<int:household_id>/events/join", methods=["GET", "POST"])
def join(household_id: int):
    """同居承認: a new member, if the household stays within its income limit with their income."""
    household = _household(household_id, "members")
    form = JoinForm()

    def run(form):
        return events.join_member(
            household.id, form.values(), form.event_date.data, note=form.note.data, **audit_context()
        )

    return _event_form(
        household,
        form,
        template="staff/household/_event_join.html",
        title=_("同居承認"),
        section="members",
        run=run,
        others=("household", "history"),
    )


@bp.route("/<int:household_id>/events/birth", methods=["GET", "POST"])
def birth(household_id: int):
    """出生: a child becomes a member from the birth date."""
    household = _household(household_id, "members")
    form = BirthForm()

    def run(form):
        return events.register_birth(household.id, form.new_member(), note=form.note.data, **audit_context())

    return _event_form(
        household,
        form,
        template="staff/household/_event_birth.html",
        title=_("出生"),
        section="members",
        run=run,
        others=("household", "history"),
    )


# --- 転出 and 死亡 -------------------------------------------------------------------------------------


@bp.route("/<int:household_id>/events/leave", methods=["GET", "POST"], defaults={"person_id": None})
@bp.route("/<int:household_id>/events/leave/<int:person_id>", methods=["GET", "POST"])
def leave(household_id: int, person_id: int | None):
    """転出: a member (not the head) leaves the household."""
    household = _household(household_id, "members")
    form = LeaveForm()
    form.person.choices = _people_choices(_members_for(household.id))
    _preselect(form, person_id, household.id)

    def run(form):
        return events.member_leave(
            household.id,
            _as_id(form.person.data),
            form.event_date.data,
            form.leave_reason.data,
            note=form.note.data,
            **audit_context(),
        )

    return _event_form(
        household,
        form,
        template="staff/household/_event_leave.html",
        title=_("転出"),
        section="members",
        run=run,
        others=("household", "history"),
    )


@bp.route("/<int:household_id>/events/death", methods=["GET", "POST"], defaults={"person_id": None})
@bp.route("/<int:household_id>/events/death/<int:person_id>", methods=["GET", "POST"])
def death(household_id: int, person_id: int | None):
    """死亡: a member's death ends their membership (the head's: the page then asks for 使用承継)."""
    household = _household(household_id, "members")
    form = DeathForm()
    form.person.choices = _people_choices(_members_for(household.id))
    _preselect(form, person_id, household.id)

    def run(form):
        return events.member_death(
            household.id,
            _as_id(form.person.data),
            form.event_date.data,
            note=form.note.data,
            **audit_context(),
        )

    return _event_form(
        household,
        form,
        template="staff/household/_event_death.html",
        title=_("死亡"),
        section="members",
        run=run,
        others=("household", "history"),
    )


# --- 使用承継 -----------------------------------------------------------------------------------------


@bp.route("/<int:household_id>/events/succession", methods=["GET", "POST"])
def succession(household_id: int):
    """使用承継: a current member becomes the 名義人."""
    household = _household(household_id, "members")
    form = SuccessionForm()
    form.person.choices = _people_choices(_members_for(household.id, exclude_head=True))

    def run(form):
        return events.change_head(
            household.id,
            _as_id(form.person.data),
            form.event_date.data,
            approved=bool(form.approved.data),
            note=form.note.data,
            **audit_context(),
        )

    return _event_form(
        household,
        form,
        template="staff/household/_event_succession.html",
        title=_("使用承継（名義人の変更）"),
        section="members",
        run=run,
        reload=True,
    )


# --- 住替え -------------------------------------------------------------------------------------------


def _transfer_choices(form) -> None:
    form.estate.choices = [SelectChoice("", _l("選択してください"))] + [
        SelectChoice(str(e.id), f"{e.name}（{e.code}）") for e in events.estates_with_vacancies()
    ]
    units = events.vacant_units(_as_id(form.estate.data))
    form.unit.choices = [
        SelectChoice("", _l("選択してください") if units else _l("先に団地を選んでください"))
    ] + [SelectChoice(str(u.id), _unit_label(u)) for u in units]


def _unit_label(unit) -> str:
    layout = f"・{unit.layout}" if unit.layout else ""
    return f"{unit.building.number}号棟 {unit.room_number}号室（{unit.housing_code}{layout}・{unit.floor_area}㎡）"


@bp.route("/<int:household_id>/events/transfer", methods=["GET", "POST"])
def transfer(household_id: int):
    """住替え: to a vacant unit; 当初入居日 is kept."""
    household = _household(household_id, "household")
    form = TransferForm()
    _transfer_choices(form)
    context = {"current": events.active_tenancy(household.id)}
    if request.method == "POST" and request.form.get("step") == "units":
        # Without JavaScript: 住戸を表示 posts the form to list the units of the chosen estate.
        form.unit.data = ""
        return inline.form_response(
            "staff/household/_event_transfer.html",
            form=form,
            household=household,
            section="household",
            title=_("住替え"),
            **context,
        )

    def run(form):
        try:
            return events.transfer(
                household.id,
                _as_id(form.unit.data),
                form.move_out_date.data,
                form.move_in_date.data,
                deposit=form.deposit.data,
                old_unit_status=form.old_unit_status.data,
                note=form.note.data,
                **audit_context(),
            )
        except events.EventConflict:
            _transfer_choices(form)  # the unit just taken is no longer offered
            raise

    return _event_form(
        household,
        form,
        template="staff/household/_event_transfer.html",
        title=_("住替え"),
        section="household",
        run=run,
        reload=True,
        context=context,
    )


@bp.get("/<int:household_id>/events/transfer/units")
def transfer_units(household_id: int):
    """The vacant units of one estate (the unit select, for htmx when the estate changes)."""
    household = inline.household_or_404(household_id, section="household", change=True)
    form = TransferForm(formdata=None)
    form.estate.data = request.args.get("estate", "")
    _transfer_choices(form)
    return render_template("staff/household/_event_units.html", form=form, household=household)


# --- 退去 ---------------------------------------------------------------------------------------------


def _move_out_values(form) -> dict:
    return {
        "repair_cost": form.repair_cost.data or 0,
        "unit_status": form.unit_status.data,
        "keys_returned_on": form.keys_returned_on.data,
        "inspection_on": form.inspection_on.data,
        "repair_needs": form.repair_needs.data,
        "note": form.note.data,
    }


def _preview(household, form, *, status: int = 200, plan=None):
    """The confirmation page: every figure the move-out will write, and the 確定 button."""
    if plan is None:
        plan = events.plan_move_out(household.id, form.last_day.data, form.repair_cost.data or 0)
    form.digest.data = plan.digest
    return inline.form_response(
        "staff/household/_event_move_out_preview.html",
        status=status,
        form=form,
        household=household,
        section="household",
        title=_("退去の確認"),
        plan=plan,
        unit_status_label=dict(AFTER_MOVE_OUT).get(form.unit_status.data, ""),
    )


def _move_out_form(household, form, status: int = 200):
    return inline.form_response(
        "staff/household/_event_move_out.html",
        status=status,
        form=form,
        household=household,
        section="household",
        title=_("退去"),
    )


@bp.route("/<int:household_id>/events/move-out", methods=["GET", "POST"])
def move_out(household_id: int):
    """退去, step 1: the form; posted, the confirmation page with the computed figures (nothing saved)."""
    household = _household(household_id, "household")
    form = MoveOutForm()
    if request.method == "GET":
        return _move_out_form(household, form)
    if not form.validate_on_submit():
        return _move_out_form(household, form, 422)
    if request.form.get("step") == "edit":
        return _move_out_form(household, form)
    try:
        return _preview(household, form)
    except events.RuleViolation as exc:
        inline.attach(form, exc)
        return _move_out_form(household, form, 422)


@bp.post("/<int:household_id>/events/move-out/confirm")
def move_out_confirm(household_id: int):
    """退去, step 2: commit what the confirmation page showed (409 when the figures changed since)."""
    household = _household(household_id, "household")
    form = MoveOutForm()
    if not form.validate_on_submit():
        return _move_out_form(household, form, 422)
    try:
        result, _plan = events.move_out(
            household.id,
            form.last_day.data,
            expected_digest=form.digest.data or "",
            **_move_out_values(form),
            **audit_context(),
        )
    except events.EventConflict as exc:
        form.form_errors.append(str(exc.message))
        try:
            return _preview(household, form, status=409)
        except events.RuleViolation as refusal:
            inline.attach(form, refusal)
            return _move_out_form(household, form, 422)
    except events.RuleViolation as exc:
        inline.attach(form, exc)
        return _move_out_form(household, form, 422)
    return _done(household, result, "household", reload=True)
