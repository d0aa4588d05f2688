"""The 公社's changes to the tenant file, each waiting for the city's approval (SPEC §5, maker-checker).

    /portal/changes/                                     the office's submissions: 承認待ち / 承認 / 差戻し
    /portal/changes/<id>                                 one submission: the diff, the comment, 取下げ
    /portal/changes/<id>/resubmit                        a returned one corrected and submitted again
    /portal/changes/household/<hid>                      the household's parking, bank transfers, income
    /portal/changes/household/<hid>/vehicles/<vid>/…     車検 (one field), change, 登録抹消
    /portal/changes/household/<hid>/contracts/…          a new contract, a new vehicle on a contract
    /portal/changes/household/<hid>/transfers/new        口座振替 from the paper form
    /portal/changes/household/<hid>/income/new           収入申告 keyed in from paper, My Numbers write-only

Every query goes through blueprints/portal/scoped.py (404 outside the office's estates). Nothing here
writes to the file: each save is a proposal (services.pending_changes), and the row then shows
承認待ち with the proposed value beside the current one. The forms are the staff screens' own
(blueprints/staff/parking.py, transfers.py, income.py, members.py), imported, so the same input is
accepted and refused with the same messages. The parking edits are inline with htmx (the form comes
into the row or the section; 422 beside the fields; the section again with a toast); without
JavaScript the same URLs are pages and a proposal redirects (303) with a flash message.

What the portal never shows: a My Number (the input is always empty; a member with a number held for
approval is said to have one entered, nothing more), a full account number after the confirmation
step (masked ****567), the incomes of a declaration once the city has it (only its status).
"""

from __future__ import annotations

import datetime as dt
import re

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
from flask_login import current_user
from wtforms import BooleanField, FieldList, FormField, HiddenField, SelectChoice, SelectField

from blueprints.context import audit_context
from blueprints.portal import scoped
from blueprints.staff import income as staff_income
from blueprints.staff import inline
from blueprints.staff import transfers as staff_transfers
from blueprints.staff.fields import DateInputField, required
from blueprints.staff.members import MyNumberInputField
from blueprints.staff.parking import (
    ContractForm,
    InspectionForm,
    VehicleEditForm,
    VehicleEndForm,
    VehicleForm,
)
from models import (
    BankTransfer,
    Household,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    PendingChange,
    Person,
    Vehicle,
)
from models.base import ConflictError
from models.income import DECLARATION_STATUSES
from models.person import RELATIONS
from models.tenancy import ACCOUNT_TYPES, TRANSFER_PURPOSES
from rules import wareki
from rules.filters import today_tokyo
from services import audit, bank_transfers, banks, declarations, portal_file
from services import pending_changes as service
from services.editing import RuleViolation
from services.household_file import label, mask_account
from services.vault import keyring_for

bp = Blueprint("changes", __name__, url_prefix="/changes")

SECTIONS = ("parking", "transfers", "income")
SECTION_NAMES = [
    "駐車場",
    "口座振替登録",
    "収入申告の状況",
    "承認待ちの入力",
]  # what the page's audit entry names
LIST_ROWS = 100
PROPOSED = _l("入力を提出しました。市の承認後に世帯の記録に反映されます。")


# --- forms: the staff screens' own, with what the portal leaves out -------------------------------------


class PortalContractForm(ContractForm):
    """A new contract as the agent enters it: no second space (an officer's approval at the city)."""

    approve_extra = None
    approval_reason = None


class PortalMemberIncomeForm(staff_income.MemberIncomeForm):
    """A member's row of the paper declaration, and the member's My Number (write-only, optional)."""

    my_number = MyNumberInputField(
        _l("個人番号（12桁）"),
        description=_l("申告書に記載があれば入力。入力した番号は画面に再表示しません（市の承認後に登録）。"),
    )


