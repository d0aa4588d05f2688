"""団地・棟・住戸と空き住戸の一覧: estates, buildings, units and the vacancy list for city staff.

Lists (GET, no personal data in them, so the filters may sit in the URL): the estates with their
counts, and the vacant units across the city. One estate's page shows its facts, its buildings and
their units; one unit's page shows its facts and its 利便性係数 and 近傍同種家賃 per fiscal year.

Edits follow the household file's inline flow (blueprints.staff.inline): with htmx the 編集 link
fetches a form fragment into the section; invalid input → 422 with the messages beside the fields;
someone saved in between → 409 with both versions; saved → the section again (with its history) and
a toast. Without JavaScript the same URLs render a whole page and a save redirects (303) to the
record's page with a flash message. Audit entries are filed under each record's own table (estate,
building, unit, unit_year_figure) by services.estates through services.editing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, ValidationError

from blueprints.context import audit_context
from blueprints.staff import inline
from blueprints.staff.fields import (
    DecimalInputField,
    KanaField,
    NoteField,
    PostalCodeField,
    SmallIntegerField,
    TextField,
    VersionField,
    YenInputField,
    optional,
    required,
)
from blueprints.staff.household import code_choices
from models import Building, Estate, Unit, UnitYearFigure
from models.housing import STRUCTURES, UNIT_STATUSES, UNIT_TYPES
from rules.filters import today_tokyo
from services import access
from services import estates as service

bp = Blueprint("estates", __name__, url_prefix="/estates")

YEAR_BUILT_MIN = 1900
MAX_FLOORS = 60  # the database's CHECK on building.floors
FISCAL_YEAR_MIN = 2000


def _id_or_none(value):
    """A select's value as an id; anything else is no choice (the validator then says so)."""
    if value in (None, ""):
        return None
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else 1


def _coefficient_text(value: Decimal | None) -> str | None:
    """A coefficient with at least two decimals and no trailing zeros beyond: 1.000000 → 1.00, 1.125."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _page_args() -> dict:
    """The list's filters for its page links (the page number apart)."""
    return {k: v for k, v in request.args.items() if k != "page"}


def _code_label(model, column):
    return lambda code: service.code_label(model, column, code)


def _labels() -> dict:
    """Helpers the templates use to word codes."""
    return {
        "structure_label": _code_label(Building, "structure"),
        "status_label": _code_label(Unit, "status"),
        "unit_type_label": _code_label(Unit, "unit_type"),
    }


# --- the list of estates -------------------------------------------------------------------------------


class EstateFilterForm(FlaskForm):
    """The estates list's filters (GET: estate names are not personal data)."""

    class Meta:
        csrf = False

    ward = SelectField(_l("区"), coerce=_id_or_none, validate_choice=True)
    name = TextField(_l("団地名・コード"), [optional()], max_length=50)

    def load_choices(self) -> None:
        self.ward.choices = [("", _l("すべて"))] + service.ward_choices()


@bp.get("/")
def index():
    """Estates, by ward and code, with their numbers of buildings, units and units by status."""
    form = EstateFilterForm(request.args)
    form.load_choices()
    status = 200
    result = None
    if form.validate():
        result = service.estates(ward_id=form.ward.data, name=form.name.data, page=_page_number())
    else:
        status = 422
    location = _coefficient_text(service.location_coefficient(today_tokyo()))
    return render_template(
        "staff/estates/index.html",
        form=form,
        result=result,
        location=location,
        page_args=_page_args(),
        **_labels(),
    ), status


# --- the vacancy list ------------------------------------------------------------------------------------


