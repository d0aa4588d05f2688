"""駐車場・区画・契約・車両と車検切れの一覧.

Two kinds of screens:

- the household file's 駐車場 section (/staff/household/<id>/parking/…): start, change and end a
  contract, register, change and deregister its vehicle, and the one-field 車検 update — all inline
  with htmx (blueprints.staff.inline: 422 beside the fields, 409 with both versions, the section
  re-rendered with a toast) and as plain forms without JavaScript (303 to the section, flash);
- the lots (/staff/parking/…): the lots of every estate with their vacant spaces, one lot's spaces
  with their current contract (inline edits of the lot and its spaces, adding spaces), and the
  車検切れ list (printable).

The rules live in services.parking.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
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
    TextField,
    VersionField,
    YenInputField,
    _Normalising,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Estate, ParkingContract, ParkingLot, ParkingSpace, Vehicle, Ward
from rules.filters import today_tokyo
from services import editing
from services import parking as service

bp = Blueprint("parking", __name__)

SECTION = "parking"


def _id_or_none(value):
    """Select values as ids; anything unreadable is None (then 「選んでください」, never a 500)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
        return int(value)
    return None


# --- fields of this area --------------------------------------------------------------------------------


class PlateField(_Normalising):
    """車両登録番号: read the way the plate reads, stored 「川崎 500 あ 12-34」."""

    def normalise(self, text):
        return service.normalize_plate(text)

    def message_for(self, exc):
        return exc.args[0] if exc.args else _l("登録番号を確認してください。")


class ChassisField(_Normalising):
    """車台番号: upper-case alphanumerics and hyphens."""

    message = _l("車台番号は英数字とハイフンで入力してください（例: ZVW30-1234567）。")

    def normalise(self, text):
        return service.normalize_chassis(text)


def fee_limit():
    """Validator: a monthly amount of at most service.MAX_FEE yen."""

    def check(form, field):
        if field.data is not None and field.data > service.MAX_FEE:
            raise ValidationError(_l("月額%(max)s円以下で入力してください。", max=f"{service.MAX_FEE:,}"))

    return check


# --- forms of the household section ----------------------------------------------------------------------


class ContractForm(FlaskForm):
    """A new contract: space, 区画使用者, 使用開始日, 減免額, 備考 (an officer may approve a second space)."""

    space = SelectField(
        _l("区画"),
        coerce=_id_or_none,
        validate_choice=False,
        validators=[required(_l("区画を選んでください。"))],
    )
    user_person = SelectField(
        _l("区画使用者"),
        coerce=_id_or_none,
        validate_choice=False,
        validators=[required(_l("区画使用者を選んでください。"))],
        description=_l("現在の世帯員から選びます。"),
    )
    start_date = DateInputField(
        _l("駐車場使用開始日"),
        [required()],
        description=_l("西暦（2026-04-01）か和暦（令和8年4月1日）で入力。"),
    )
    reduction_amount = YenInputField(
        _l("減免額"), [optional(), fee_limit()], description=_l("月額。駐車場使用料以下。なければ空欄。")
    )
    note = NoteField(_l("備考"), [optional()], max_length=500)
    approve_extra = BooleanField(_l("この世帯の2区画目の使用を承認する（保護責任者）"))
    approval_reason = TextField(_l("2区画目の承認理由"), [optional()], max_length=200)

    def load_choices(self, household_id: int) -> None:
        estate = service.estate_of(household_id)
        spaces = service.vacant_spaces(estate.id if estate else None)
        self.space.choices = [SelectChoice("", _l("選択してください"))] + [
            SelectChoice(
                s.id,
                _l("%(space)s（月額 %(fee)s円）", space=service.space_label(s), fee=f"{s.monthly_fee:,}"),
            )
            for s in spaces
        ]
        self.user_person.choices = [SelectChoice("", _l("選択してください"))] + [
            SelectChoice(p.id, p.name) for p in service.current_members(household_id)
        ]
        self.estate = estate


