"""Move-in and move-out procedures (入居手続・退去手続) the 公社 records for a tenancy of its estates.

What is recorded: the day the keys were handed over (to the household at move-in, back to the 公社 at
move-out), the day of the inspection with the household (立会検査), and the repairs the unit needs.

**Recorded directly, not through the city's approval.** These are the agent's own work records about
the unit (SPEC §5 "record move-in and move-out procedures"), not changes to the tenant file: they
change no field of the household, its members, its tenancy or its money. The move-out itself (退去日,
日割り, 敷金精算) stays a city decision made in the household file (services.household_events). So the
maker-checker of SPEC §5, which is about "what they enter that changes the file", does not apply; every
record is audited under the household like any other write, and edited with optimistic locking.

Rules: one move-in and one move-out record per tenancy (a unique index: a second one edits the first);
a move-out record for a tenancy that is active or has ended; the keys cannot be handed over in the
future; no date before the tenancy's move-in date for a move-out record; at least one of the three
facts. Like the other services this module never reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from models import MoveProcedure, Tenancy
from rules.filters import today_tokyo
from services import editing
from services.editing import RuleViolation

KINDS = ("move_in", "move_out")
FIELDS = ("keys_handed_on", "inspection_on", "repair_needs")


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def check(tenancy: Tenancy, kind: str, values: Mapping, today: dt.date | None = None) -> None:
    """RuleViolation (with the field it belongs to) when the values cannot be recorded."""
    today = today or today_tokyo()
    if kind not in KINDS:
        raise RuleViolation(_l("一覧から選んでください。"), field="kind")
    if not any(values.get(name) for name in FIELDS):
        raise RuleViolation(_l("鍵の受渡日、立会検査日、修繕の必要箇所のどれかを入力してください。"))
    keys = values.get("keys_handed_on")
    if keys is not None and keys > today:
        raise RuleViolation(_l("鍵の受渡日に今日より後の日付は入力できません。"), field="keys_handed_on")
    if kind == "move_out":
        for name in ("keys_handed_on", "inspection_on"):
            day = values.get(name)
            if day is not None and day < tenancy.move_in_date:
                raise RuleViolation(_l("退去手続の日付は入居日より前にできません。"), field=name)


def existing(tenancy: Tenancy, kind: str) -> MoveProcedure | None:
    """The record of this kind for the tenancy, if there is one."""
    return MoveProcedure.get_or_none((MoveProcedure.tenancy == tenancy.id) & (MoveProcedure.kind == kind))


def record(
    tenancy: Tenancy, kind: str, values: Mapping, *, office_id: int, actor=None, session_ref=None, ip=None
) -> MoveProcedure:
    """Record a procedure for the tenancy (audited under its household). RuleViolation if refused,
    including a second record of the same kind (the database's unique index decides)."""
    check(tenancy, kind, values)
    row = {
        "tenancy": tenancy.id,
        "kind": kind,
        **{name: values.get(name) for name in FIELDS},
        "recorded_by": actor.id if actor is not None else None,
        "office": office_id,
    }
    try:
        return editing.create(
            MoveProcedure,
            row,
            household_id=tenancy.household_id,
            action="move_procedure.create",
            **_context(actor, session_ref, ip),
        )
    except RuleViolation as exc:
        if existing(tenancy, kind) is not None:
            raise RuleViolation(
                _l("この入居にはすでに同じ種別の手続が記録されています。一覧から開いて修正してください。")
            ) from exc
        raise


def update(
    procedure: MoveProcedure, expected_version: int, values: Mapping, *, actor=None, session_ref=None, ip=None
) -> dict:
    """Correct a procedure (optimistic lock: ConflictError when someone saved in between)."""
    tenancy = Tenancy.get_by_id(procedure.tenancy_id)
    check(tenancy, procedure.kind, values)
    return editing.update(
        procedure,
        expected_version,
        {name: values.get(name) for name in FIELDS},
        household_id=tenancy.household_id,
        action="move_procedure.update",
        **_context(actor, session_ref, ip),
    )