class VacancyFilterForm(FlaskForm):
    """The vacancy list's filters (GET: no personal data)."""

    class Meta:
        csrf = False

    ward = SelectField(_l("区"), coerce=_id_or_none, validate_choice=True)
    estate = SelectField(_l("団地"), coerce=_id_or_none, validate_choice=True)
    layout = SelectField(_l("間取り"), default="", validate_choice=True)
    min_area = DecimalInputField(
        _l("床面積（下限）"), [optional()], places=2, minimum=0, maximum=service.FLOOR_AREA_MAX
    )
    max_area = DecimalInputField(
        _l("床面積（上限）"), [optional()], places=2, minimum=0, maximum=service.FLOOR_AREA_MAX
    )
    max_floor = SmallIntegerField(_l("階（この階以下）"), [optional()])
    elevator = BooleanField(_l("エレベーターのある棟"))
    include_repair = BooleanField(_l("修繕中の住戸も含める"))

    def load_choices(self) -> None:
        everything = ("", _l("すべて"))
        self.ward.choices = [everything] + service.ward_choices()
        self.estate.choices = [everything] + service.estate_choices()
        self.layout.choices = [("", _l("すべて"))] + [(x, x) for x in service.layouts()]

    def validate_max_area(self, field) -> None:
        if field.data is not None and self.min_area.data is not None and field.data < self.min_area.data:
            raise ValidationError(_l("上限は下限以上の数にしてください。"))

    def validate_max_floor(self, field) -> None:
        if field.data is not None and not 1 <= field.data <= MAX_FLOORS:
            raise ValidationError(_l("%(min)sから%(max)sの数で入力してください。", min=1, max=MAX_FLOORS))

    def filters(self) -> service.VacancyFilters:
        return service.VacancyFilters(
            ward_id=self.ward.data,
            estate_id=self.estate.data,
            layout=self.layout.data or None,
            min_area=self.min_area.data,
            max_area=self.max_area.data,
            max_floor=self.max_floor.data,
            elevator=bool(self.elevator.data),
            include_repair=bool(self.include_repair.data),
        )


@bp.get("/vacancies")
def vacancies():
    """Vacant units across the city (50 a page) with this fiscal year's 利便性係数 and 近傍同種家賃."""
    form = VacancyFilterForm(request.args)
    form.load_choices()
    fiscal_year = service.current_fiscal_year()
    result = None
    status = 200
    if form.validate():
        result = service.vacancies(form.filters(), fiscal_year=fiscal_year, page=_page_number())
    else:
        status = 422
    return render_template(
        "staff/estates/vacancies.html",
        form=form,
        result=result,
        fiscal_year=fiscal_year,
        page_args=_page_args(),
        **_labels(),
    ), status


# --- pages and sections ------------------------------------------------------------------------------------


def _estate_or_404(estate_id: int) -> Estate:
    estate = Estate.get_or_none(Estate.id == estate_id)
    if estate is None:
        abort(404)
    return estate


def _unit_or_404(unit_id: int) -> Unit:
    unit = Unit.get_or_none(Unit.id == unit_id)
    if unit is None:
        abort(404)
    return unit


def _load_estate_page(estate_id: int) -> service.EstatePage:
    page = service.load_estate(estate_id)
    if page is None:
        abort(404)
    return page


def _load_unit_page(unit_id: int) -> service.UnitPage:
    page = service.load_unit(unit_id, visible_households=access.visible_households(current_user))
    if page is None:
        abort(404)
    return page


@bp.get("/<int:estate_id>")
def show(estate_id: int):
    """One estate: its facts, its buildings and their units, with the histories."""
    page = _load_estate_page(estate_id)
    return render_template("staff/estates/show.html", page=page, **_labels())


def _estate_section_html(estate_id: int, section: str, *, oob: bool = False) -> str:
    page = _load_estate_page(estate_id)
    return render_template(f"staff/estates/sections/{section}.html", page=page, oob=oob, **_labels())


def _unit_section_html(unit_id: int, section: str, *, oob: bool = False) -> str:
    page = _load_unit_page(unit_id)
    return render_template(f"staff/estates/unit_sections/{section}.html", page=page, oob=oob, **_labels())