class PortalDeclarationForm(staff_income.DeclarationForm):
    """A declaration keyed in from paper: always 提出済 and 本人申告 (the other statuses are the city's)."""

    version = HiddenField(default="0")  # unused: the declaration's version is taken when the draft is made
    status = HiddenField(default="submitted")
    source = HiddenField(default="self")
    fiscal_year = SelectField(
        _l("年度"), validators=[required(_l("選んでください。"))], invalid_choice_message=staff_income.CHOOSE
    )
    submitted_on = DateInputField(
        _l("提出日"),
        [required(_l("申告書を受け付けた日を入力してください。"))],
        description=_l("申告書を受け付けた日。西暦（2026-07-15）か和暦（令和8年7月15日・R8.7.15）で入力。"),
    )
    members = FieldList(FormField(PortalMemberIncomeForm), max_entries=40)
    confirmed = BooleanField(_l("個人番号を本人確認書類（通知カード・マイナンバーカード等）と照合しました"))

    def numbers(self) -> dict[int, str]:
        """{person id: number} typed (already validated by the field: 12 digits, check digit)."""
        typed = {}
        for row in self.members.entries:
            pid = staff_income._posted_person(row)
            if pid is not None and row.form.my_number.data:
                typed[pid] = row.form.my_number.data
        return typed


# --- loading the household's entry page ----------------------------------------------------------------


def _household(household_id: int, *, change: bool | None = None) -> Household:
    if change is None:
        change = request.method != "GET"
    return scoped.household_or_404(household_id, fields=SECTION_NAMES, change=change)


def _contracts(household_id: int):
    """The household's contracts (space, lot, 区画使用者) with their vehicles, active first."""
    user_person = Person.alias("parking_user")
    contracts = list(
        ParkingContract.select(ParkingContract, ParkingSpace, ParkingLot, user_person.id, user_person.name)
        .join(ParkingSpace)
        .join(ParkingLot)
        .switch(ParkingContract)
        .join(user_person, on=(ParkingContract.user_person == user_person.id), attr="user_person")
        .where(ParkingContract.household == household_id)
        .order_by(ParkingContract.status, ParkingContract.start_date.desc())
    )
    vehicles: dict[int, list[Vehicle]] = {c.id: [] for c in contracts}
    for vehicle in (
        Vehicle.select()
        .join(ParkingContract)
        .where(ParkingContract.household == household_id)
        .order_by(Vehicle.valid_from.desc(), Vehicle.id)
    ):
        vehicles[vehicle.contract_id].append(vehicle)
    return [(c, vehicles[c.id]) for c in contracts]


def _transfers(household_id: int) -> list[dict]:
    rows = []
    for t in (
        BankTransfer.select()
        .where((BankTransfer.household == household_id) & BankTransfer.valid_to.is_null())
        .order_by(BankTransfer.purpose.desc())
    ):
        bank, branch = banks.names(t.bank_code, t.branch_code)
        rows.append(
            {
                "purpose": dict(TRANSFER_PURPOSES).get(t.purpose, t.purpose),
                "bank": f"{bank.name}（{t.bank_code}）" if bank else t.bank_code,
                "branch": f"{branch.name}（{t.branch_code}）" if branch else t.branch_code,
                "account_type": dict(ACCOUNT_TYPES).get(t.account_type, t.account_type),
                "account_number": mask_account(t.account_number),  # never the full number on the portal
                "valid_from": t.valid_from,
            }
        )
    return rows


def _years(household: Household) -> list[dict]:
    """The fiscal years a declaration can be keyed in for, newest first, with their status only."""
    latest = declarations.latest_fiscal_year()
    stored = service.declared_years(household.id)
    statuses = dict(DECLARATION_STATUSES)
    rows = []
    for year in range(latest, latest - staff_income.NEW_YEARS, -1):
        status = stored.get(year)
        rows.append(
            {
                "year": year,
                "status": statuses.get(status, "") if status else _("未入力"),
                "open": status is None or status not in declarations.FIGURE_STATUSES,
            }
        )
    return rows


def _page_context(household: Household) -> dict:
    tenancies = portal_file.tenancies_of(household.id)
    current = next((t for t in tenancies if t.status == "active"), None)
    members, _former = portal_file.members_of(household.id, today_tokyo())
    head = next((m.person for m in members if m.person.is_head), None)
    pending = service.open_by_slot(household.id)
    return {
        "household": portal_file.household_row(household.id),
        "tenancy": current,
        "head": head,
        "contracts": _contracts(household.id),
        "transfers": _transfers(household.id),
        "years": _years(household),
        "pending": pending,
        "open_changes": sorted(pending.values(), key=lambda c: (c.submitted_at, c.id)),
        "described": {c.id: service.describe(c, portal=True, viewer=current_user) for c in pending.values()},
        "today": today_tokyo(),
        "label": label,
        "kind_label": service.kind_label,
    }


