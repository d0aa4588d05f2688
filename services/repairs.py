"""Repair requests (修繕依頼) from residents, logged by the 公社 for a unit of its estates.

A request is received (受付), ordered from a contractor (発注済), done (完了, with its date) or
cancelled (取消). It is the agent's own work log about the unit, recorded directly (no approval: it
changes nothing of the tenant file) and audited under the household when one lives there, else under
the unit. Edits use optimistic locking. Like the other services this module never reads the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

from models import RepairRequest
from models.requests import REPAIR_STATUSES
from rules.filters import today_tokyo
from services import editing
from services.editing import RuleViolation

STATUSES = tuple(code for code, _ in REPAIR_STATUSES)
OPEN = ("received", "ordered")


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def check(values: Mapping, today: dt.date | None = None) -> dict:
    """The values to store (完了日 only when done), or RuleViolation with the field."""
    today = today or today_tokyo()
    status = values.get("status", "received")
    if status not in STATUSES:
        raise RuleViolation(_l("一覧から選んでください。"), field="status")
    received = values["received_on"]
    if received > today:
        raise RuleViolation(_l("受付日に今日より後の日付は入力できません。"), field="received_on")
    completed = values.get("completed_on") if status == "done" else None
    if status == "done" and completed is None:
        raise RuleViolation(_l("完了にするときは完了日を入力してください。"), field="completed_on")
    if completed is not None and (completed < received or completed > today):
        raise RuleViolation(_l("完了日は受付日から今日までの日付にしてください。"), field="completed_on")
    return {
        "received_on": received,
        "content": values["content"],
        "status": status,
        "completed_on": completed,
    }


def create(
    unit_id: int,
    household_id: int | None,
    values: Mapping,
    *,
    office_id: int,
    actor=None,
    session_ref=None,
    ip=None,
) -> RepairRequest:
    """Log a repair request on a unit (and the household living there, if any)."""
    row = {
        "unit": unit_id,
        "household": household_id,
        **check(values),
        "recorded_by": actor.id if actor is not None else None,
        "office": office_id,
    }
    return editing.create(
        RepairRequest,
        row,
        household_id=household_id,
        action="repair_request.create",
        **_context(actor, session_ref, ip),
    )


def update(
    repair: RepairRequest, expected_version: int, values: Mapping, *, actor=None, session_ref=None, ip=None
) -> dict:
    """Change a request's status or text (optimistic lock)."""
    return editing.update(
        repair,
        expected_version,
        check(values),
        household_id=repair.household_id,
        action="repair_request.update",
        **_context(actor, session_ref, ip),
    )
