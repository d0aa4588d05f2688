"""Changes the 公社 enters on the portal, applied only when a city staff member approves them (SPEC §5).

    draft = pending_changes.inspection(vehicle, dt.date(2027, 5, 31))     # checked now, written nowhere
    change = pending_changes.propose(draft, office=office, **audit_context())
    pending_changes.approve(change, reviewer, expected_version=change.version, keyring=keyring, …)
    pending_changes.return_(change, reviewer, "車検証の写しと日付が違います", expected_version=…)
    pending_changes.resubmit(change, corrected_draft, expected_version=…, …)  # after a return
    pending_changes.withdraw(change, expected_version=…, …)

The maker-checker, as the office and the city run it:

- **A draft is checked when it is entered** by the same rules the staff screens apply (services.parking,
  services.bank_transfers, services.declarations.check): the agent sees the messages beside the fields
  at once, not days later. Where a rule lives inside a service's write (a free parking space, the
  current vehicle of a contract, the bank-transfer dates), the write is tried inside a transaction
  that is always rolled back (``_dry_run``), so the rules are the services' own and never copied.
- **A proposal is one row** of pending_change: the office and household, the target table and id, the
  action (create/update), the payload of new values, the ``before`` snapshot and the target's version
  at the time (``target_version``), with the audit entry ``pending_change.submit`` in the same
  transaction. One open change (承認待ち or 差戻し) per target ("slot") at a time, so two proposals
  never race each other to the reviewer.
- **Approval applies the change in one transaction through the existing services** — editing.update
  for vehicles, services.parking for contracts and new vehicles, services.bank_transfers,
  services.declarations.save (and services.member_records for My Numbers) — which write their usual
  audit entries, plus the change's own state. Every entry written meanwhile names both people
  (services.audit.on_behalf: 「公社 {office}: {maker} 入力、{reviewer} 承認」), so the household page's
  history says who entered it and who approved it. The reviewer is city staff (staff or officer) and
  never the maker (a CHECK in the database says so too). When the target changed since the proposal
  (its version, the current bank-transfer registration, the declaration or its members), approval is
  refused with a message (``Refused(stale=True)``) and nothing is applied: the reviewer returns it.
- **A return (差戻し) needs a comment**, which the agent sees; the maker corrects and resubmits (the
  snapshot and version are taken again) or withdraws it.

My Numbers typed on the portal (write-only). Decision: held encrypted until approval, in
pending_my_number (AES-256-GCM through the vault, associated data bound to the change and the member),
never in the payload, the ``before`` or any diff: the payload lists the members only. Approval stores
each number through services.member_records.register_my_number (check digit, duplicate check, its own
audit entries) and deletes the held row in the same transaction; a withdrawal deletes it. So the city
checks a number before it enters the file, like every other value the agent keys in, and the portal
never reads a number back: not the held one, not the stored one, not even masked.

Like the other services this module never reads the request: callers pass the audit context.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from extensions import db
from models import (
    BankTransfer,
    DeletionRecord,
    Household,
    IncomeDeclaration,
    Office,
    ParkingContract,
    ParkingLot,
    ParkingSpace,
    PendingChange,
    PendingMyNumber,
    Person,
    User,
    Vehicle,
)
from models.base import ConflictError, utcnow
from models.income import DECLARATION_STATUSES, DISABILITY_LEVELS, INCOME_SOURCES
from models.tenancy import ACCOUNT_TYPES, TRANSFER_PURPOSES
from rules import mynumber as mynumber_rules
from rules import wareki
from rules.filters import today_tokyo
from services import audit, bank_transfers, banks, declarations, editing, member_records, mynumber
from services import parking as parking_service
from services.editing import RuleViolation, history_value
from services.household_file import column_label, mask_account, worded
from services.vault import VaultError

__all__ = [
    "KINDS",
    "OPEN_STATES",
    "Draft",
    "NotAllowed",
    "Refused",
    "approve",
    "propose",
    "resubmit",
    "return_",
    "withdraw",
]

REVIEWER_ROLES = frozenset({"staff", "officer"})  # city staff (SPEC §1); an agent never approves
OPEN_STATES = ("submitted", "returned")  # the change is still the agent's or the reviewer's to act on
COMMENT_MAX = 1000
BEHALF_NOTE = "公社 {office}: {maker} 入力、{reviewer} 承認"

# kind → (target table, Japanese name). The kind is in the payload; the table in target_table.
KINDS = {
    "vehicle.inspection": ("vehicle", _l("車検有効期間の更新")),
    "vehicle.update": ("vehicle", _l("車両の変更")),
    "vehicle.end": ("vehicle", _l("車両の登録抹消")),
    "vehicle.create": ("vehicle", _l("車両の登録")),
    "parking_contract.create": ("parking_contract", _l("駐車場の契約")),
    "bank_transfer.create": ("bank_transfer", _l("口座振替の登録")),
    "income_declaration.save": ("income_declaration", _l("収入申告")),
}
VEHICLE_COLUMNS = (
    "registration_no",
    "model",
    "chassis_no",
    "owner_name",
    "user_name",
    "inspection_expiry",
    "valid_from",
)
CONTRACT_COLUMNS = ("space", "user_person", "start_date", "reduction_amount", "note")
DATE_KEYS = frozenset(
    {"inspection_expiry", "valid_from", "valid_to", "start_date", "submitted_on", "birth_date"}
)


class NotAllowed(PermissionError):
    """This person may not do this to the change (a reviewer who is not city staff, the maker approving
    their own change, someone else withdrawing it): message for the screen."""

    def __init__(self, message):
        super().__init__("not allowed")
        self.message = message


class Refused(RuleViolation):
    """The change cannot be applied as it is: nothing was applied. stale: the target changed since the
    change was submitted (the reviewer returns it so that the agent enters it again)."""

    def __init__(self, message, field: str | None = None, *, stale: bool = False):
        super().__init__(message, field)
        self.stale = stale


# --- payloads ----------------------------------------------------------------------------------------


def _to_json(values: Mapping) -> dict:
    return {name: history_value(value) for name, value in values.items()}


def _from_json(values: Mapping) -> dict:
    out = {}
    for name, value in values.items():
        if name in DATE_KEYS and isinstance(value, str):
            value = dt.date.fromisoformat(value)
        out[name] = value
    return out


def _json_object(text: str | None) -> dict:
    """A stored JSON object, {} when absent, unreadable or not an object."""
    try:
        value = json.loads(text or "null")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def payload_of(change: PendingChange) -> dict:
    """The change's payload as stored (JSON), {} when unreadable."""
    return _json_object(change.payload)