def _section_html(household: Household, section: str) -> str:
    return render_template(f"portal/changes/_section_{section}.html", **_page_context(household))


# --- answers ----------------------------------------------------------------------------------------------


def _form_response(template: str, *, household, status: int = 200, title: str = "", **context):
    """The form fragment for htmx, or a whole portal page holding it."""
    context.setdefault("household", household)
    if inline.wants_fragment():
        return render_template(template, **context), status
    return (
        render_template("portal/changes/_form_page.html", fragment=template, title=title, **context),
        status,
    )


def _proposed(household: Household, section: str, change: PendingChange | None = None):
    """After a proposal: the section again with a toast (htmx) or a redirect to it (303)."""
    message = str(PROPOSED)
    if inline.wants_fragment() and change is None:
        response = make_response(_section_html(household, section))
        response.headers["HX-Retarget"] = f"#{section}"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = inline.toast_header(message)
        return response
    flash(message, "success")
    if change is not None:
        target = url_for(".show", change_id=change.id)
    else:
        target = url_for(".household", household_id=household.id) + f"#{section}"
    if inline.wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, code=303)


def _change_version() -> int | None:
    raw = request.form.get("change_version", "")
    return int(raw) if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _submit(
    draft_of, form, *, household, section, template, title, resubmitting=None, numbers=None, context=None
):
    """POST of an entry form: validate, build the draft (the file's rules), propose or resubmit it."""
    context = dict(context or {})
    context.update(form=form, section=section, resubmitting=resubmitting)

    def again(status: int):
        return _form_response(template, household=household, status=status, title=title, **context)

    if not form.validate_on_submit():
        return again(422)
    try:
        draft = draft_of()
        office = scoped.office_or_403()
        arguments = {
            "my_numbers": numbers() if numbers else None,
            "checked_against_document": bool(getattr(form, "confirmed", None) and form.confirmed.data),
            "keyring": keyring_for(current_app.config),
            **audit_context(),
        }
        if resubmitting is not None:
            change = service.resubmit(
                resubmitting, draft, expected_version=_change_version() or -1, **arguments
            )
        else:
            change = service.propose(draft, office=office, **arguments)
    except service.NotAllowed as exc:
        form.form_errors.append(str(exc.message))
        return again(403)
    except ConflictError as exc:
        if isinstance(exc.instance, PendingChange):
            form.form_errors.append(
                _(
                    "この入力は、市が先に処理したか、ほかの画面で変更されました。入力の状況を確認してください。"
                )
            )
        else:  # the record itself was saved since the form was opened: show it again before proposing
            current = type(exc.instance).get_by_id(exc.instance.id)
            context["conflict"] = inline.rebase(form, current)
        return again(409)
    except declarations.MembersChanged as exc:
        form.form_errors.append(str(exc.message))
        return again(409)
    except declarations.DeclarationInvalid as exc:
        staff_income._attach(form, exc.problems, context.get("remote_rows", []))
        return again(422)
    except RuleViolation as exc:
        inline.attach(form, exc)
        return again(422)
    return _proposed(household, section, change if resubmitting is not None else None)


# --- the office's submissions -------------------------------------------------------------------------------