class ContractEditForm(FlaskForm):
    """An active contract's 区画使用者, 減免額 and 備考."""

    version = VersionField()
    user_person = SelectField(
        _l("区画使用者"),
        coerce=_id_or_none,
        validate_choice=False,
        validators=[required(_l("区画使用者を選んでください。"))],
    )
    reduction_amount = YenInputField(
        _l("減免額"), [optional(), fee_limit()], description=_l("月額。駐車場使用料以下。")
    )
    note = NoteField(_l("備考"), [optional()], max_length=500)

    columns = {"user_person": "user_person", "reduction_amount": "reduction_amount", "note": "note"}


class EndContractForm(FlaskForm):
    """廃止: the 廃止日."""

    version = VersionField()
    end_date = DateInputField(
        _l("廃止日"),
        [required()],
        description=_l("使用開始日以降。区画は空きに戻り、登録車両は廃止日で登録抹消されます。"),
    )

    columns = {"end_date": "end_date"}


class VehicleForm(FlaskForm):
    """A vehicle: 登録番号, 車種, 車台番号, 所有者, 使用者, 車検有効期間, 登録日."""

    registration_no = PlateField(
        _l("車両登録番号"),
        [required()],
        description=_l("ナンバープレートのとおり（例: 川崎 500 あ 12-34）。"),
    )
    model = TextField(_l("車種"), [required()], max_length=60)
    chassis_no = ChassisField(
        _l("車台番号"), [optional()], description=_l("車検証のとおり（例: ZVW30-1234567）。")
    )
    owner_name = NameField(
        _l("車の所有者"), [required()], max_length=100, description=_l("車検証の所有者（ローン会社など）。")
    )
    user_name = NameField(_l("車の使用者"), [required()], max_length=100)
    inspection_expiry = DateInputField(
        _l("車検有効期間"), [optional()], description=_l("車検証の有効期間の満了する日。")
    )
    valid_from = DateInputField(_l("登録日"), [required()])

    columns = {
        "registration_no": "registration_no",
        "model": "model",
        "chassis_no": "chassis_no",
        "owner_name": "owner_name",
        "user_name": "user_name",
        "inspection_expiry": "inspection_expiry",
        "valid_from": "valid_from",
    }

    def values(self) -> dict:
        return {column: self[name].data for name, column in self.columns.items()}


class VehicleEditForm(VehicleForm):
    version = VersionField()


class InspectionForm(FlaskForm):
    """The one-field 車検 update: the new 車検有効期間."""

    version = VersionField()
    inspection_expiry = DateInputField(_l("車検有効期間"), [required()])

    columns = {"inspection_expiry": "inspection_expiry"}


class VehicleEndForm(FlaskForm):
    """登録抹消: the date the vehicle stops using the space."""

    version = VersionField()
    valid_to = DateInputField(_l("登録抹消日"), [required()])

    columns = {"valid_to": "valid_to"}


# --- the household section: helpers ----------------------------------------------------------------------


def _household(household_id: int):
    return inline.household_or_404(household_id, section=SECTION)


def _contract_or_404(household, contract_id: int) -> ParkingContract:
    contract = (
        ParkingContract.select(ParkingContract, ParkingSpace, ParkingLot)
        .join(ParkingSpace)
        .join(ParkingLot)
        .where((ParkingContract.id == contract_id) & (ParkingContract.household == household.id))
        .first()
    )
    if contract is None:
        abort(404)
    return contract


def _vehicle_or_404(household, vehicle_id: int) -> Vehicle:
    vehicle = (
        Vehicle.select(Vehicle, ParkingContract)
        .join(ParkingContract)
        .where((Vehicle.id == vehicle_id) & (ParkingContract.household == household.id))
        .first()
    )
    if vehicle is None:
        abort(404)
    return vehicle