@bp.get("/<int:estate_id>/section/<section>")
def section(estate_id: int, section: str):
    """One section of the estate page alone (htmx: 取消 of an inline edit); else the page at it."""
    if section not in service.ESTATE_SECTIONS:
        abort(404)
    if not inline.wants_fragment():
        _estate_or_404(estate_id)
        return redirect(url_for(".show", estate_id=estate_id) + f"#{section}", code=303)
    return _estate_section_html(estate_id, section)


@bp.get("/units/<int:unit_id>")
def unit(unit_id: int):
    """One unit: its facts and its 利便性係数 and 近傍同種家賃 per fiscal year, with the histories."""
    page = _load_unit_page(unit_id)
    return render_template("staff/estates/unit.html", page=page, **_labels())


@bp.get("/units/<int:unit_id>/section/<section>")
def unit_section(unit_id: int, section: str):
    """One section of the unit page alone (htmx: 取消 of an inline edit); else the page at it."""
    if section not in service.UNIT_SECTIONS:
        abort(404)
    if not inline.wants_fragment():
        _unit_or_404(unit_id)
        return redirect(url_for(".unit", unit_id=unit_id) + f"#{section}", code=303)
    return _unit_section_html(unit_id, section)


# --- the inline edit flow -------------------------------------------------------------------------------


def _form_response(template: str, *, status: int = 200, title: str, **context):
    """The form fragment for htmx, or a whole page holding it."""
    if inline.wants_fragment():
        return render_template(template, **context), status
    return render_template("staff/estates/_edit_page.html", fragment=template, title=title, **context), status


def _saved(*, page_url: str, section: str, render_section: Callable, message: str, also=()):
    """After a save: the section again with a toast (htmx; other sections named in also are swapped
    out of band), or a redirect to the record's page at the section (a plain form post)."""
    if inline.wants_fragment():
        html = render_section(section) + "".join(render_section(other, oob=True) for other in also)
        response = make_response(html)
        response.headers["HX-Retarget"] = f"#{section}"
        response.headers["HX-Reswap"] = "outerHTML"
        response.headers["HX-Trigger"] = inline.toast_header(message)
        return response
    flash(message, "success")
    return redirect(f"{page_url}#{section}", code=303)


def _edit(
    *,
    form,
    instance,
    template: str,
    save: Callable,
    page_url: str,
    section: str,
    render_section: Callable,
    message: str,
    title: str,
    context: dict,
    also=(),
):
    """GET: the form. POST: validate, save with the version read; 422 / 409 / the section + toast."""
    context = {**context, "form": form, "instance": instance, "section": section}
    return inline.versioned_form(
        form,
        template,
        title,
        context,
        save,
        on_saved=lambda changes: _saved(
            page_url=page_url,
            section=section,
            render_section=render_section,
            message=message if changes else _("変更はありませんでした。"),
            also=also if changes else (),
        ),
        respond=_form_response,
    )


# --- the estate's facts ----------------------------------------------------------------------------------------


class EstateForm(FlaskForm):
    """団地: name, kana, ward, postal code, address, 自治会, note (the code is the estate's identity)."""

    version = VersionField()
    name = TextField(_l("住宅名"), [required()], max_length=100)
    name_kana = KanaField(_l("住宅名カナ"), [optional()], max_length=200)
    ward = SelectField(_l("区"), coerce=_id_or_none, validators=[required()], validate_choice=True)
    postal_code = PostalCodeField(
        _l("郵便番号"), [optional()], description=_l("入力すると住所の候補を表示します。")
    )
    address = TextField(_l("所在地"), [required()], max_length=200)
    residents_association = TextField(_l("自治会"), [optional()], max_length=100)
    note = NoteField(_l("備考"), [optional()], max_length=1000)

    columns = {
        "name": "name",
        "name_kana": "name_kana",
        "ward": "ward",
        "postal_code": "postal_code",
        "address": "address",
        "residents_association": "residents_association",
        "note": "note",
    }

    def load_choices(self) -> None:
        self.ward.choices = [("", _l("選択してください"))] + service.ward_choices()

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "name_kana": self.name_kana.data,
            "ward": self.ward.data,
            "postal_code": self.postal_code.data,
            "address": self.address.data,
            "residents_association": self.residents_association.data,
            "note": self.note.data,
        }