@bp.get("/")
def index():
    """The office's changes: open ones (承認待ち, 差戻し) first, then the decided ones, newest first."""
    state = request.args.get("state", "open")
    state = state if state in ("open", "approved", "withdrawn", "all") else "open"
    head = Person.alias("head")
    query = scoped.pending_changes().order_by(PendingChange.submitted_at.desc(), PendingChange.id.desc())
    if state == "open":
        query = query.where(PendingChange.state.in_(service.OPEN_STATES))
    elif state != "all":
        query = query.where(PendingChange.state == state)
    rows = list(query.limit(LIST_ROWS))
    households = {
        h.id: h
        for h in Household.select(Household.id, Household.household_no).where(
            Household.id.in_([r.household_id for r in rows] or [0])
        )
    }
    heads = {
        p.household_id: p.name
        for p in head.select(head.household, head.name).where(
            head.household.in_(list(households) or [0]) & head.is_head & head.member_to.is_null()
        )
    }
    returned = scoped.pending_changes().where(PendingChange.state == "returned").count()
    # the list names households (number and head): one entry naming them
    audit.record(
        "portal.changes.list",
        target_table="household",
        target_ids=sorted(households),
        fields=["household.household_no", "person.name", "pending_change.state"],
        reason=f"rows={len(rows)}; state={state}",
        **audit_context(),
    )
    return render_template(
        "portal/changes/index.html",
        rows=rows,
        households=households,
        heads=heads,
        state=state,
        returned=returned,
        kind_label=service.kind_label,
        limit=LIST_ROWS,
    )


@bp.get("/<int:change_id>")
def show(change_id: int):
    """One submission: what was entered (My Numbers never), its state and the city's comment."""
    change = scoped.pending_change_or_404(change_id)
    household = _household(change.household_id)
    return render_template(
        "portal/changes/show.html",
        change=change,
        household=portal_file.household_row(household.id),
        described=service.describe(change, portal=True, viewer=current_user),
        maker=change.submitted_by,
        mine=change.submitted_by_id == current_user.id,
        numbers_discarded=change.state == "returned"
        and bool(service.payload_of(change).get("my_numbers_discarded")),
    )


@bp.post("/<int:change_id>/withdraw")
def withdraw(change_id: int):
    """取下げ by the maker: nothing is applied (numbers held for it are deleted)."""
    change = scoped.pending_change_or_404(change_id)
    _household(change.household_id, change=True)
    try:
        service.withdraw(change, expected_version=_change_version() or -1, **audit_context())
    except service.NotAllowed as exc:
        flash(str(exc.message), "error")
        return redirect(url_for(".show", change_id=change.id), code=303)
    except (ConflictError, RuleViolation):
        flash(
            _("この入力は、市が先に処理したか、ほかの画面で変更されました。入力の状況を確認してください。"),
            "error",
        )
        return redirect(url_for(".show", change_id=change.id), code=303)
    flash(_("入力を取り下げました。"), "success")
    return redirect(url_for(".index"), code=303)


@bp.route("/<int:change_id>/resubmit", methods=["GET", "POST"])
def resubmit(change_id: int):
    """A returned change corrected: the form of its kind, filled with what was entered (never a My
    Number, never the full account number: those are typed again when they change)."""
    change = scoped.pending_change_or_404(change_id)
    if change.state != "returned" or change.submitted_by_id != current_user.id:
        flash(_("差し戻された入力だけ、入力した職員が修正して再提出できます。"), "error")
        return redirect(url_for(".show", change_id=change.id), code=303)
    household = _household(change.household_id)
    payload = service.payload_of(change)
    kind = payload.get("kind")
    values = service._from_json(payload.get("values") or {})
    if kind in ("vehicle.inspection", "vehicle.update", "vehicle.end"):
        vehicle = scoped.vehicle_or_404(household, change.target_id)
        handler = {
            "vehicle.inspection": _inspection,
            "vehicle.update": _vehicle_edit,
            "vehicle.end": _vehicle_end,
        }
        return handler[kind](household, vehicle, resubmitting=change, values=values)
    if kind == "vehicle.create":
        contract = scoped.contract_or_404(household, payload.get("contract"))
        return _vehicle_new(household, contract, resubmitting=change, values=values)
    if kind == "parking_contract.create":
        return _contract_new(household, resubmitting=change, values=values)
    if kind == "bank_transfer.create":
        return _transfer(household, resubmitting=change, values=values)
    if kind == "income_declaration.save":
        return _income(household, resubmitting=change, payload=payload)
    abort(404)


# --- the household's entry page -----------------------------------------------------------------------------


@bp.get("/household/<int:household_id>")
def household(household_id: int):
    """The household's parking, bank transfers and income declarations, each with its entries."""
    found = _household(household_id)
    return render_template("portal/changes/household.html", **_page_context(found))