def _submit(form, *, household, template: str, title: str, run, message: str, context=None):
    """GET: the form. POST: validate, run the service, answer 422 / 409 / the section (or 303)."""
    context = dict(context or {})
    context.update(form=form, section=SECTION)
    if request.method != "POST":
        return inline.form_response(template, title=title, household=household, **context)
    if not form.validate_on_submit():
        return inline.form_response(template, status=422, title=title, household=household, **context)
    try:
        changed = run()
    except editing.ConflictError as exc:
        current = type(exc.instance).get_by_id(exc.instance.id)
        form.version.data = current.version
        form.version.raw_data = [str(current.version)]
        context.update(
            conflict=inline.conflict_rows(form, current, getattr(form, "columns", {})), instance=current
        )
        return inline.form_response(template, status=409, title=title, household=household, **context)
    except editing.RuleViolation as exc:
        inline.attach(form, exc)
        return inline.form_response(template, status=422, title=title, household=household, **context)
    return inline.saved(household, SECTION, message if changed != {} else _("変更はありませんでした。"))


# --- the household section: contracts --------------------------------------------------------------------


@bp.route("/household/<int:household_id>/parking/contracts/new", methods=["GET", "POST"])
def new_contract(household_id: int):
    """A new contract on a free space of the household's estate."""
    household = _household(household_id)
    form = ContractForm()
    form.load_choices(household.id)
    if request.method == "GET" and form.start_date.data is None:
        form.start_date.data = today_tokyo()
    officer = current_user.role == "officer"

    def run():
        approve = officer and bool(form.approve_extra.data)  # a staff member's forged tick is ignored
        return service.start_contract(
            household,
            space_id=form.space.data,
            user_person_id=form.user_person.data,
            start_date=form.start_date.data,
            reduction_amount=form.reduction_amount.data or 0,
            note=form.note.data,
            approver=current_user._get_current_object() if approve else None,
            approval_reason=form.approval_reason.data if approve else None,
            **audit_context(),
        )

    return _submit(
        form,
        household=household,
        template="staff/household/_parking_contract_form.html",
        title=_("駐車場の契約"),
        run=run,
        message=_("駐車場の契約を登録しました。"),
        context={"officer": officer},
    )


@bp.route("/household/<int:household_id>/parking/contracts/<int:contract_id>/edit", methods=["GET", "POST"])
def edit_contract(household_id: int, contract_id: int):
    """Change the 区画使用者, 減免額 or 備考 of an active contract."""
    household = _household(household_id)
    contract = _contract_or_404(household, contract_id)
    if contract.status != "active":
        abort(404)
    form = ContractEditForm(obj=contract, version=contract.version)
    if request.method == "GET":
        form.user_person.data = contract.user_person_id
    members = service.current_members(household.id)
    form.user_person.choices = [SelectChoice("", _l("選択してください"))] + [
        SelectChoice(p.id, p.name) for p in members
    ]
    if contract.user_person_id not in {p.id for p in members}:
        # The present user has left: shown so the form says who it is, refused on save.
        form.user_person.choices.append(SelectChoice(contract.user_person_id, contract.user_person.name))

    def run():
        return service.update_contract(
            contract,
            form.version.data,
            user_person_id=form.user_person.data,
            reduction_amount=form.reduction_amount.data or 0,
            note=form.note.data,
            **audit_context(),
        )

    return _submit(
        form,
        household=household,
        template="staff/household/_parking_contract_edit_form.html",
        title=_("駐車場の契約の変更"),
        run=run,
        message=_("駐車場の契約を変更しました。"),
        context={"contract": contract},
    )


@bp.route("/household/<int:household_id>/parking/contracts/<int:contract_id>/end", methods=["GET", "POST"])
def end_contract(household_id: int, contract_id: int):
    """廃止: end an active contract, freeing its space."""
    household = _household(household_id)
    contract = _contract_or_404(household, contract_id)
    if contract.status != "active" and request.method == "GET":
        abort(404)
    form = EndContractForm(version=contract.version)
    if request.method == "GET":
        form.end_date.data = today_tokyo()

    def run():
        service.end_contract(contract, form.version.data, end_date=form.end_date.data, **audit_context())

    return _submit(
        form,
        household=household,
        template="staff/household/_parking_end_form.html",
        title=_("駐車場の契約の廃止"),
        run=run,
        message=_("駐車場の契約を廃止しました。区画は空きに戻りました。"),
        context={"contract": contract},
    )


