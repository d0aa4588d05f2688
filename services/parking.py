"""Parking (駐車場): lots, spaces, contracts and vehicles of the tenant file, and the 車検切れ list.

The rules a contract follows (SPEC §2 "Parking"; the office's practice where the spec is silent):

- A household may use a space of a lot of the estate it lives in now (its active tenancy's estate),
  and only a space that is free (status 空き). A space has one active contract at most (a partial
  unique index), so two clerks giving the same space at the same moment get exactly one contract.
- The 区画使用者 is a current member of the household: a member on the 使用開始日 and still today
  (not moved out, not deceased).
- **One space per household.** A second active contract needs an officer's approval (駐車場の2区画目,
  e.g. a care worker's car for a member who needs care). Design: the approval is recorded on the
  additional contract itself — ``extra_space_approved_by`` (the officer) and ``extra_space_reason``
  (why) — and only an officer can give it, by ticking it in the contract form with a reason (a staff
  member's form has no such field, and a forged one is ignored). The check runs under a lock on the
  household (PostgreSQL: SELECT … FOR UPDATE of its row; SQLite: every transaction takes the write
  lock up front), so two clerks starting contracts for one household at the same moment get exactly
  one. No unique index says it: households that held two spaces before the rule keep them.
- The fee is the space's monthly fee (the lot's standard fee, unless the space has its own), copied
  onto the contract at the start; the 減免額 is at most that fee (also a CHECK in the database).
- A contract on a space starts after the previous contract of that space ended (no overlap).
- Ending a contract (廃止): 廃止日 ≥ 使用開始日; the space becomes free again and the vehicles still
  registered on the contract get the 廃止日 as their 登録抹消日.
- Vehicles are registered on an active contract, one at a time (a replacement ends the old one
  first); their 登録日 is within the contract. A registration number is registered on one active
  contract only.

Registration numbers are stored the way the plate reads: 「川崎 500 あ 12-34」 (地名, 分類番号,
ひらがな, 一連指定番号; below 1000 the empty places are dots: 「・123」「・・12」), whatever the width,
spacing or dashes typed. 車台番号 are upper-case alphanumerics with hyphens.

Every change is one transaction with its audit entry, filed under the household (target "household",
fields "parking_contract.column" / "vehicle.column"), which the 駐車場 section's history reads back.
Like the other services this module never reads the request: callers pass the audit context.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import jaconv
from flask_babel import lazy_gettext as _l
from peewee import JOIN, Case, IntegrityError, fn

from extensions import db, is_sqlite
from models import (
    Estate,
    Household,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    Person,
    Tenancy,
    Unit,
    Vehicle,
    Ward,
)
from models.base import utcnow
from models.housing import Building
from rules import wareki
from rules.filters import today_tokyo
from services import access, audit, editing
from services.editing import ConflictError, RuleViolation

__all__ = [
    "ConflictError",
    "PlateError",
    "RuleViolation",
    "normalize_plate",
    "normalize_chassis",
]

SOON_DAYS = 30  # the 車検切れ list's "expires within" filter
MAX_FEE = 1_000_000  # a monthly parking fee above this is a typing error (and would overflow nothing)
MAX_NEW_SPACES = 200  # spaces added at once (a range)

# --- registration numbers (ナンバープレート) ---------------------------------------------------------

# 分類番号: 1-3 digits; since 2017 the last two places may hold one of these letters (希望番号の枯渇対策).
PLATE_CLASS_LETTERS = "ACFHKLMPXY"
# Never used on plates: お (looks like あ), し (死), へ (屁), ん (hard to say).
PLATE_UNUSED_KANA = "おしへん"
_DASHES = "-‐‑‒–—―−ー─━"
_PLATE = re.compile(
    r"(?P<area>[^\d]+?)(?P<cls>\d[0-9A-Za-z]{2}|\d+)(?P<kana>[^\d・." + re.escape(_DASHES) + r"]+?)"
    r"(?P<serial>[・.\d" + re.escape(_DASHES) + r"]+)"
)
_AREA = re.compile(r"[\u4e00-\u9fff\u3005\u30f6\u3041-\u3096]{1,4}")
_CLASS = re.compile(r"\d{1,3}|\d[0-9" + PLATE_CLASS_LETTERS + r"]{2}")
_HIRAGANA = re.compile(r"[\u3041-\u3096]")


class PlateError(ValueError):
    """A registration number that cannot be read: message for the user."""


def normalize_plate(text: str) -> str:
    """「川崎500あ1234」「川崎　５００　ア　１２－３４」… → 「川崎 500 あ 12-34」; PlateError otherwise."""
    cleaned = "".join(unicodedata.normalize("NFKC", text or "").split())
    whole = _PLATE.fullmatch(cleaned) if len(cleaned) <= 30 else None
    if not whole:
        raise PlateError(
            _l(
                "ナンバープレートのとおり、地名・分類番号・ひらがな・一連番号の順に入力してください"
                "（例: 川崎 500 あ 12-34）。"
            )
        )
    area, cls = whole["area"], whole["cls"].upper()
    kana = jaconv.kata2hira(whole["kana"])
    digits = "".join(ch for ch in whole["serial"] if ch.isdigit())
    if not _AREA.fullmatch(area):
        raise PlateError(_l("地名（川崎、横浜など）は漢字またはひらがな4文字以内で入力してください。"))
    if not _CLASS.fullmatch(cls):
        raise PlateError(
            _l(
                "分類番号は1〜3桁の数字で入力してください（例: 500、33、3CA）。英字はA C F H K L M P X Yだけです。"
            )
        )
    if not _HIRAGANA.fullmatch(kana):
        raise PlateError(_l("分類番号の後のひらがなは1文字で入力してください（例: あ、さ、わ）。"))
    if kana in PLATE_UNUSED_KANA:
        raise PlateError(
            _l("「お」「し」「へ」「ん」はナンバープレートに使われません。もう一度確認してください。")
        )
    if not 1 <= len(digits) <= 4 or int(digits) == 0:
        raise PlateError(_l("一連番号は1〜4桁の数字で入力してください（例: 12-34、・123）。"))
    number = int(digits)
    serial = f"{number // 100}-{number % 100:02d}" if number >= 1000 else f"{number:・>4}"
    return f"{area} {cls} {kana} {serial}"


_CHASSIS = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")


def normalize_chassis(text: str) -> str:
    """車台番号: 「zvw30‐1234567」→「ZVW30-1234567」; ValueError unless alphanumerics and hyphens."""
    cleaned = "".join(unicodedata.normalize("NFKC", text or "").split()).upper()
    for dash in _DASHES:
        cleaned = cleaned.replace(dash, "-")
    if not _CHASSIS.fullmatch(cleaned) or not 4 <= len(cleaned) <= 30:
        raise ValueError("chassis")
    return cleaned


def plate_order_key(registration_no: str) -> str:
    """A sort key that ignores spacing (for lists sorted by plate)."""
    return "".join(registration_no.split())


# --- who and where ------------------------------------------------------------------------------------


def estate_of(household_id: int) -> Estate | None:
    """The estate of the household's active tenancy (None when it lives nowhere now)."""
    return (
        Estate.select(Estate)
        .join(Building)
        .join(Unit)
        .join(Tenancy)
        .where((Tenancy.household == household_id) & (Tenancy.status == "active"))
        .first()
    )