@bp.get("/household/<int:household_id>/section/<section>")
def section(household_id: int, section: str):
    """One section again (取消 of an inline form)."""
    if section not in SECTIONS:
        abort(404)
    found = _household(household_id)
    if not inline.wants_fragment():
        return redirect(url_for(".household", household_id=found.id) + f"#{section}", code=303)
    return _section_html(found, section)


def _form_url(endpoint: str, resubmitting, **values) -> str:
    if resubmitting is not None:
        return url_for(".resubmit", change_id=resubmitting.id)
    return url_for(endpoint, **values)


# --- parking ------------------------------------------------------------------------------------------------


def _inspection(household, vehicle, *, resubmitting=None, values=None):
    form = InspectionForm(obj=vehicle, version=vehicle.version)
    if request.method == "GET" and values:
        form.inspection_expiry.data = values.get("inspection_expiry")
    template = "portal/changes/_inspection_form.html"
    title = _("車検有効期間の更新")
    context = {
        "vehicle": vehicle,
        "form_url": _form_url(".inspection", resubmitting, household_id=household.id, vehicle_id=vehicle.id),
    }
    return _parking_form_page(
        household,
        form,
        draft_of=lambda: service.inspection(
            vehicle, form.inspection_expiry.data, expected_version=form.version.data
        ),
        title=title,
        context=context,
        resubmitting=resubmitting,
        template=template,
    )


def _parking_form_page(
    household, form, *, draft_of, title, context, resubmitting, template="portal/changes/_vehicle_form.html"
):
    """A parking form of the portal: GET shows it, POST proposes draft_of() for approval."""
    if request.method == "POST":
        return _submit(
            draft_of, form, household=household, section="parking", template=template, title=title,
            resubmitting=resubmitting, context=context,
        )  # fmt: skip
    return _form_response(
        template,
        household=household,
        title=title,
        form=form,
        resubmitting=resubmitting,
        section="parking",
        **context,
    )


def _prefill(form, values: dict) -> None:
    """The form filled with the values of a change being corrected (those it has fields for)."""
    for name, value in values.items():
        if name in form:
            form[name].data = value


def _vehicle_context(household, vehicle, mode: str, resubmitting) -> dict:
    """A registered vehicle's form (mode edit or end): the vehicle, its contract, where the form posts."""
    form_url = _form_url(f".vehicle_{mode}", resubmitting, household_id=household.id, vehicle_id=vehicle.id)
    return {"vehicle": vehicle, "contract": vehicle.contract, "mode": mode, "form_url": form_url}


def _vehicle_edit(household, vehicle, *, resubmitting=None, values=None):
    form = VehicleEditForm(obj=vehicle, version=vehicle.version)
    if request.method == "GET" and values:
        _prefill(form, values)
    return _parking_form_page(
        household,
        form,
        draft_of=lambda: service.vehicle_change(vehicle, form.values(), expected_version=form.version.data),
        title=_("車両の変更"),
        context=_vehicle_context(household, vehicle, "edit", resubmitting),
        resubmitting=resubmitting,
    )


def _vehicle_end(household, vehicle, *, resubmitting=None, values=None):
    form = VehicleEndForm(obj=vehicle, version=vehicle.version)
    if request.method == "GET":
        form.valid_to.data = (values or {}).get("valid_to") or today_tokyo()
    return _parking_form_page(
        household,
        form,
        draft_of=lambda: service.vehicle_end(vehicle, form.valid_to.data, expected_version=form.version.data),
        title=_("車両の登録抹消"),
        context=_vehicle_context(household, vehicle, "end", resubmitting),
        resubmitting=resubmitting,
    )


def _vehicle_new(household, contract, *, resubmitting=None, values=None):
    if contract.status != "active":
        abort(404)
    form = VehicleForm()
    if request.method == "GET":
        if values:
            _prefill(form, values)
        else:
            form.valid_from.data = max(today_tokyo(), contract.start_date)
            form.user_name.data = Person.get_by_id(contract.user_person_id).name
    return _parking_form_page(
        household,
        form,
        draft_of=lambda: service.new_vehicle(contract, form.values()),
        title=_("車両の登録"),
        context={
            "vehicle": None,
            "contract": contract,
            "mode": "new",
            "form_url": _form_url(
                ".vehicle_new", resubmitting, household_id=household.id, contract_id=contract.id
            ),
        },
        resubmitting=resubmitting,
    )