# --- the household section: vehicles ---------------------------------------------------------------------


@bp.route(
    "/household/<int:household_id>/parking/contracts/<int:contract_id>/vehicles/new", methods=["GET", "POST"]
)
def new_vehicle(household_id: int, contract_id: int):
    """Register a vehicle on an active contract."""
    household = _household(household_id)
    contract = _contract_or_404(household, contract_id)
    if contract.status != "active" and request.method == "GET":
        abort(404)
    form = VehicleForm()
    if request.method == "GET":
        form.valid_from.data = max(today_tokyo(), contract.start_date)
        form.user_name.data = contract.user_person.name

    def run():
        return service.add_vehicle(contract, form.values(), **audit_context())

    return _submit(
        form,
        household=household,
        template="staff/household/_parking_vehicle_form.html",
        title=_("車両の登録"),
        run=run,
        message=_("車両を登録しました。"),
        context={"contract": contract, "vehicle": None},
    )


def _edit_vehicle(household, vehicle, form, *, template, title, action, values, message):
    contract = vehicle.contract

    def checked(form):
        changes = values(form)
        service.check_vehicle(contract, changes, vehicle)
        return changes

    return inline.edit_record(
        form=form,
        instance=vehicle,
        household=household,
        section=SECTION,
        template=template,
        action=action,
        values=checked,
        message=message,
        title=title,
        context={"vehicle": vehicle, "contract": contract},
    )


@bp.route("/household/<int:household_id>/parking/vehicles/<int:vehicle_id>/edit", methods=["GET", "POST"])
def edit_vehicle(household_id: int, vehicle_id: int):
    """Change a vehicle's registration (登録番号, 車種, 車台番号, 所有者, 使用者, 車検, 登録日)."""
    household = _household(household_id)
    vehicle = _vehicle_or_404(household, vehicle_id)
    form = VehicleEditForm(obj=vehicle, version=vehicle.version)
    return _edit_vehicle(
        household,
        vehicle,
        form,
        template="staff/household/_parking_vehicle_form.html",
        title=_("車両の変更"),
        action="vehicle.update",
        values=VehicleForm.values,
        message=_("車両の登録内容を保存しました。"),
    )


@bp.route(
    "/household/<int:household_id>/parking/vehicles/<int:vehicle_id>/inspection", methods=["GET", "POST"]
)
def inspection(household_id: int, vehicle_id: int):
    """The one-field edit of the 車検有効期間 (the most frequent change)."""
    household = _household(household_id)
    vehicle = _vehicle_or_404(household, vehicle_id)
    form = InspectionForm(obj=vehicle, version=vehicle.version)
    return _edit_vehicle(
        household,
        vehicle,
        form,
        template="staff/household/_parking_inspection_form.html",
        title=_("車検有効期間の更新"),
        action="vehicle.inspection",
        values=lambda f: {"inspection_expiry": f.inspection_expiry.data},
        message=_("車検有効期間を更新しました。"),
    )


@bp.route("/household/<int:household_id>/parking/vehicles/<int:vehicle_id>/end", methods=["GET", "POST"])
def end_vehicle(household_id: int, vehicle_id: int):
    """登録抹消: the vehicle no longer uses the space from this date (買替え, 廃車)."""
    household = _household(household_id)
    vehicle = _vehicle_or_404(household, vehicle_id)
    form = VehicleEndForm(obj=vehicle, version=vehicle.version)
    if request.method == "GET" and form.valid_to.data is None:
        form.valid_to.data = today_tokyo()
    return _edit_vehicle(
        household,
        vehicle,
        form,
        template="staff/household/_parking_vehicle_end_form.html",
        title=_("車両の登録抹消"),
        action="vehicle.end",
        values=lambda f: {"valid_to": f.valid_to.data},
        message=_("車両の登録を抹消しました。"),
    )