def before_of(change: PendingChange) -> dict:
    return _json_object(change.before)


def kind_of(change: PendingChange) -> str:
    return str(payload_of(change).get("kind", ""))


def kind_label(change_or_kind) -> str:
    kind = change_or_kind if isinstance(change_or_kind, str) else kind_of(change_or_kind)
    return str(KINDS.get(kind, ("", kind))[1])


def _entry_to_json(entry: declarations.DeclarationEntry) -> dict:
    return {
        "status": entry.status,
        "source": entry.source,
        "submitted_on": history_value(entry.submitted_on),
        "members": [
            {
                name: getattr(m, name)
                for name in ("person_id", *declarations.AMOUNTS, *declarations.FLAGS, "disability")
            }
            for m in entry.members
        ],
        "remote": [
            {
                "name": r.name,
                "birth_date": history_value(r.birth_date),
                "disability": r.disability,
                "id": r.id,
            }
            for r in entry.remote_dependents
        ],
    }


def entry_from_json(data: Mapping) -> declarations.DeclarationEntry:
    """The declaration entry a payload holds (what the agent typed)."""
    submitted = data.get("submitted_on")
    return declarations.DeclarationEntry(
        status=data.get("status") or "submitted",
        source=data.get("source"),
        submitted_on=dt.date.fromisoformat(submitted) if submitted else None,
        members=tuple(
            declarations.MemberEntry(**{k: v for k, v in m.items() if k in _MEMBER_KEYS})
            for m in data.get("members", [])
        ),
        remote_dependents=tuple(
            declarations.RemoteEntry(
                name=r.get("name") or "",
                birth_date=dt.date.fromisoformat(r["birth_date"]) if r.get("birth_date") else None,
                disability=r.get("disability") or "none",
                id=r.get("id"),
            )
            for r in data.get("remote", [])
        ),
    )


_MEMBER_KEYS = frozenset({"person_id", *declarations.AMOUNTS, *declarations.FLAGS, "disability"})


# --- drafts: what the agent entered, checked, not yet written ---------------------------------------


@dataclass
class Draft:
    """A proposal checked against the rules of the file, ready to be submitted (or resubmitted)."""

    kind: str
    household: Household
    action: str  # create / update
    values: dict  # the payload's new values (JSON-ready)
    slot: str  # what it changes: one open change per slot
    target_id: int | None = None
    target_version: int | None = None
    before: dict | None = None
    extra: dict = field(default_factory=dict)  # more payload keys (the contract of a new vehicle …)
    my_number_people: tuple[int, ...] = ()

    @property
    def target_table(self) -> str:
        return KINDS[self.kind][0]

    def payload(self) -> dict:
        data = {"kind": self.kind, "slot": self.slot, "values": self.values, **self.extra}
        if self.my_number_people:
            data["my_numbers"] = sorted(self.my_number_people)  # members only, never a number
        return data


class _DryRun(Exception):
    pass


def _dry_run(write: Callable[[], object]) -> None:
    """Run a service's write inside a transaction that is rolled back: its rules (RuleViolation) are
    checked against the database as it is, and nothing stays written (its audit entries neither)."""
    try:
        with db.atomic():
            write()
            raise _DryRun
    except _DryRun:
        pass


def _vehicle_draft(kind: str, vehicle: Vehicle, values: dict, expected_version: int | None) -> Draft:
    if expected_version is not None and vehicle.version != expected_version:
        raise ConflictError(vehicle, expected_version)  # saved since the form was opened: 409
    contract = vehicle.contract
    today = today_tokyo()
    if contract.status != "active" or (vehicle.valid_to is not None and vehicle.valid_to < today):
        raise RuleViolation(_l("登録が終わった車両は変更できません。"))
    parking_service.check_vehicle(contract, values, vehicle)
    changed = editing.diff(vehicle, values)
    if not changed:
        raise RuleViolation(_l("変更された項目がありません。変更する内容を入力してください。"))
    return Draft(
        kind=kind,
        household=contract.household,
        action="update",
        values=_to_json({name: after for name, (_, after) in changed.items()}),
        slot=f"vehicle:{vehicle.id}",
        target_id=vehicle.id,
        target_version=vehicle.version,
        before=_to_json({name: before for name, (before, _) in changed.items()}),
    )


def inspection(vehicle: Vehicle, expiry: dt.date, *, expected_version: int | None = None) -> Draft:
    """The new 車検有効期間 of a vehicle (the one-field update). expected_version: the version the form
    showed (ConflictError when it was saved since)."""
    return _vehicle_draft("vehicle.inspection", vehicle, {"inspection_expiry": expiry}, expected_version)


def vehicle_change(vehicle: Vehicle, values: Mapping, *, expected_version: int | None = None) -> Draft:
    """A vehicle's registration changed (登録番号, 車種, 車台番号, 所有者, 使用者, 車検, 登録日)."""
    values = {k: values[k] for k in VEHICLE_COLUMNS if k in values}
    return _vehicle_draft("vehicle.update", vehicle, values, expected_version)