def _contract_new(household, *, resubmitting=None, values=None):
    form = PortalContractForm()
    form.load_choices(household.id)
    if request.method == "GET":
        values = values or {}
        form.start_date.data = values.get("start_date") or today_tokyo()
        form.space.data = values.get("space")
        form.user_person.data = values.get("user_person")
        form.reduction_amount.data = values.get("reduction_amount") or None
        form.note.data = values.get("note")
        if values.get("space") and values["space"] not in {c.value for c in form.space.choices}:
            form.space.choices.append(SelectChoice(values["space"], service._space_label(values["space"])))
    template = "portal/changes/_contract_form.html"
    context = {"form_url": _form_url(".contract_new", resubmitting, household_id=household.id)}

    def draft_of():
        values = {
            "space": form.space.data,
            "user_person": form.user_person.data,
            "start_date": form.start_date.data,
            "reduction_amount": form.reduction_amount.data or 0,
            "note": form.note.data,
        }
        return service.new_contract(household, values)

    return _parking_form_page(
        household,
        form,
        draft_of=draft_of,
        title=_("駐車場の契約"),
        context=context,
        resubmitting=resubmitting,
        template=template,
    )


def _on_vehicle(flow, household_id: int, vehicle_id: int):
    """flow(household, vehicle) for a vehicle of a household in the office's scope (else 404)."""
    found = _household(household_id)
    return flow(found, scoped.vehicle_or_404(found, vehicle_id))


@bp.route("/household/<int:household_id>/vehicles/<int:vehicle_id>/inspection", methods=["GET", "POST"])
def inspection(household_id: int, vehicle_id: int):
    """The one-field 車検 update (inline in the vehicle's row), proposed for approval."""
    return _on_vehicle(_inspection, household_id, vehicle_id)


@bp.route("/household/<int:household_id>/vehicles/<int:vehicle_id>/edit", methods=["GET", "POST"])
def vehicle_edit(household_id: int, vehicle_id: int):
    """A vehicle's registration changed, proposed for approval."""
    return _on_vehicle(_vehicle_edit, household_id, vehicle_id)


@bp.route("/household/<int:household_id>/vehicles/<int:vehicle_id>/end", methods=["GET", "POST"])
def vehicle_end(household_id: int, vehicle_id: int):
    """登録抹消 of a vehicle (買替え, 廃車), proposed for approval."""
    return _on_vehicle(_vehicle_end, household_id, vehicle_id)


@bp.route("/household/<int:household_id>/contracts/<int:contract_id>/vehicles/new", methods=["GET", "POST"])
def vehicle_new(household_id: int, contract_id: int):
    """A new vehicle on an active contract, proposed for approval."""
    found = _household(household_id)
    return _vehicle_new(found, scoped.contract_or_404(found, contract_id))


@bp.route("/household/<int:household_id>/contracts/new", methods=["GET", "POST"])
def contract_new(household_id: int):
    """A new parking contract on a free space of the household's estate, proposed for approval."""
    return _contract_new(_household(household_id))


# --- bank transfers -----------------------------------------------------------------------------------------

TRANSFER_FORM = "portal/changes/_transfer_form.html"
TRANSFER_CONFIRM = "portal/changes/_transfer_confirm.html"