@bp.route("/<int:estate_id>/edit", methods=["GET", "POST"])
def edit(estate_id: int):
    """Edit the estate's facts (inline with htmx, or as a page)."""
    estate = _estate_or_404(estate_id)
    form = EstateForm(obj=estate, version=estate.version)
    if request.method == "GET":
        form.ward.data = estate.ward_id
    form.load_choices()
    return _edit(
        form=form,
        instance=estate,
        template="staff/estates/_estate_form.html",
        save=lambda f: service.save_estate(estate, f.version.data, f.values(), **audit_context()),
        page_url=url_for(".show", estate_id=estate.id),
        section="estate",
        render_section=lambda s, oob=False: _estate_section_html(estate.id, s, oob=oob),
        message=_("団地の情報を保存しました。"),
        title=_("団地の情報の編集"),
        context={"estate": estate},
    )


# --- buildings -----------------------------------------------------------------------------------------------


class BuildingForm(FlaskForm):
    """棟: number, structure, year built, floors, elevator."""

    version = VersionField()
    number = TextField(_l("棟番号"), [required()], max_length=16)
    structure = SelectField(_l("構造"), choices=code_choices(STRUCTURES), validators=[required()])
    year_built = SmallIntegerField(
        _l("建設年度"), [required()], description=_l("西暦で入力（例: 1985）。経過年数係数の計算に使います。")
    )
    floors = SmallIntegerField(_l("階数"), [required()])
    has_elevator = BooleanField(_l("エレベーターあり"))

    columns = {
        "number": "number",
        "structure": "structure",
        "year_built": "year_built",
        "floors": "floors",
        "has_elevator": "has_elevator",
    }

    def validate_year_built(self, field) -> None:
        latest = today_tokyo().year + 1
        if field.data is not None and not YEAR_BUILT_MIN <= field.data <= latest:
            raise ValidationError(
                _l(
                    "建設年度は%(min)sから%(max)sまでの西暦で入力してください。",
                    min=YEAR_BUILT_MIN,
                    max=latest,
                )
            )

    def validate_floors(self, field) -> None:
        if field.data is not None and not 1 <= field.data <= MAX_FLOORS:
            raise ValidationError(_l("階数は1から%(max)sまでで入力してください。", max=MAX_FLOORS))

    def values(self) -> dict:
        return {
            "number": self.number.data,
            "structure": self.structure.data,
            "year_built": self.year_built.data,
            "floors": self.floors.data,
            "has_elevator": bool(self.has_elevator.data),
        }


@bp.route("/<int:estate_id>/buildings/<int:building_id>/edit", methods=["GET", "POST"])
def edit_building(estate_id: int, building_id: int):
    """Edit one building of the estate (its units' section follows the new 棟番号 too)."""
    building = Building.get_or_none((Building.id == building_id) & (Building.estate == estate_id))
    if building is None:
        abort(404)
    form = BuildingForm(obj=building, version=building.version)
    return _edit(
        form=form,
        instance=building,
        template="staff/estates/_building_form.html",
        save=lambda f: service.save_building(building, f.version.data, f.values(), **audit_context()),
        page_url=url_for(".show", estate_id=estate_id),
        section="buildings",
        render_section=lambda s, oob=False: _estate_section_html(estate_id, s, oob=oob),
        message=_("棟の情報を保存しました。"),
        title=_("棟の情報の編集"),
        context={"estate": building.estate, "building": building},
        also=("units",),
    )