def current_members(household_id: int, today: dt.date | None = None) -> list[Person]:
    """Members who may be a 区画使用者 today: not moved out, not deceased; the head first."""
    today = today or today_tokyo()
    return list(
        Person.select()
        .where(
            (Person.household == household_id)
            & (Person.member_from <= today)
            & (Person.member_to.is_null() | (Person.member_to >= today))
            & Person.deceased_on.is_null()
        )
        .order_by(Person.is_head.desc(), Person.member_from, Person.birth_date, Person.id)
    )


def vacant_spaces(estate_id: int | None) -> list[ParkingSpace]:
    """The free spaces of the lots of an estate, lot by lot, in number order."""
    if estate_id is None:
        return []
    spaces = list(
        ParkingSpace.select(ParkingSpace, ParkingLot)
        .join(ParkingLot)
        .where((ParkingLot.estate == estate_id) & (ParkingSpace.status == "available"))
    )
    return sorted(spaces, key=lambda s: (s.lot.code, _number_key(s.space_no)))


def _number_key(space_no: str):
    return (0, int(space_no), "") if space_no.isascii() and space_no.isdigit() else (1, 0, space_no)


def space_label(space: ParkingSpace) -> str:
    """「○○駐車場 12番」 for lists and the history."""
    return f"{space.lot.name} {space.space_no}番"