# --- lots and spaces ---------------------------------------------------------------------------------------


class LotForm(FlaskForm):
    """A lot: 駐車場コード, 駐車場名, 自治会, 標準の使用料."""

    code = TextField(
        _l("駐車場コード"),
        [required()],
        max_length=16,
        description=_l("団地の中で重複しない記号（例: P1）。"),
    )
    name = TextField(_l("駐車場名"), [required()], max_length=100)
    residents_association = TextField(
        _l("自治会"), [optional()], max_length=100, description=_l("駐車場を管理する自治会。")
    )
    monthly_fee = YenInputField(
        _l("駐車場使用料(標準)"),
        [required(), fee_limit()],
        description=_l("月額。新しく追加する区画の使用料になります。"),
    )

    columns = {
        "code": "code",
        "name": "name",
        "residents_association": "residents_association",
        "monthly_fee": "monthly_fee",
    }

    def values(self) -> dict:
        return {column: self[name].data for name, column in self.columns.items()}


class LotEditForm(LotForm):
    version = VersionField()


class NewLotForm(LotForm):
    estate = SelectField(
        _l("団地"),
        coerce=_id_or_none,
        validate_choice=False,
        validators=[required(_l("団地を選んでください。"))],
    )

    def load_choices(self) -> None:
        estates = Estate.select(Estate, Ward).join(Ward).order_by(Ward.code, Estate.code)
        self.estate.choices = [SelectChoice("", _l("選択してください"))] + [
            SelectChoice(e.id, f"{e.name}（{e.ward.name}）") for e in estates
        ]


class SpaceForm(FlaskForm):
    """One space: 区画番号, 使用料, 状態 (空き / 使用不可; 契約中 follows the contracts)."""

    version = VersionField()
    space_no = TextField(_l("区画番号"), [required()], max_length=16)
    monthly_fee = YenInputField(
        _l("駐車場使用料"), [required(), fee_limit()], description=_l("月額。次に契約するときから適用。")
    )
    status = SelectField(_l("状態"), validate_choice=False, validators=[required()])

    columns = {"space_no": "space_no", "monthly_fee": "monthly_fee", "status": "status"}


class SpacesForm(FlaskForm):
    """New spaces: one number, or a range of numbers (1 to 20)."""

    space_from = TextField(
        _l("区画番号"), [required()], max_length=16, description=_l("1区画ならこの欄だけ入力。")
    )
    space_to = TextField(
        _l("区画番号（まで）"),
        [optional()],
        max_length=16,
        description=_l("連番で追加するときの最後の番号。"),
    )
    monthly_fee = YenInputField(_l("駐車場使用料"), [required(), fee_limit()], description=_l("月額。"))

    def validate_space_to(self, field):
        if not field.data:
            return
        first, last = self.space_from.data or "", field.data
        if not (first.isascii() and first.isdigit() and last.isascii() and last.isdigit()):
            raise ValidationError(_l("連番で追加するときは、区画番号を数字で入力してください。"))
        if int(last) < int(first):
            raise ValidationError(_l("最後の番号は最初の番号以上にしてください。"))
        if int(last) - int(first) + 1 > service.MAX_NEW_SPACES:
            raise ValidationError(
                _l("一度に追加できる区画は%(max)s区画までです。", max=service.MAX_NEW_SPACES)
            )

    def numbers(self) -> list[str]:
        if not self.space_to.data:
            return [self.space_from.data]
        return [str(n) for n in range(int(self.space_from.data), int(self.space_to.data) + 1)]


def _lot_or_404(lot_id: int) -> ParkingLot:
    lot = service.lot_with_estate(lot_id)
    if lot is None:
        abort(404)
    return lot


def _lot_body(lot: ParkingLot) -> str:
    rows = service.space_rows(lot, current_user)
    service.audit_lot_view(lot, rows, **audit_context())
    return render_template(
        "staff/parking/_lot_body.html", lot=lot, rows=rows, space_statuses=dict(ParkingSpace.status.choices)
    )