def vehicle_end(vehicle: Vehicle, valid_to: dt.date, *, expected_version: int | None = None) -> Draft:
    """登録抹消: the vehicle stops using the space on valid_to (買替え, 廃車)."""
    return _vehicle_draft("vehicle.end", vehicle, {"valid_to": valid_to}, expected_version)


def new_vehicle(contract: ParkingContract, values: Mapping) -> Draft:
    """A vehicle registered on an active contract (its rules are checked now and again on approval)."""
    values = {k: values[k] for k in VEHICLE_COLUMNS if k in values}
    _dry_run(lambda: parking_service.add_vehicle(contract, dict(values)))
    return Draft(
        kind="vehicle.create",
        household=contract.household,
        action="create",
        values=_to_json(values),
        slot=f"parking_contract:{contract.id}:vehicle",
        extra={"contract": contract.id},
    )


def new_contract(household: Household, values: Mapping) -> Draft:
    """A new parking contract on a free space of the household's estate (one space per household: a
    second one needs an officer at the city, not a proposal)."""
    values = {k: values.get(k) for k in CONTRACT_COLUMNS}
    values["reduction_amount"] = values["reduction_amount"] or 0
    _dry_run(
        lambda: parking_service.start_contract(
            household,
            space_id=values["space"],
            user_person_id=values["user_person"],
            start_date=values["start_date"],
            reduction_amount=values["reduction_amount"],
            note=values["note"],
        )
    )
    return Draft(
        kind="parking_contract.create",
        household=household,
        action="create",
        values=_to_json(values),
        slot="parking_contract:new",
    )


def _transfer_facts(transfer: BankTransfer | None) -> dict | None:
    if transfer is None:
        return None
    facts = {c: getattr(transfer, c) for c in bank_transfers.COLUMNS}
    facts["account_number"] = mask_account(transfer.account_number)  # a snapshot never holds it in full
    return _to_json(facts)


def bank_transfer(household: Household, values: Mapping, *, seen: str) -> Draft:
    """口座振替の登録 from the paper form: values are bank_transfers.COLUMNS (the full account number,
    kept only in the payload, which only the applying service reads); seen: the registration in force
    when the form was opened (bank_transfers.seen_token)."""
    values = {c: values[c] for c in bank_transfers.COLUMNS}
    try:
        _dry_run(lambda: bank_transfers.register(household, values, seen=seen))
    except bank_transfers.Superseded as exc:
        raise RuleViolation(
            _l("この画面を開いた後に口座振替の登録が変わりました。画面を開き直してください。")
        ) from exc
    return Draft(
        kind="bank_transfer.create",
        household=household,
        action="create",
        values=_to_json(values),
        slot=f"bank_transfer:{values['purpose']}",
        before=_transfer_facts(bank_transfers.current_of(household.id, values["purpose"])),
        extra={"seen": seen},
    )


def declaration_open_to_agent(opened: declarations.Opened) -> bool:
    """Whether the agent may key in this fiscal year: no declaration with figures yet (a correction of
    entered incomes is the city's, and the portal never reads the incomes it would correct)."""
    d = opened.declaration
    return d is None or d.status not in declarations.FIGURE_STATUSES


def declaration(
    household: Household,
    fiscal_year: int,
    entry: declarations.DeclarationEntry,
    *,
    my_number_people: Iterable[int] = (),
    today: dt.date | None = None,
) -> Draft:
    """A 収入申告 keyed in from the paper form: checked by declarations.check and computed (masters in
    force) now; DeclarationInvalid with the problems beside their fields, MembersChanged."""
    opened = declarations.load(household, fiscal_year, today)
    if not declaration_open_to_agent(opened):
        raise declarations.DeclarationInvalid(
            [
                (
                    None,
                    str(
                        _l(
                            "この年度の収入申告はすでに登録されています。訂正は市の担当職員に依頼してください。"
                        )
                    ),
                )
            ]
        )
    problems = declarations.check(opened, entry, today)
    if problems:
        raise declarations.DeclarationInvalid(problems)
    if entry.status in declarations.FIGURE_STATUSES:
        declarations.compute(opened, entry)  # the masters of the year must exist (DeclarationInvalid)
    members = {person.id for person in opened.members}
    people = tuple(sorted(set(my_number_people)))
    if any(pid not in members for pid in people):
        raise declarations.MembersChanged()
    d = opened.declaration
    return Draft(
        kind="income_declaration.save",
        household=household,
        action="update" if d is not None else "create",
        values=_entry_to_json(entry),
        slot=f"income_declaration:{fiscal_year}",
        target_id=d.id if d is not None else None,
        target_version=opened.version,
        before={"status": d.status} if d is not None else None,
        extra={"fiscal_year": fiscal_year},
        my_number_people=people,
    )


# --- reading ---------------------------------------------------------------------------------------------


def open_changes(household_id: int) -> list[PendingChange]:
    """The household's changes still open (承認待ち, 差戻し), oldest first."""
    return list(
        PendingChange.select()
        .where((PendingChange.household == household_id) & PendingChange.state.in_(OPEN_STATES))
        .order_by(PendingChange.submitted_at, PendingChange.id)
    )


def open_by_slot(household_id: int) -> dict[str, PendingChange]:
    """{slot: open change} of a household (what its screens mark 承認待ち / 差戻し beside the record)."""
    return {str(payload_of(c).get("slot")): c for c in open_changes(household_id)}


def _refuse_if_open(draft: Draft, *, besides: int | None = None) -> None:
    taken = open_by_slot(draft.household.id).get(draft.slot)
    if taken is not None and taken.id != besides:
        raise RuleViolation(
            _l(
                "この内容には市の承認を待っている入力があります（%(kind)s、%(state)s）。承認・差戻しの後に入力してください。",
                kind=KINDS.get(kind_of(taken), ("", ""))[1],
                state=PendingChange.state.label(taken.state),
            )
        )