def _member_error(person: Person | None, household_id: int, start: dt.date, today: dt.date):
    """Why person cannot be the 区画使用者 of a contract starting on start (None when they can)."""
    if person is None or person.household_id != household_id:
        return RuleViolation(_l("区画使用者はこの世帯の世帯員から選んでください。"), "user_person")
    if person.deceased_on is not None or (person.member_to is not None and person.member_to < today):
        return RuleViolation(
            _l(
                "%(name)sさんは現在の世帯員ではありません（転出・死亡）。現在の世帯員から選んでください。",
                name=person.name,
            ),
            "user_person",
        )
    if person.member_from > start or (person.member_to is not None and person.member_to < start):
        return RuleViolation(
            _l(
                "%(name)sさんは使用開始日（%(date)s）に世帯員ではありません。",
                name=person.name,
                date=wareki.to_wareki(start),
            ),
            "start_date",
        )
    return None


# --- contracts ----------------------------------------------------------------------------------------


def _contract_changes(values: dict) -> tuple[list[str], dict]:
    fields = [f"parking_contract.{name}" for name in values]
    changes = {f"parking_contract.{name}": [before, after] for name, (before, after) in values.items()}
    return fields, changes


def _status_label(code: str | None) -> str | None:
    return ParkingContract.status.label(code) if code else None


def start_contract(
    household: Household,
    *,
    space_id: int,
    user_person_id: int,
    start_date: dt.date,
    reduction_amount: int = 0,
    note: str | None = None,
    approver=None,
    approval_reason: str | None = None,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
) -> ParkingContract:
    """A new contract of household on a free space (the rules in the module docstring), audited.

    approver: the officer approving an additional space (None for staff); approval_reason is then
    required. RuleViolation (field named) when a rule refuses it; nothing is written then.
    """
    today = today or today_tokyo()
    try:
        with db.atomic():
            if not is_sqlite():  # serialise contracts of one household (SQLite: BEGIN IMMEDIATE does)
                Household.select(Household.id).where(Household.id == household.id).for_update().execute()
            estate = estate_of(household.id)
            if estate is None:
                raise RuleViolation(_l("入居中の世帯ではないため、駐車場を契約できません。"), "space")
            space = (
                ParkingSpace.select(ParkingSpace, ParkingLot)
                .join(ParkingLot)
                .where(ParkingSpace.id == space_id)
                .first()
            )
            if space is None or space.lot.estate_id != estate.id:
                raise RuleViolation(_l("この世帯が入居している団地の駐車場の区画を選んでください。"), "space")
            if space.status != "available":
                raise RuleViolation(
                    _l(
                        "%(space)sは空いていません（%(status)s）。",
                        space=space_label(space),
                        status=ParkingSpace.status.label(space.status),
                    ),
                    "space",
                )
            last_end = (
                ParkingContract.select(fn.MAX(ParkingContract.end_date))
                .where((ParkingContract.space == space.id) & (ParkingContract.status == "ended"))
                .scalar()
            )
            if last_end is not None and start_date <= last_end:
                raise RuleViolation(
                    _l(
                        "この区画の前の契約の廃止日（%(date)s）より後の日付を入力してください。",
                        date=wareki.to_wareki(last_end),
                    ),
                    "start_date",
                )
            person = Person.get_or_none(Person.id == user_person_id)
            problem = _member_error(person, household.id, start_date, today)
            if problem is not None:
                raise problem
            fee = space.monthly_fee
            if reduction_amount > fee:
                raise RuleViolation(
                    _l("減免額は駐車場使用料（%(fee)s円）以下にしてください。", fee=f"{fee:,}"),
                    "reduction_amount",
                )
            others = list(
                ParkingContract.select(ParkingContract, ParkingSpace, ParkingLot)
                .join(ParkingSpace)
                .join(ParkingLot)
                .where((ParkingContract.household == household.id) & (ParkingContract.status == "active"))
            )
            if not others:
                approver, approval_reason = None, None  # the first space needs no approval
            elif approver is None or getattr(approver, "role", None) != "officer":
                raise RuleViolation(
                    _l(
                        "この世帯はすでに駐車場を使用しています（%(spaces)s）。1世帯1区画のため、"
                        "2区画目は保護責任者の承認が必要です。",
                        spaces="、".join(space_label(c.space) for c in others),
                    ),
                    "space",
                )
            elif not approval_reason:
                raise RuleViolation(_l("2区画目を承認する理由を入力してください。"), "approval_reason")
            contract = ParkingContract.create(
                space=space.id,
                household=household.id,
                user_person=person.id,
                start_date=start_date,
                monthly_fee=fee,
                reduction_amount=reduction_amount,
                status="active",
                note=note,
                extra_space_approved_by=approver.id if approver is not None else None,
                extra_space_reason=approval_reason,
            )
            taken = (
                ParkingSpace.update(
                    status="contracted", version=ParkingSpace.version + 1, updated_at=utcnow()
                )
                .where((ParkingSpace.id == space.id) & (ParkingSpace.status == "available"))
                .execute()
            )
            if taken != 1:
                raise RuleViolation(
                    _l("この区画はほかの職員が先に契約しました。別の区画を選んでください。"), "space"
                )
            values = {
                "space": (None, space_label(space)),
                "user_person": (None, person.name),
                "start_date": (None, start_date.isoformat()),
                "monthly_fee": (None, fee),
                "reduction_amount": (None, reduction_amount),
                "status": (None, _status_label("active")),
            }
            if note:
                values["note"] = (None, note)
            if approver is not None:
                values["extra_space_approved_by"] = (None, approver.display_name)
                values["extra_space_reason"] = (None, approval_reason)
            fields, changes = _contract_changes(values)
            audit.record(
                "parking.contract.start",
                actor=actor,
                session_ref=session_ref,
                ip=ip,
                target_table="household",
                target_ids=[household.id],
                fields=fields,
                changes=changes,
                reason=f"parking_contract {contract.id}",
            )
    except IntegrityError as exc:
        # The partial unique index: another clerk took the space meanwhile.
        raise RuleViolation(
            _l("この区画はほかの職員が先に契約しました。別の区画を選んでください。"), "space"
        ) from exc
    return contract