def _lot_form(template: str, *, lot, title: str, status: int = 200, **context):
    """The lot's form fragment for htmx, or a whole page holding it."""
    context.update(lot=lot)
    if inline.wants_fragment():
        return render_template(template, **context), status
    return render_template("staff/parking/_edit_page.html", fragment=template, title=title, **context), status


def _lot_saved(lot: ParkingLot, message: str):
    if inline.wants_fragment():
        fresh = service.lot_with_estate(lot.id)
        response = make_response(_lot_body(fresh))
        response.headers["HX-Retarget"] = "#lot-body"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = inline.toast_header(message)
        return response
    flash(message, "success")
    return redirect(url_for(".lot", lot_id=lot.id) + "#spaces", code=303)


def _lot_edit(form, *, lot, instance, template, title, values, message, action, context=None):
    context = dict(context or {}, form=form, instance=instance)
    if request.method != "POST":
        return _lot_form(template, lot=lot, title=title, **context)
    if not form.validate_on_submit():
        return _lot_form(template, lot=lot, title=title, status=422, **context)
    try:
        changes = editing.update(
            instance, form.version.data, values(form), household_id=None, action=action, **audit_context()
        )
    except editing.ConflictError:
        current = type(instance).get_by_id(instance.id)
        form.version.data = current.version
        form.version.raw_data = [str(current.version)]
        context.update(conflict=inline.conflict_rows(form, current, form.columns), instance=current)
        return _lot_form(template, lot=lot, title=title, status=409, **context)
    except editing.RuleViolation as exc:
        inline.attach(form, exc)
        return _lot_form(template, lot=lot, title=title, status=422, **context)
    return _lot_saved(lot, message if changes else _("変更はありませんでした。"))


@bp.get("/parking/")
def index():
    """The lots of every estate: 自治会, spaces, vacant spaces, standard fee."""
    wards = list(Ward.select(Ward.id, Ward.name).order_by(Ward.code))
    ward_id = _id_or_none(request.args.get("ward", ""))
    if ward_id is not None and ward_id not in {w.id for w in wards}:
        ward_id = None
    rows = service.lots_overview(ward_id)
    return render_template("staff/parking/index.html", rows=rows, wards=wards, ward_id=ward_id)


@bp.route("/parking/lots/new", methods=["GET", "POST"])
def new_lot():
    """A new lot of an estate (then its spaces are added on the lot's page)."""
    form = NewLotForm()
    form.load_choices()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            estate = Estate.get_or_none(Estate.id == form.estate.data)
            if estate is None:
                form.estate.errors = [*form.estate.errors, _("団地を選んでください。")]
            else:
                try:
                    lot = editing.create(
                        ParkingLot,
                        {"estate": estate.id, **form.values()},
                        household_id=None,
                        action="parking_lot.create",
                        **audit_context(),
                    )
                except editing.RuleViolation:
                    form.code.errors = [
                        *form.code.errors,
                        _("この団地にはすでに同じ駐車場コードがあります。"),
                    ]
                else:
                    flash(_("駐車場を登録しました。区画を追加してください。"), "success")
                    return redirect(url_for(".lot", lot_id=lot.id), code=303)
    return render_template("staff/parking/new_lot.html", form=form), status


@bp.get("/parking/lots/<int:lot_id>")
def lot(lot_id: int):
    """One lot: its facts and its spaces with the current contract of each."""
    found = _lot_or_404(lot_id)
    if inline.wants_fragment():  # 取消 of an inline edit: the body again
        return _lot_body(found)
    rows = service.space_rows(found, current_user)
    service.audit_lot_view(found, rows, **audit_context())
    return render_template(
        "staff/parking/lot.html", lot=found, rows=rows, space_statuses=dict(ParkingSpace.status.choices)
    )


@bp.route("/parking/lots/<int:lot_id>/edit", methods=["GET", "POST"])
def edit_lot(lot_id: int):
    """Edit a lot's code, name, 自治会 and standard fee."""
    found = _lot_or_404(lot_id)
    form = LotEditForm(obj=found, version=found.version)
    return _lot_edit(
        form,
        lot=found,
        instance=found,
        template="staff/parking/_lot_form.html",
        title=_("駐車場の編集"),
        values=LotForm.values,
        message=_("駐車場を保存しました。"),
        action="parking_lot.update",
    )