def stale_reason(change: PendingChange) -> str | None:
    """Why the change can no longer be applied as entered (its target changed), or None."""
    kind = kind_of(change)
    payload = payload_of(change)
    table = KINDS.get(kind, ("",))[0]
    if kind in ("vehicle.inspection", "vehicle.update", "vehicle.end"):
        current = Vehicle.get_or_none(Vehicle.id == change.target_id)
        if current is None or current.version != change.target_version:
            return str(_l("提出の後に、この車両の登録内容が変更されました。"))
    elif table == "bank_transfer":
        purpose = (payload.get("values") or {}).get("purpose")
        if bank_transfers.seen_token(bank_transfers.current_of(change.household_id, purpose)) != payload.get(
            "seen"
        ):
            return str(_l("提出の後に、口座振替の登録が変わりました。"))
    elif table == "income_declaration":
        opened = declarations.load(change.household, int(payload.get("fiscal_year", 0)))
        if opened.version != (change.target_version or 0):
            return str(_l("提出の後に、この年度の収入申告が市で入力・変更されました。"))
        members = sorted(m.get("person_id") for m in (payload.get("values") or {}).get("members", []))
        if members != sorted(p.id for p in opened.members):
            return str(_l("提出の後に、世帯員が変わりました（同居・転出など）。"))
    return None


# --- writing: the agent ------------------------------------------------------------------------------------


def _check_maker(user, office: Office) -> None:
    if user is None or getattr(user, "role", None) != "contractor" or user.office_id != office.id:
        raise NotAllowed(_l("公社の事務所の職員だけが入力できます。"))


def _hold_numbers(change: PendingChange, numbers: Mapping[int, str], *, keyring, checked: bool) -> list[int]:
    """Encrypt the typed numbers for the change (replacing any held for the same members)."""
    held = []
    for person_id, raw in numbers.items():
        number = mynumber_rules.normalize(raw)  # ValueError (no number in it) for an invalid one
        PendingMyNumber.delete().where(
            (PendingMyNumber.change == change.id) & (PendingMyNumber.person == person_id)
        ).execute()
        blob, key_id = mynumber.encrypt_held(keyring, number, change.id, person_id)
        PendingMyNumber.create(
            change=change.id,
            person=person_id,
            ciphertext=blob,
            key_id=key_id,
            checked_against_document=checked,
        )
        held.append(person_id)
    return held


def _check_numbers(draft: Draft, numbers: Mapping[int, str] | None, checked: bool) -> dict[int, str]:
    numbers = dict(numbers or {})
    if not numbers:
        return {}
    if draft.kind != "income_declaration.save" or any(pid not in draft.my_number_people for pid in numbers):
        raise RuleViolation(_l("個人番号は収入申告の世帯員にだけ入力できます。"))
    if not checked:
        raise RuleViolation(
            _l("本人確認書類と照合したことを確認して、チェックを入れてください。"), "confirmed"
        )
    for raw in numbers.values():
        if not mynumber_rules.is_valid(raw):
            raise RuleViolation(_l("個人番号の検査用数字が一致しません。入力を確認してください。"))
    return numbers


def _audit_maker(step: str, change, before, after: str, held, kind: str, actor, session_ref, ip) -> None:
    """The audit entry pending_change.<step> of the maker's step (submit, resubmit, withdraw): the state
    before and after, and the held My Numbers when the step wrote or deleted any."""
    audit.record(
        f"pending_change.{step}",
        actor=actor,
        session_ref=session_ref,
        ip=ip,
        target_table="household",
        target_ids=[change.household_id],
        fields=["pending_change.state"] + (["pending_my_number.ciphertext"] if held else []),
        changes={"pending_change.state": [before, after]},
        reason=f"pending_change {change.id} {kind}",
    )