def _transfer(household, *, resubmitting=None, values=None):
    """口座振替 from the paper form: 入力 → 確認 → 提出. The full account number is shown on the
    confirmation only (before it is submitted); afterwards the portal shows it masked."""
    title = _("口座振替の登録")
    current = {p: bank_transfers.current_of(household.id, p) for p, _unused in TRANSFER_PURPOSES}
    form_url = _form_url(".transfer_new", resubmitting, household_id=household.id)
    context = {"form_url": form_url, "resubmitting": resubmitting, "section": "transfers"}
    if request.method == "GET":
        values = values or {}
        purpose = values.get("purpose") or request.args.get("purpose")
        form = staff_transfers.TransferForm(
            formdata=None,
            purpose=purpose if purpose in dict(TRANSFER_PURPOSES) else "rent",
            account_type=values.get("account_type") or "ordinary",
            bank_code=values.get("bank_code") or "",
            branch_code=values.get("branch_code") or "",
            holder_kana=values.get("holder_kana"),
            valid_from=values.get("valid_from"),
            seen_rent=bank_transfers.seen_token(current["rent"]),
            seen_parking=bank_transfers.seen_token(current["parking"]),
        )
        form.resolve()
        return _form_response(TRANSFER_FORM, household=household, title=title, form=form, **context)

    form = staff_transfers.TransferForm()
    op = request.form.get("op", "")
    op = op if staff_transfers._OP.fullmatch(op) else ""
    if op and op not in ("confirm", "save"):
        _step(form, op)
        return _form_response(TRANSFER_FORM, household=household, title=title, form=form, **context)
    form.resolve()
    if not form.validate_on_submit():
        return _form_response(
            TRANSFER_FORM, household=household, status=422, title=title, form=form, **context
        )
    if not (request.form.get("confirmed") == "1" and op in ("", "save")):
        replacing = current.get(form.purpose.data)
        return _form_response(
            TRANSFER_CONFIRM,
            household=household,
            title=title,
            form=form,
            replacing=staff_transfers._describe(replacing),
            purpose_label=dict(TRANSFER_PURPOSES).get(form.purpose.data, ""),
            account_type_label=dict(ACCOUNT_TYPES).get(form.account_type.data, ""),
            **context,
        )
    return _submit(
        lambda: service.bank_transfer(household, form.values(), seen=form.seen()),
        form,
        household=household,
        section="transfers",
        template=TRANSFER_FORM,
        title=title,
        resubmitting=resubmitting,
        context={"form_url": form_url},
    )


def _step(form, op: str) -> None:
    """A step of filling the transfer form (search, pick, change): nothing is checked or written."""
    staff_transfers.apply_step(form, op)
    staff_transfers.search_next(form)


@bp.route("/household/<int:household_id>/transfers/new", methods=["GET", "POST"])
def transfer_new(household_id: int):
    """Register an account for rent or parking from the paper form, proposed for approval."""
    return _transfer(_household(household_id))


@bp.post("/banks/search")
def bank_search():
    """Banks matching the typed code, name or reading (the same list as the staff screen)."""
    query = staff_transfers._query(staff_transfers.PREFIX + "bank_query")
    results = banks.search_banks(query) if query else None
    return render_template("staff/banks/_bank_results.html", results=results, query=query)


@bp.post("/banks/branches")
def branch_search():
    """Branches of the chosen bank matching the query."""
    prefix = staff_transfers.PREFIX
    code = staff_transfers._digits(request.form.get(prefix + "bank_code", "")[:8])
    if not code:
        typed = staff_transfers._digits(
            request.form.get(prefix + "bank_query", "")[: staff_transfers.QUERY_MAX]
        )
        code = typed if re.fullmatch(r"[0-9]{4}", typed) else ""
    bank = banks.bank(code)
    query = staff_transfers._query(prefix + "branch_query")
    results = banks.search_branches(bank.code, query) if bank and query else None
    return render_template("staff/banks/_branch_results.html", results=results, query=query, bank=bank)


# --- income declarations ------------------------------------------------------------------------------------

INCOME_FORM = "portal/changes/_income_form.html"


def _year_choices(household) -> list[SelectChoice]:
    return [
        SelectChoice(
            str(row["year"]),
            _(
                "%(label)s（%(year)s年分の収入）",
                label=wareki.fiscal_year_label(row["year"]),
                year=row["year"] - 1,
            ),
        )
        for row in _years(household)
        if row["open"]
    ]


def _income_context(household, opened, form, *, resubmitting, held=()) -> dict:
    """The declaration form's context: each member row with its person and age at the end of the income
    year (the staff form's rows), and where it posts."""
    people = {person.id: person for person in opened.members}
    age_day = dt.date(opened.income_year, 12, 31)  # ages count at the end of the income year (令1条3号)
    rows = []
    for entry in form.members.entries:
        person = people.get(staff_income._posted_person(entry))
        if person is not None:
            current = person.member_to is None or person.member_to >= opened.reference_day
            rows.append((entry, person, max(0, wareki.age_on(person.birth_date, age_day)), current))
    return {
        "form": form,
        "section": "income",
        "opened": opened,
        "member_rows": rows,
        "relations": dict(RELATIONS),
        "max_remote": declarations.MAX_REMOTE,
        "form_url": _form_url(".income_new", resubmitting, household_id=household.id),
        "resubmitting": resubmitting,
        "held": set(held),
    }