@bp.route("/parking/lots/<int:lot_id>/spaces/new", methods=["GET", "POST"])
def add_spaces(lot_id: int):
    """Add one space or a numbered range of spaces to a lot."""
    found = _lot_or_404(lot_id)
    form = SpacesForm()
    title = _("区画の追加")
    template = "staff/parking/_spaces_form.html"
    if request.method == "GET":
        form.monthly_fee.data = found.monthly_fee
        return _lot_form(template, lot=found, title=title, form=form)
    if not form.validate_on_submit():
        return _lot_form(template, lot=found, title=title, status=422, form=form)
    try:
        created = service.add_spaces(found, form.numbers(), form.monthly_fee.data, **audit_context())
    except editing.RuleViolation as exc:
        inline.attach(form, exc)
        return _lot_form(template, lot=found, title=title, status=422, form=form)
    return _lot_saved(found, _("%(count)s区画を追加しました。", count=len(created)))


@bp.route("/parking/spaces/<int:space_id>/edit", methods=["GET", "POST"])
def edit_space(space_id: int):
    """Edit a space's number, fee and status (空き / 使用不可)."""
    space = ParkingSpace.get_or_none(ParkingSpace.id == space_id)
    if space is None:
        abort(404)
    found = _lot_or_404(space.lot_id)
    form = SpaceForm(obj=space, version=space.version)
    contracted = space.status == "contracted"
    statuses = (
        [("contracted", ParkingSpace.status.label("contracted"))]
        if contracted
        else [pair for pair in ParkingSpace.status.choices if pair[0] != "contracted"]
    )
    form.status.choices = code_choices(statuses)

    def values(form):
        if form.status.data not in dict(ParkingSpace.status.choices):
            raise editing.RuleViolation(_l("状態を選んでください。"), "status")
        if contracted and form.status.data != "contracted":
            raise editing.RuleViolation(
                _l("契約中の区画の状態は、契約を廃止すると空きに戻ります。"), "status"
            )
        if not contracted and form.status.data == "contracted":
            raise editing.RuleViolation(
                _l("契約中にするには世帯の駐車場の欄から契約を登録してください。"), "status"
            )
        if form.status.data == "closed" and service.space_has_active_contract(space.id):
            raise editing.RuleViolation(_l("契約中の区画は使用不可にできません。"), "status")
        return {
            "space_no": form.space_no.data,
            "monthly_fee": form.monthly_fee.data,
            "status": form.status.data,
        }

    return _lot_edit(
        form,
        lot=found,
        instance=space,
        template="staff/parking/_space_form.html",
        title=_("区画の編集"),
        values=values,
        message=_("区画を保存しました。"),
        action="parking_space.update",
        context={"space": space},
    )


# --- the 車検切れ list -------------------------------------------------------------------------------------


@bp.get("/parking/inspections")
def inspections():
    """Vehicles on active contracts whose 車検 expired (or expires within 30 days), oldest first."""
    soon = request.args.get("soon") == "1"
    estates = list(
        Estate.select(Estate.id, Estate.name, Estate.code)
        .where(Estate.id.in_(ParkingLot.select(ParkingLot.estate)))
        .order_by(Estate.code)
    )
    estate_id = _id_or_none(request.args.get("estate", ""))
    if estate_id is not None and estate_id not in {e.id for e in estates}:
        estate_id = None
    today = today_tokyo()
    rows = service.inspections(current_user, today=today, soon=soon, estate_id=estate_id)
    service.audit_inspections(rows, soon=soon, **audit_context())
    return render_template(
        "staff/parking/inspections.html",
        rows=rows,
        soon=soon,
        estates=estates,
        estate_id=estate_id,
        today=today,
        soon_days=service.SOON_DAYS,
    )