# --- units -------------------------------------------------------------------------------------------------------


class UnitForm(FlaskForm):
    """住戸: 住宅コード, room, floor, layout, floor area, type, status, note."""

    version = VersionField()
    housing_code = TextField(_l("住宅コード"), [required()], max_length=20)
    room_number = TextField(_l("部屋番号"), [required()], max_length=16)
    floor = SmallIntegerField(_l("階"), [required()])
    layout = TextField(_l("間取り"), [optional()], max_length=16, description=_l("例: 2DK、3LDK"))
    floor_area = DecimalInputField(
        _l("床面積（㎡）"),
        [required()],
        places=2,
        minimum=0,
        maximum=service.FLOOR_AREA_MAX,
        exclusive_minimum=True,
        description=_l("小数点以下2桁まで（例: 60.25）。家賃の計算に使います。"),
    )
    unit_type = SelectField(_l("住戸種別"), choices=code_choices(UNIT_TYPES), validators=[required()])
    status = SelectField(
        _l("状態"),
        choices=code_choices(UNIT_STATUSES),
        validators=[required()],
        description=_l("「入居中」は入居・退去の手続きで変わります。"),
    )
    note = NoteField(_l("備考"), [optional()], max_length=1000)

    columns = {
        "housing_code": "housing_code",
        "room_number": "room_number",
        "floor": "floor",
        "layout": "layout",
        "floor_area": "floor_area",
        "unit_type": "unit_type",
        "status": "status",
        "note": "note",
    }

    def validate_housing_code(self, field) -> None:
        if field.data:
            field.data = field.data.upper().replace(" ", "")
            if not field.data.replace("-", "").isalnum() or not field.data.isascii():
                raise ValidationError(_l("住宅コードは英数字（とハイフン）で入力してください。"))

    def validate_floor(self, field) -> None:
        if field.data is not None and not 1 <= field.data <= MAX_FLOORS:
            raise ValidationError(_l("階は1から%(max)sまでで入力してください。", max=MAX_FLOORS))

    def validate_layout(self, field) -> None:
        if field.data:
            field.data = field.data.upper()

    def values(self) -> dict:
        return {
            "housing_code": self.housing_code.data,
            "room_number": self.room_number.data,
            "floor": self.floor.data,
            "layout": self.layout.data,
            "floor_area": self.floor_area.data,
            "unit_type": self.unit_type.data,
            "status": self.status.data,
            "note": self.note.data,
        }


def _unit_context(unit: Unit) -> dict:
    building = unit.building
    return {"unit": unit, "building": building, "estate": building.estate}


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"])
def edit_unit(unit_id: int):
    """Edit one unit's facts (its status only between the statuses nobody lives in)."""
    unit = _unit_or_404(unit_id)
    form = UnitForm(obj=unit, version=unit.version)
    return _edit(
        form=form,
        instance=unit,
        template="staff/estates/_unit_form.html",
        save=lambda f: service.save_unit(unit, f.version.data, f.values(), **audit_context()),
        page_url=url_for(".unit", unit_id=unit.id),
        section="unit",
        render_section=lambda s, oob=False: _unit_section_html(unit.id, s, oob=oob),
        message=_("住戸の情報を保存しました。"),
        title=_("住戸の情報の編集"),
        context=_unit_context(unit),
    )


# --- 利便性係数 and 近傍同種家賃 per fiscal year -----------------------------------------------------------------


def _coefficient_field():
    return DecimalInputField(
        _l("利便性係数"),
        [required()],
        places=3,
        minimum=service.CONVENIENCE_BOUNDS[0],
        maximum=service.CONVENIENCE_BOUNDS[1],
        description=_l("小数点以下3桁まで（例: 0.850）。"),
    )


def _market_rent_field():
    return YenInputField(_l("近傍同種家賃（月額・円）"), [required()])