def propose(
    draft: Draft,
    *,
    office: Office,
    my_numbers: Mapping[int, str] | None = None,
    checked_against_document: bool = False,
    keyring=None,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> PendingChange:
    """Submit a checked draft for the city's approval: one pending_change row (and the held My Numbers)
    with the audit entry pending_change.submit, in one transaction. my_numbers: {person id: number} typed
    for the members of a declaration (draft.my_number_people names them), held encrypted."""
    _check_maker(actor, office)
    numbers = _check_numbers(draft, my_numbers, checked_against_document)
    with db.atomic():
        _refuse_if_open(draft)
        change = PendingChange.create(
            office=office.id,
            household=draft.household.id,
            target_table=draft.target_table,
            target_id=draft.target_id,
            target_version=draft.target_version,
            action=draft.action,
            payload=json.dumps(draft.payload(), ensure_ascii=False, sort_keys=True),
            before=json.dumps(draft.before, ensure_ascii=False, sort_keys=True) if draft.before else None,
            state="submitted",
            submitted_by=actor.id,
            submitted_at=utcnow(),
        )
        held = _hold_numbers(change, numbers, keyring=keyring, checked=True) if numbers else []
        _audit_maker("submit", change, None, "submitted", held, draft.kind, actor, session_ref, ip)
    return change


def _open_for_maker(change: PendingChange, user, states: Iterable[str]) -> None:
    if user is None or user.id != change.submitted_by_id:
        raise NotAllowed(_l("この入力を提出した職員だけが操作できます。"))
    if change.state not in states:
        raise RuleViolation(
            _l("この入力はすでに「%(state)s」です。", state=PendingChange.state.label(change.state))
        )


def resubmit(
    change: PendingChange,
    draft: Draft,
    *,
    expected_version: int,
    my_numbers: Mapping[int, str] | None = None,
    checked_against_document: bool = False,
    keyring=None,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> PendingChange:
    """The maker's corrected change after a return: new payload, snapshot and version, 承認待ち again.
    Numbers typed again replace the held ones; held numbers of members no longer listed are dropped."""
    _open_for_maker(change, actor, ("returned",))
    if (
        draft.kind != kind_of(change)
        or draft.household.id != change.household_id
        or draft.slot != payload_of(change).get("slot")
    ):
        raise RuleViolation(_l("差し戻された入力と同じ内容について入力してください。"))
    numbers = _check_numbers(draft, my_numbers, checked_against_document)
    with db.atomic():
        _refuse_if_open(draft, besides=change.id)
        listed = [m.get("person_id") for m in draft.values.get("members", [])] or [0]
        PendingMyNumber.delete().where(
            (PendingMyNumber.change == change.id) & PendingMyNumber.person.not_in(listed)
        ).execute()
        kept = [
            row.person_id
            for row in PendingMyNumber.select(PendingMyNumber.person).where(
                PendingMyNumber.change == change.id
            )
        ]
        draft.my_number_people = tuple(sorted(set(kept) | set(numbers)))
        change.payload = json.dumps(draft.payload(), ensure_ascii=False, sort_keys=True)
        change.before = json.dumps(draft.before, ensure_ascii=False, sort_keys=True) if draft.before else None
        change.target_id = draft.target_id
        change.target_version = draft.target_version
        change.action = draft.action
        change.state = "submitted"
        change.submitted_at = utcnow()
        change.reviewed_by = None
        change.reviewed_at = None
        change.save_versioned(
            expected_version,
            only=[
                PendingChange.payload,
                PendingChange.before,
                PendingChange.target_id,
                PendingChange.target_version,
                PendingChange.action,
                PendingChange.state,
                PendingChange.submitted_at,
                PendingChange.reviewed_by,
                PendingChange.reviewed_at,
            ],
        )
        held = _hold_numbers(change, numbers, keyring=keyring, checked=True) if numbers else []
        _audit_maker("resubmit", change, "returned", "submitted", held, draft.kind, actor, session_ref, ip)
    return change


def withdraw(
    change: PendingChange,
    *,
    expected_version: int,
    actor=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> PendingChange:
    """取下げ by the maker (承認待ち or 差戻し): nothing is applied; held My Numbers are deleted."""
    _open_for_maker(change, actor, OPEN_STATES)
    before = change.state
    with db.atomic():
        held = PendingMyNumber.delete().where(PendingMyNumber.change == change.id).execute()
        change.state = "withdrawn"
        change.save_versioned(expected_version, only=[PendingChange.state])
        _audit_maker("withdraw", change, before, "withdrawn", held, kind_of(change), actor, session_ref, ip)
    return change


# --- writing: the city ---------------------------------------------------------------------------------


def _check_reviewer(change: PendingChange, reviewer) -> None:
    if reviewer is None or getattr(reviewer, "role", None) not in REVIEWER_ROLES:
        raise NotAllowed(_l("承認・差戻しは市の職員が行います。"))
    if reviewer.id == change.submitted_by_id:
        raise NotAllowed(_l("自分が入力した変更は承認できません。"))


def _fresh(change: PendingChange, expected_version: int) -> PendingChange:
    fresh = PendingChange.get_by_id(change.id)
    if fresh.version != expected_version or fresh.state != "submitted":
        raise ConflictError(fresh, expected_version)
    return fresh


def return_(
    change: PendingChange,
    reviewer,
    comment: str,
    *,
    expected_version: int,
    session_ref: str | None = None,
    ip: str | None = None,
) -> PendingChange:
    """差戻し: back to the agent with a comment saying what to correct (required).

    The My Numbers held for the change are deleted (and the deletion recorded): a returned change may
    never be resubmitted (its maker leaves, the household leaves the office), and a number must not be
    held for nothing. The payload keeps who they were for (``my_numbers_discarded``), so the change's
    page says so; the agent types them again when resubmitting."""
    _check_reviewer(change, reviewer)
    comment = (comment or "").strip()
    if not comment:
        raise RuleViolation(_l("差戻しの理由を入力してください。公社の担当者に表示されます。"), "comment")
    if len(comment) > COMMENT_MAX:
        raise RuleViolation(_l("%(max)s文字以内で入力してください。", max=COMMENT_MAX), "comment")
    if audit.contains_my_number(comment):
        raise RuleViolation(_l("コメントに個人番号を書かないでください。"), "comment")
    with db.atomic():
        fresh = _fresh(change, expected_version)
        fresh.state = "returned"
        fresh.reviewed_by = reviewer.id
        fresh.reviewed_at = utcnow()
        fresh.comment = comment
        discarded = _discard_held(fresh, reviewer, session_ref=session_ref, ip=ip)
        if discarded:
            payload = payload_of(fresh)
            payload.pop("my_numbers", None)
            payload["my_numbers_discarded"] = discarded
            fresh.payload = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        fresh.save_versioned(
            expected_version,
            only=[
                PendingChange.state,
                PendingChange.reviewed_by,
                PendingChange.reviewed_at,
                PendingChange.comment,
                PendingChange.payload,
            ],
        )
        audit.record(
            "pending_change.return",
            actor=reviewer,
            session_ref=session_ref,
            ip=ip,
            target_table="household",
            target_ids=[fresh.household_id],
            fields=["pending_change.state", "pending_change.comment"]
            + (["pending_my_number.ciphertext"] if discarded else []),
            changes={
                "pending_change.state": ["submitted", "returned"],
                "pending_change.comment": [None, comment],
            },
            reason=f"pending_change {fresh.id} {kind_of(fresh)}",
        )
    return fresh


def _discard_held(change: PendingChange, actor, **context) -> list[int]:
    """Delete the My Numbers held for the change, leaving a deletion record per member (as
    services.mynumber.delete does for stored ones); the members whose number was deleted."""
    people = sorted(
        row.person_id
        for row in PendingMyNumber.select(PendingMyNumber.person).where(PendingMyNumber.change == change.id)
    )
    if not people:
        return []
    PendingMyNumber.delete().where(PendingMyNumber.change == change.id).execute()
    reason = f"差戻しにより破棄 (pending_change {change.id})"
    for person_id in people:
        DeletionRecord.create(
            kind="my_number", subject_table="person", subject_id=person_id, reason=reason, deleted_by=actor.id
        )
    audit.record(
        "my_number.delete", actor=actor, target_table="person", target_ids=people, reason=reason, **context
    )
    return people


def behalf_note(change: PendingChange, reviewer) -> str:
    """「公社 {office}: {maker} 入力、{reviewer} 承認」: what every entry of the approval carries. Stored
    in the trail as written (Japanese, like the file's other records), whatever language the screen uses."""
    office = Office.get_by_id(change.office_id)
    maker = User.get_by_id(change.submitted_by_id)
    return BEHALF_NOTE.format(office=office.name, maker=maker.display_name, reviewer=reviewer.display_name)


def approve(
    change: PendingChange,
    reviewer,
    *,
    expected_version: int,
    keyring=None,
    session_ref: str | None = None,
    ip: str | None = None,
) -> PendingChange:
    """Apply the change through the services and mark it 承認, all in one transaction.

    NotAllowed (not city staff, or the maker); ConflictError (the change itself changed or was
    decided meanwhile); Refused (stale, or a rule of the file refuses it now). On a refusal nothing is
    applied and the attempt is audited (outcome denied).
    """
    _check_reviewer(change, reviewer)
    context = {"actor": reviewer, "session_ref": session_ref, "ip": ip}
    note = behalf_note(change, reviewer)
    try:
        with db.atomic():
            fresh = _fresh(change, expected_version)
            with audit.on_behalf(note):
                apply = _APPLY.get(kind_of(fresh))
                if apply is None:
                    raise Refused(_l("この変更の種類は承認できません。"))
                target_id = apply(fresh, payload_of(fresh), context, keyring)
                fresh.state = "approved"
                fresh.reviewed_by = reviewer.id
                fresh.reviewed_at = utcnow()
                if target_id is not None:
                    fresh.target_id = target_id
                fresh.save_versioned(
                    expected_version,
                    only=[
                        PendingChange.state,
                        PendingChange.reviewed_by,
                        PendingChange.reviewed_at,
                        PendingChange.target_id,
                    ],
                )
                audit.record(
                    "pending_change.approve",
                    target_table="household",
                    target_ids=[fresh.household_id],
                    fields=["pending_change.state"],
                    changes={"pending_change.state": ["submitted", "approved"]},
                    reason=f"pending_change {fresh.id} {kind_of(fresh)}",
                    **context,
                )
    except RuleViolation as exc:
        stale = isinstance(exc, Refused) and exc.stale
        with db.atomic():
            audit.record(
                "pending_change.approve",
                target_table="household",
                target_ids=[change.household_id],
                outcome="denied",
                reason=f"pending_change {change.id}: {'stale' if stale else 'refused'}",
                **context,
            )
        if isinstance(exc, Refused):
            raise
        raise Refused(exc.message, exc.field) from exc
    return fresh


# --- applying, one function per kind (inside approve's transaction) -----------------------------------


def _stale(message) -> Refused:
    return Refused(message, stale=True)


def _vehicle_of(change: PendingChange) -> Vehicle:
    vehicle = (
        Vehicle.select(Vehicle, ParkingContract)
        .join(ParkingContract)
        .where((Vehicle.id == change.target_id) & (ParkingContract.household == change.household_id))
        .first()
    )
    if vehicle is None:
        raise _stale(_l("対象の車両が見つかりません。"))
    if vehicle.version != change.target_version:
        raise _stale(
            _l("提出の後に、この車両の登録内容が変更されました。差し戻して、入力し直してもらってください。")
        )
    return vehicle


def _apply_vehicle(action: str):
    def apply(change, payload, context, keyring):
        vehicle = _vehicle_of(change)
        values = _from_json(payload["values"])
        parking_service.check_vehicle(vehicle.contract, values, vehicle)
        try:
            editing.update(
                vehicle,
                change.target_version,
                values,
                household_id=change.household_id,
                action=action,
                **context,
            )
        except ConflictError:
            raise _stale(_l("提出の後に、この車両の登録内容が変更されました。")) from None
        return vehicle.id

    return apply


def _apply_new_vehicle(change, payload, context, keyring):
    contract = ParkingContract.get_or_none(
        (ParkingContract.id == payload["contract"]) & (ParkingContract.household == change.household_id)
    )
    if contract is None:
        raise _stale(_l("対象の駐車場の契約が見つかりません。"))
    return parking_service.add_vehicle(contract, _from_json(payload["values"]), **context).id


def _apply_new_contract(change, payload, context, keyring):
    values = _from_json(payload["values"])
    contract = parking_service.start_contract(
        Household.get_by_id(change.household_id),
        space_id=values["space"],
        user_person_id=values["user_person"],
        start_date=values["start_date"],
        reduction_amount=values.get("reduction_amount") or 0,
        note=values.get("note"),
        **context,
    )
    return contract.id


def _apply_bank_transfer(change, payload, context, keyring):
    values = _from_json(payload["values"])
    try:
        transfer = bank_transfers.register(
            Household.get_by_id(change.household_id), values, seen=payload.get("seen", ""), **context
        )
    except bank_transfers.Superseded:
        raise _stale(
            _l("提出の後に、口座振替の登録が変わりました。差し戻して、入力し直してもらってください。")
        ) from None
    return transfer.id


def _apply_declaration(change, payload, context, keyring):
    household = Household.get_by_id(change.household_id)
    entry = entry_from_json(payload["values"])
    try:
        saved = declarations.save(
            household, int(payload["fiscal_year"]), entry, change.target_version or 0, **context
        )
    except declarations.ConflictError:
        raise _stale(
            _l(
                "提出の後に、この年度の収入申告が市で入力・変更されました。差し戻して、確認してもらってください。"
            )
        ) from None
    except declarations.MembersChanged:
        raise _stale(
            _l(
                "提出の後に、世帯員が変わりました（同居・転出など）。差し戻して、入力し直してもらってください。"
            )
        ) from None
    for row in (
        PendingMyNumber.select().where(PendingMyNumber.change == change.id).order_by(PendingMyNumber.id)
    ):
        person = Person.get_or_none((Person.id == row.person_id) & (Person.household == change.household_id))
        if person is None:
            raise _stale(_l("個人番号を入力した世帯員が見つかりません。"))
        try:
            number = mynumber.decrypt_held(row, keyring)
        except (
            VaultError
        ):  # its key was retired before `flask keys rotate` re-encrypted it, or it was altered
            raise Refused(
                _l(
                    "%(name)sさんの個人番号を読み取れません（暗号鍵の更新のため）。差し戻して、個人番号をもう一度入力してもらってください。",
                    name=person.name,
                )
            ) from None
        try:
            member_records.register_my_number(
                person,
                number,
                checked_against_document=bool(row.checked_against_document),
                keyring=keyring,
                household_id=change.household_id,
                **context,
            )
        except member_records.DuplicateNumber:
            raise Refused(
                _l(
                    "%(name)sさんの個人番号は、すでに別の世帯員に登録されている番号です。差し戻して、本人確認書類の番号を確認してもらってください。",
                    name=person.name,
                )
            ) from None
        row.delete_instance()
    return saved.declaration.id


_APPLY = {
    "vehicle.inspection": _apply_vehicle("vehicle.inspection"),
    "vehicle.update": _apply_vehicle("vehicle.update"),
    "vehicle.end": _apply_vehicle("vehicle.end"),
    "vehicle.create": _apply_new_vehicle,
    "parking_contract.create": _apply_new_contract,
    "bank_transfer.create": _apply_bank_transfer,
    "income_declaration.save": _apply_declaration,
}


# --- the diff, as people read it ---------------------------------------------------------------------


@dataclass
class DiffRow:
    label: str
    before: str | None
    after: str | None
    hidden: bool = False  # a My Number: "個人番号の登録あり", never a digit


@dataclass
class Described:
    change: PendingChange
    kind: str
    label: str
    rows: list[DiffRow]
    note: str | None = None  # what the rows leave out, said once


def _names(household_id: int) -> dict[int, str]:
    return {
        p.id: p.name for p in Person.select(Person.id, Person.name).where(Person.household == household_id)
    }


def _space_label(space_id) -> str | None:
    if space_id is None:
        return None
    space = (
        ParkingSpace.select(ParkingSpace, ParkingLot)
        .join(ParkingLot)
        .where(ParkingSpace.id == space_id)
        .first()
    )
    return parking_service.space_label(space) if space else str(space_id)


def _bank(code, branch) -> tuple[str | None, str | None]:
    if not code:
        return None, None
    bank, found = banks.names(code, branch)
    return (
        f"{bank.name}（{code}）" if bank else code,
        (f"{found.name}（{branch}）" if found else branch) if branch else None,
    )


def _yen(value) -> str | None:
    return f"{int(value):,}円" if isinstance(value, int) and not isinstance(value, bool) else None


def _label(pairs, code) -> str | None:
    return dict(pairs).get(code, code) if code else None


def _vehicle_rows(before: Mapping, after: Mapping) -> list[DiffRow]:
    rows = []
    for name in (*VEHICLE_COLUMNS, "valid_to"):
        if name in after or name in before:
            qualified = f"vehicle.{name}"
            rows.append(
                DiffRow(
                    column_label(qualified),
                    worded(before.get(name), qualified),
                    worded(after.get(name), qualified),
                )
            )
    return rows


def _declaration_rows(
    change: PendingChange, payload: dict, before: dict, *, portal: bool, viewer=None
) -> tuple[list[DiffRow], str | None]:
    values = payload.get("values") or {}
    names = _names(change.household_id)
    fy = int(payload.get("fiscal_year", 0))
    rows = [DiffRow(str(_l("年度")), None, f"{wareki.fiscal_year_label(fy)}（{fy - 1}年分の収入）")]
    held = set(payload.get("my_numbers") or [])
    # On the portal the amounts (and disability levels) are the maker's to read back while the change
    # is open: not a colleague's of the office, and nobody's once the city decided it.
    maker = viewer is not None and viewer.id == change.submitted_by_id
    show_amounts = not portal or (maker and change.state in OPEN_STATES)
    if show_amounts:
        rows.append(
            DiffRow(
                column_label("income_declaration.status"),
                None if portal else _label(DECLARATION_STATUSES, before.get("status")),
                _label(DECLARATION_STATUSES, values.get("status")),
            )
        )
        rows.append(
            DiffRow(
                column_label("income_declaration.source"), None, _label(INCOME_SOURCES, values.get("source"))
            )
        )
        rows.append(
            DiffRow(
                column_label("income_declaration.submitted_on"),
                None,
                worded(values.get("submitted_on"), "income_declaration.submitted_on"),
            )
        )
    for member in values.get("members", []):
        pid = member.get("person_id")
        name = names.get(pid, "")
        if show_amounts:
            for column in declarations.AMOUNTS:
                rows.append(
                    DiffRow(
                        f"{name}：{column_label('member_income.' + column)}",
                        None,
                        _yen(member.get(column, 0)),
                    )
                )
            for column in declarations.FLAGS:
                if member.get(column):
                    rows.append(
                        DiffRow(f"{name}：{column_label('member_income.' + column)}", None, str(_l("はい")))
                    )
            if member.get("disability", "none") != "none":
                rows.append(
                    DiffRow(
                        f"{name}：{column_label('member_income.disability')}",
                        None,
                        _label(DISABILITY_LEVELS, member["disability"]),
                    )
                )
        if pid in held:
            rows.append(
                DiffRow(f"{name}：{_l('個人番号')}", None, str(_l("個人番号の登録あり")), hidden=True)
            )
    if show_amounts:
        for remote in values.get("remote", []):
            birth = remote.get("birth_date")
            rows.append(
                DiffRow(
                    str(_l("遠隔地扶養親族")),
                    None,
                    "{}（{}・{}）".format(
                        remote.get("name", ""),
                        worded(birth, "remote_dependent.birth_date") or "",
                        _label(DISABILITY_LEVELS, remote.get("disability")),
                    ),
                )
            )
    if not show_amounts:
        listed = [names.get(m.get("person_id"), "") for m in values.get("members", [])]
        rows.insert(1, DiffRow(str(_l("世帯員")), None, "、".join(listed)))
    if show_amounts:
        note = None
    elif change.state in OPEN_STATES:
        note = str(_l("収入の金額と障害の程度は、入力した職員にだけ表示します。"))
    else:
        note = str(_l("収入の金額は、市の承認後はこの画面に表示しません。"))
    return rows, note


def describe(change: PendingChange, *, portal: bool = False, viewer=None) -> Described:
    """The change as a before/after table: labels from the models, codes as labels, yen and 和暦; a My
    Number only as 「個人番号の登録あり」. portal: what the agent may read back (no stored incomes; the
    amounts typed only to their maker, viewer, while the change is open)."""
    payload, before = payload_of(change), before_of(change)
    kind = str(payload.get("kind", ""))
    after = payload.get("values") or {}
    note = None
    if kind.startswith("vehicle."):
        rows = _vehicle_rows(before, after)
        if kind == "vehicle.create":
            contract = ParkingContract.get_or_none(ParkingContract.id == payload.get("contract"))
            space = _space_label(contract.space_id) if contract else None
            rows.insert(0, DiffRow(column_label("parking_contract.space"), None, space))
    elif kind == "parking_contract.create":
        names = _names(change.household_id)
        rows = [
            DiffRow(column_label("parking_contract.space"), None, _space_label(after.get("space"))),
            DiffRow(column_label("parking_contract.user_person"), None, names.get(after.get("user_person"))),
            DiffRow(
                column_label("parking_contract.start_date"),
                None,
                worded(after.get("start_date"), "parking_contract.start_date"),
            ),
            DiffRow(
                column_label("parking_contract.reduction_amount"),
                None,
                _yen(after.get("reduction_amount") or 0),
            ),
        ]
        if after.get("note"):
            rows.append(DiffRow(column_label("parking_contract.note"), None, after["note"]))
    elif kind == "bank_transfer.create":
        bank_b, branch_b = _bank(before.get("bank_code"), before.get("branch_code"))
        bank_a, branch_a = _bank(after.get("bank_code"), after.get("branch_code"))
        rows = [
            DiffRow(
                column_label("bank_transfer.purpose"),
                _label(TRANSFER_PURPOSES, before.get("purpose")),
                _label(TRANSFER_PURPOSES, after.get("purpose")),
            ),
            DiffRow(str(_l("金融機関")), bank_b, bank_a),
            DiffRow(str(_l("支店")), branch_b, branch_a),
            DiffRow(
                column_label("bank_transfer.account_type"),
                _label(ACCOUNT_TYPES, before.get("account_type")),
                _label(ACCOUNT_TYPES, after.get("account_type")),
            ),
            # Masked on every screen, the portal's and the city's (the full number only reaches the service).
            DiffRow(
                column_label("bank_transfer.account_number"),
                before.get("account_number"),
                mask_account(after.get("account_number")),
            ),
            DiffRow(
                column_label("bank_transfer.holder_kana"), before.get("holder_kana"), after.get("holder_kana")
            ),
            DiffRow(
                column_label("bank_transfer.valid_from"),
                worded(before.get("valid_from"), "bank_transfer.valid_from"),
                worded(after.get("valid_from"), "bank_transfer.valid_from"),
            ),
        ]
        if before:
            note = str(_l("変更前は現在の登録です。承認すると、新しい登録の開始日の前日で終了します。"))
    elif kind == "income_declaration.save":
        rows, note = _declaration_rows(change, payload, before, portal=portal, viewer=viewer)
    else:
        rows = []
    return Described(change, kind, kind_label(kind), rows, note)


def declaration_preview(change: PendingChange) -> declarations.Computed | None:
    """What approving a declaration would compute (政令月收, 収入分位), for the reviewer; None when it
    cannot be computed as it stands (a refusal on approval will say why)."""
    payload = payload_of(change)
    if payload.get("kind") != "income_declaration.save":
        return None
    try:
        opened = declarations.load(change.household, int(payload["fiscal_year"]))
        entry = entry_from_json(payload["values"])
        if entry.status not in declarations.FIGURE_STATUSES or declarations.check(opened, entry):
            return None
        return declarations.compute(opened, entry)
    except (RuleViolation, KeyError, ValueError):
        return None


def is_open_declaration_year(household: Household, fiscal_year: int) -> bool:
    """Whether the portal may key in this year's declaration (see declaration_open_to_agent)."""
    return declaration_open_to_agent(declarations.load(household, fiscal_year))


def declared_years(household_id: int) -> dict[int, str]:
    """{fiscal year: status} of the household's declarations (the status only, never a figure)."""
    return {
        row.fiscal_year: row.status
        for row in IncomeDeclaration.select(IncomeDeclaration.fiscal_year, IncomeDeclaration.status).where(
            IncomeDeclaration.household == household_id
        )
    }