def update_contract(
    contract: ParkingContract,
    expected_version: int,
    *,
    user_person_id: int,
    reduction_amount: int,
    note: str | None,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
    today: dt.date | None = None,
) -> dict:
    """Change an active contract's 区画使用者, 減免額 or 備考 (optimistic: ConflictError), audited."""
    today = today or today_tokyo()
    if contract.version != expected_version:
        raise ConflictError(contract, expected_version)
    if contract.status != "active":
        raise RuleViolation(_l("廃止された契約は変更できません。"))
    if reduction_amount > contract.monthly_fee:
        raise RuleViolation(
            _l("減免額は駐車場使用料（%(fee)s円）以下にしてください。", fee=f"{contract.monthly_fee:,}"),
            "reduction_amount",
        )
    values = {}
    if user_person_id != contract.user_person_id:
        person = Person.get_or_none(Person.id == user_person_id)
        problem = _member_error(person, contract.household_id, max(today, contract.start_date), today)
        if problem is not None:
            problem.field = "user_person"
            raise problem
        before = Person.get_by_id(contract.user_person_id).name
        values["user_person"] = (before, person.name)
        contract.user_person = person.id
    if reduction_amount != contract.reduction_amount:
        values["reduction_amount"] = (contract.reduction_amount, reduction_amount)
        contract.reduction_amount = reduction_amount
    if (note or None) != (contract.note or None):
        values["note"] = (contract.note, note)
        contract.note = note
    if not values:
        return {}
    only = [ParkingContract._meta.fields[name] for name in values]
    fields, changes = _contract_changes(values)
    with db.atomic():
        contract.save_versioned(expected_version, only=only)
        audit.record(
            "parking.contract.update",
            actor=actor,
            session_ref=session_ref,
            ip=ip,
            target_table="household",
            target_ids=[contract.household_id],
            fields=fields,
            changes=changes,
            reason=f"parking_contract {contract.id}",
        )
    return values