def _check_market_rent(field) -> None:
    if field.data is not None and not 1 <= field.data <= service.MARKET_RENT_MAX:
        raise ValidationError(
            _l("近傍同種家賃は1円から%(max)s円までで入力してください。", max=f"{service.MARKET_RENT_MAX:,}")
        )


class FigureForm(FlaskForm):
    """A fiscal year's 利便性係数 and 近傍同種家賃 (the year is fixed once entered)."""

    version = VersionField()
    convenience_coefficient = _coefficient_field()
    market_rent = _market_rent_field()

    columns = {"convenience_coefficient": "convenience_coefficient", "market_rent": "market_rent"}

    def validate_market_rent(self, field) -> None:
        _check_market_rent(field)

    def values(self) -> dict:
        return {
            "convenience_coefficient": self.convenience_coefficient.data,
            "market_rent": self.market_rent.data,
        }


class NewFigureForm(FlaskForm):
    """A new fiscal year's 利便性係数 and 近傍同種家賃 for a unit."""

    fiscal_year = SmallIntegerField(
        _l("年度"), [required()], description=_l("西暦で入力（例: 2026 は令和8年度）。")
    )
    convenience_coefficient = _coefficient_field()
    market_rent = _market_rent_field()

    def validate_fiscal_year(self, field) -> None:
        latest = service.current_fiscal_year() + 2
        if field.data is not None and not FISCAL_YEAR_MIN <= field.data <= latest:
            raise ValidationError(
                _l("年度は%(min)sから%(max)sまでの西暦で入力してください。", min=FISCAL_YEAR_MIN, max=latest)
            )

    def validate_market_rent(self, field) -> None:
        _check_market_rent(field)

    def values(self) -> dict:
        return {
            "fiscal_year": self.fiscal_year.data,
            "convenience_coefficient": self.convenience_coefficient.data,
            "market_rent": self.market_rent.data,
        }


def _added(figure: UnitYearFigure) -> dict:
    return {"fiscal_year": (None, figure.fiscal_year)}


@bp.route("/units/<int:unit_id>/figures/new", methods=["GET", "POST"])
def add_figure(unit_id: int):
    """Add a fiscal year's 利便性係数 and 近傍同種家賃 to the unit."""
    unit = _unit_or_404(unit_id)
    form = NewFigureForm()
    if request.method == "GET":
        form.fiscal_year.data = service.next_fiscal_year_for(unit.id)
    return _edit(
        form=form,
        instance=unit,
        template="staff/estates/_figure_form.html",
        save=lambda f: _added(service.add_figure(unit, f.values(), **audit_context())),
        page_url=url_for(".unit", unit_id=unit.id),
        section="figures",
        render_section=lambda s, oob=False: _unit_section_html(unit.id, s, oob=oob),
        message=_("年度の数値を登録しました。"),
        title=_("年度の数値の登録"),
        context={**_unit_context(unit), "figure": None},
    )


@bp.route("/units/<int:unit_id>/figures/<int:figure_id>/edit", methods=["GET", "POST"])
def edit_figure(unit_id: int, figure_id: int):
    """Edit one fiscal year's 利便性係数 and 近傍同種家賃 of the unit."""
    figure = UnitYearFigure.get_or_none((UnitYearFigure.id == figure_id) & (UnitYearFigure.unit == unit_id))
    if figure is None:
        abort(404)
    unit = figure.unit
    form = FigureForm(obj=figure, version=figure.version)
    return _edit(
        form=form,
        instance=figure,
        template="staff/estates/_figure_form.html",
        save=lambda f: service.save_figure(figure, f.version.data, f.values(), **audit_context()),
        page_url=url_for(".unit", unit_id=unit.id),
        section="figures",
        render_section=lambda s, oob=False: _unit_section_html(unit.id, s, oob=oob),
        message=_("年度の数値を保存しました。"),
        title=_("年度の数値の編集"),
        context={**_unit_context(unit), "figure": figure},
    )