def _income(household, *, resubmitting=None, payload=None):
    """A declaration keyed in from paper (amounts per member, My Numbers write-only), proposed."""
    title = _("収入申告の入力")
    choices = _year_choices(household)
    held = service.payload_of(resubmitting).get("my_numbers", []) if resubmitting is not None else []
    if resubmitting is not None:
        year = int(payload.get("fiscal_year"))
        choices = [c for c in staff_income._fiscal_year_choices(set()) if c.value == str(year)] or choices
    if request.method == "GET":
        if not choices:
            return _form_response(
                "portal/changes/_income_none.html", household=household, title=title, section="income"
            )
        wanted = request.args.get("year") if resubmitting is None else str(payload.get("fiscal_year"))
        year = int(wanted) if wanted in {c.value for c in choices} else int(choices[0].value)
        opened = declarations.load(household, year)
        if resubmitting is not None:
            entry = service.entry_from_json(payload.get("values") or {})
            data = {
                "submitted_on": entry.submitted_on,
                "members": [staff_income._member_data(m) for m in entry.members],
                "remote": [staff_income._remote_data(r) for r in entry.remote_dependents],
            }
        else:
            data = {
                "members": [{"person_id": str(p.id), "disability": "none"} for p in opened.members],
                "remote": [],
            }
        form = PortalDeclarationForm(formdata=None, data={**data, "fiscal_year": str(year)})
        form.fiscal_year.choices = choices
        staff_income._align_members(form, opened)
        return _form_response(
            INCOME_FORM,
            household=household,
            title=title,
            **_income_context(household, opened, form, resubmitting=resubmitting, held=held),
        )

    form = PortalDeclarationForm()
    form.fiscal_year.choices = staff_income._fiscal_year_choices(set())
    year = staff_income._int_or_none(form.fiscal_year.data)
    if year is None or str(year) not in {c.value for c in form.fiscal_year.choices}:
        year = declarations.current_fiscal_year()
    opened = declarations.load(household, year)
    form.status.data, form.source.data = "submitted", "self"  # whatever was posted: the paper form's
    context = _income_context(household, opened, form, resubmitting=resubmitting, held=held)

    pressed = staff_income._row_action()
    if pressed is not None:
        kind, index = pressed
        if kind == "add" and len(form.remote.entries) < declarations.MAX_REMOTE:
            form.remote.append_entry({"disability": "none"})
        elif kind == "remove" and index is not None and index < len(form.remote.entries):
            form.remote.entries.pop(index)
        staff_income._align_members(form, opened)
        return _form_response(
            INCOME_FORM,
            household=household,
            title=title,
            **_income_context(household, opened, form, resubmitting=resubmitting, held=held),
        )
    if not staff_income._align_members(form, opened):
        form.form_errors.append(str(declarations.MembersChanged().message))
        return _form_response(
            INCOME_FORM,
            household=household,
            status=409,
            title=title,
            **_income_context(household, opened, form, resubmitting=resubmitting, held=held),
        )
    if form.validate_on_submit() and form.numbers() and not form.confirmed.data:
        form.confirmed.errors = [_("本人確認書類と照合したことを確認して、チェックを入れてください。")]
        return _form_response(INCOME_FORM, household=household, status=422, title=title, **context)
    entry, remote_rows = staff_income._entry(form) if not form.errors else (None, [])
    context["remote_rows"] = remote_rows
    return _submit(
        lambda: service.declaration(household, year, entry, my_number_people=form.numbers().keys()),
        form,
        household=household,
        section="income",
        template=INCOME_FORM,
        title=title,
        resubmitting=resubmitting,
        numbers=form.numbers,
        context=context,
    )


@bp.route("/household/<int:household_id>/income/new", methods=["GET", "POST"])
def income_new(household_id: int):
    """Key in a paper 収入申告 for a fiscal year the city has no incomes for yet, proposed for approval."""
    return _income(_household(household_id))