def end_contract(
    contract: ParkingContract,
    expected_version: int,
    *,
    end_date: dt.date,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> None:
    """廃止: the contract ends on end_date, its space is free again, its vehicles are deregistered."""
    if contract.version != expected_version:
        raise ConflictError(contract, expected_version)
    if contract.status != "active":
        raise RuleViolation(_l("この契約はすでに廃止されています。"))
    if end_date < contract.start_date:
        raise RuleViolation(
            _l(
                "廃止日は使用開始日（%(date)s）以降の日付にしてください。",
                date=wareki.to_wareki(contract.start_date),
            ),
            "end_date",
        )
    with db.atomic():
        vehicles = list(
            Vehicle.select().where(
                (Vehicle.contract == contract.id)
                & (Vehicle.valid_to.is_null() | (Vehicle.valid_to > end_date))
            )
        )
        late = [v for v in vehicles if v.valid_from > end_date]
        if late:
            raise RuleViolation(
                _l(
                    "廃止日より後に登録された車両があります（%(number)s）。廃止日を確認してください。",
                    number=late[0].registration_no,
                ),
                "end_date",
            )
        contract.end_date = end_date
        contract.status = "ended"
        contract.save_versioned(expected_version, only=[ParkingContract.end_date, ParkingContract.status])
        ParkingSpace.update(status="available", version=ParkingSpace.version + 1, updated_at=utcnow()).where(
            (ParkingSpace.id == contract.space_id) & (ParkingSpace.status == "contracted")
        ).execute()
        values = {
            "end_date": (None, end_date.isoformat()),
            "status": (_status_label("active"), _status_label("ended")),
        }
        fields, changes = _contract_changes(values)
        for vehicle in vehicles:
            before = vehicle.valid_to
            vehicle.valid_to = end_date
            vehicle.save_versioned(vehicle.version, only=[Vehicle.valid_to])
            fields.append("vehicle.valid_to")
            changes["vehicle.valid_to"] = [before.isoformat() if before else None, end_date.isoformat()]
        audit.record(
            "parking.contract.end",
            actor=actor,
            session_ref=session_ref,
            ip=ip,
            target_table="household",
            target_ids=[contract.household_id],
            fields=fields,
            changes=changes,
            reason=f"parking_contract {contract.id}",
        )


# --- vehicles -----------------------------------------------------------------------------------------


def check_vehicle(contract: ParkingContract, values: dict, vehicle: Vehicle | None = None) -> None:
    """The vehicle rules for values about to be saved (RuleViolation, with its field)."""
    valid_from = values.get("valid_from", vehicle.valid_from if vehicle else None)
    valid_to = values.get("valid_to", vehicle.valid_to if vehicle else None)
    if valid_from is not None and valid_from < contract.start_date:
        raise RuleViolation(
            _l(
                "登録日は駐車場の使用開始日（%(date)s）以降にしてください。",
                date=wareki.to_wareki(contract.start_date),
            ),
            "valid_from",
        )
    if contract.end_date is not None and valid_from is not None and valid_from > contract.end_date:
        raise RuleViolation(
            _l(
                "登録日は契約の廃止日（%(date)s）までにしてください。",
                date=wareki.to_wareki(contract.end_date),
            ),
            "valid_from",
        )
    if valid_to is not None and valid_from is not None and valid_to < valid_from:
        raise RuleViolation(_l("登録抹消日は登録日以降の日付にしてください。"), "valid_to")
    if contract.end_date is not None and valid_to is not None and valid_to > contract.end_date:
        raise RuleViolation(
            _l(
                "登録抹消日は契約の廃止日（%(date)s）までにしてください。",
                date=wareki.to_wareki(contract.end_date),
            ),
            "valid_to",
        )
    plate = values.get("registration_no")
    if plate and (vehicle is None or plate != vehicle.registration_no):
        taken = (
            Vehicle.select(Vehicle.id)
            .join(ParkingContract)
            .where(
                (Vehicle.registration_no == plate)
                & (ParkingContract.status == "active")
                & Vehicle.valid_to.is_null()
                & (Vehicle.id != (vehicle.id if vehicle else 0))
            )
            .exists()
        )
        if taken:
            raise RuleViolation(_l("この登録番号の車両はすでに駐車場に登録されています。"), "registration_no")


def add_vehicle(
    contract: ParkingContract,
    values: dict,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> Vehicle:
    """Register a vehicle on an active contract (one current vehicle per contract), audited."""
    with db.atomic():
        if contract.status != "active":
            raise RuleViolation(_l("廃止された契約には車両を登録できません。"))
        check_vehicle(contract, values)
        current = (
            Vehicle.select()
            .where(
                (Vehicle.contract == contract.id)
                & (Vehicle.valid_to.is_null() | (Vehicle.valid_to > values["valid_from"]))
            )
            .first()
        )
        if current is not None:
            raise RuleViolation(
                _l(
                    "この区画には登録中の車両（%(number)s）があります。買替えのときは先にその車両の登録抹消日を入力してください。",
                    number=current.registration_no,
                ),
                "registration_no",
            )
        return editing.create(
            Vehicle,
            {"contract": contract.id, **values},
            household_id=contract.household_id,
            action="vehicle.create",
            actor=actor,
            session_ref=session_ref,
            ip=ip,
        )


# --- lots and spaces ----------------------------------------------------------------------------------


@dataclass
class LotRow:
    lot: ParkingLot
    spaces: int
    vacant: int
    closed: int


def lots_overview(ward_id: int | None = None) -> list[LotRow]:
    """Every lot with its estate and ward, and its counts of spaces (one query)."""
    spaces = fn.COUNT(ParkingSpace.id)
    vacant = fn.COALESCE(fn.SUM(Case(None, [(ParkingSpace.status == "available", 1)], 0)), 0)
    closed = fn.COALESCE(fn.SUM(Case(None, [(ParkingSpace.status == "closed", 1)], 0)), 0)
    query = (
        ParkingLot.select(
            ParkingLot,
            Estate,
            Ward,
            spaces.alias("n_spaces"),
            vacant.alias("n_vacant"),
            closed.alias("n_closed"),
        )
        .join(Estate)
        .join(Ward)
        .switch(ParkingLot)
        .join(ParkingSpace, JOIN.LEFT_OUTER)
        .group_by(ParkingLot.id, Estate.id, Ward.id)
        .order_by(Ward.code, Estate.code, ParkingLot.code)
    )
    if ward_id is not None:
        query = query.where(Estate.ward == ward_id)
    return [LotRow(lot, int(lot.n_spaces), int(lot.n_vacant), int(lot.n_closed)) for lot in query]


@dataclass
class SpaceRow:
    space: ParkingSpace
    contract: ParkingContract | None
    visible: bool  # the contract's household is within the user's scope (支援措置: not shown)


def lot_with_estate(lot_id: int) -> ParkingLot | None:
    return (
        ParkingLot.select(ParkingLot, Estate, Ward)
        .join(Estate)
        .join(Ward)
        .where(ParkingLot.id == lot_id)
        .first()
    )


def space_rows(lot: ParkingLot, user) -> list[SpaceRow]:
    """The spaces of a lot with their active contract, household and 区画使用者 (one query)."""
    visible = ParkingContract.household.in_(access.visible_households(user))
    rows = (
        ParkingSpace.select(ParkingSpace, ParkingContract, Household, Person, visible.alias("in_scope"))
        .join(
            ParkingContract,
            JOIN.LEFT_OUTER,
            on=((ParkingContract.space == ParkingSpace.id) & (ParkingContract.status == "active")),
        )
        .join(Household, JOIN.LEFT_OUTER, on=(ParkingContract.household == Household.id))
        .switch(ParkingContract)
        .join(Person, JOIN.LEFT_OUTER, on=(ParkingContract.user_person == Person.id))
        .where(ParkingSpace.lot == lot.id)
    )
    result = []
    for space in rows:
        contract = getattr(space, "parkingcontract", None)
        if contract is not None and contract.id is None:
            contract = None
        result.append(SpaceRow(space, contract, bool(space.in_scope) if contract else False))
    return sorted(result, key=lambda r: _number_key(r.space.space_no))


def audit_lot_view(lot: ParkingLot, rows: list[SpaceRow], **context) -> None:
    """The lot page shows households and 区画使用者: one entry naming the households shown."""
    shown = sorted({r.contract.household_id for r in rows if r.contract and r.visible})
    with db.atomic():
        audit.record(
            "parking.lot.list",
            target_table="household",
            target_ids=shown,
            fields=["household.household_no", "parking_contract.user_person"],
            reason=f"parking_lot {lot.id}",
            **context,
        )


def add_spaces(
    lot: ParkingLot,
    numbers: list[str],
    monthly_fee: int,
    *,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> list[ParkingSpace]:
    """New spaces of a lot (all or none), each audited against parking_space."""
    if not numbers:
        raise RuleViolation(_l("区画番号を入力してください。"), "space_from")
    if len(numbers) > MAX_NEW_SPACES:
        raise RuleViolation(_l("一度に追加できる区画は%(max)s区画までです。", max=MAX_NEW_SPACES), "space_to")
    taken = sorted(
        (
            s.space_no
            for s in ParkingSpace.select(ParkingSpace.space_no).where(
                (ParkingSpace.lot == lot.id) & ParkingSpace.space_no.in_(numbers)
            )
        ),
        key=_number_key,
    )
    if taken:
        raise RuleViolation(
            _l("すでにある区画番号です: %(numbers)s", numbers="、".join(taken[:10])), "space_from"
        )
    created = []
    with db.atomic():
        for number in numbers:
            created.append(
                editing.create(
                    ParkingSpace,
                    {"lot": lot.id, "space_no": number, "monthly_fee": monthly_fee, "status": "available"},
                    household_id=None,
                    action="parking_space.create",
                    actor=actor,
                    session_ref=session_ref,
                    ip=ip,
                )
            )
    return created


def space_has_active_contract(space_id: int) -> bool:
    return (
        ParkingContract.select(ParkingContract.id)
        .where((ParkingContract.space == space_id) & (ParkingContract.status == "active"))
        .exists()
    )


# --- the 車検切れ list --------------------------------------------------------------------------------


@dataclass
class InspectionRow:
    vehicle: Vehicle
    estate_name: str
    lot_name: str
    space_no: str
    household_id: int
    household_no: str
    visible: bool
    days: int  # days past the expiry (negative: days left)


def inspections(
    user, *, today: dt.date | None = None, soon: bool = False, estate_id: int | None = None
) -> list[InspectionRow]:
    """Current vehicles of active contracts whose 車検 expired before today (or, soon, expires within
    SOON_DAYS days), oldest expiry first; one query whatever the number of rows."""
    today = today or today_tokyo()
    limit = today + dt.timedelta(days=SOON_DAYS) if soon else today - dt.timedelta(days=1)
    visible = ParkingContract.household.in_(access.visible_households(user))
    query = (
        Vehicle.select(
            Vehicle.id,
            Vehicle.registration_no,
            Vehicle.model,
            Vehicle.inspection_expiry,
            ParkingContract.household.alias("household_id"),
            Household.household_no,
            ParkingSpace.space_no,
            ParkingLot.name.alias("lot_name"),
            Estate.name.alias("estate_name"),
            visible.alias("in_scope"),
        )
        .join(ParkingContract)
        .join(Household)
        .switch(ParkingContract)
        .join(ParkingSpace)
        .join(ParkingLot)
        .join(Estate)
        .where(
            (ParkingContract.status == "active")
            & (Vehicle.valid_to.is_null() | (Vehicle.valid_to >= today))
            & Vehicle.inspection_expiry.is_null(False)
            & (Vehicle.inspection_expiry <= limit)
        )
        .order_by(Vehicle.inspection_expiry, Estate.code, ParkingLot.code, Vehicle.id)
    )
    if estate_id is not None:
        query = query.where(Estate.id == estate_id)
    rows = []
    for row in query.dicts():
        expiry = row["inspection_expiry"]
        vehicle = Vehicle(
            id=row["id"], registration_no=row["registration_no"], model=row["model"], inspection_expiry=expiry
        )
        rows.append(
            InspectionRow(
                vehicle=vehicle,
                estate_name=row["estate_name"],
                lot_name=row["lot_name"],
                space_no=row["space_no"],
                household_id=row["household_id"],
                household_no=row["household_no"],
                visible=bool(row["in_scope"]),
                days=(today - expiry).days,
            )
        )
    return rows


def audit_inspections(rows: list[InspectionRow], *, soon: bool, **context) -> None:
    """The list shows households and registration numbers: one entry naming the households shown."""
    with db.atomic():
        audit.record(
            "parking.inspections.list",
            target_table="household",
            target_ids=sorted({r.household_id for r in rows if r.visible}),
            fields=["household.household_no", "vehicle.registration_no", "vehicle.inspection_expiry"],
            reason=f"rows={len(rows)}; soon={int(soon)}",
            **context,
        )
