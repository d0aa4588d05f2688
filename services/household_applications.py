"""Household-change applications (届出・申請) the 公社 receives and the city decides.

Kinds: 同居承認申請, 使用承継申請, 不使用届, 退去届, その他の届出 (models.requests.APPLICATION_KINDS).
Each kind has a fixed checklist of the documents that come with it (CHECKLISTS): the agent ticks the
ones it has seen on paper; nothing is uploaded. The required documents must all be ticked to submit.

The flow (SPEC §5: what the agent enters that changes the file waits for the city):

    submitted (承認待ち) → approved (承認)              the city approves
    submitted → returned (差戻し, with a comment)        the city returns it
    returned → submitted                                 the agent corrects and resubmits
    submitted or returned → withdrawn (取下げ)           the agent withdraws it

- The agent (a contractor of the office managing the household) submits; it may correct and
  resubmit a returned one, or withdraw one not yet decided.
- City staff (staff or officer) decide: approve, or return with a comment. **The reviewer is never
  the submitter** (maker-checker), and a decision names the version it was made on (optimistic
  locking: two reviewers never both decide).
- Approval records the city's decision only. The household change itself (a member joining, the
  succession, the move-out with its proration and deposit) is then made by staff in the household
  file (services.household_events), where its own rules and previews apply; the staff screen links to
  it. So an approval never writes to the household, and nothing of the file changes behind a review.

Every step is one transaction with its audit entry under the household. Like the other services this
module never reads the request.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from models import HouseholdApplication
from models.base import ConflictError
from rules.filters import today_tokyo
from services import editing
from services.editing import RuleViolation

CITY_ROLES = frozenset({"staff", "officer"})


@dataclass(frozen=True)
class Document:
    code: str
    label: object  # lazy Japanese label
    required: bool = True


# The documents each kind comes with (川崎市営住宅条例施行規則の様式に沿った書類).
CHECKLISTS: dict[str, tuple[Document, ...]] = {
    "cohabitation": (
        Document("form", _l("同居承認申請書")),
        Document("residence", _l("同居しようとする者の住民票の写し")),
        Document("relation", _l("続柄を確認できる書類（戸籍謄本等）")),
        Document("income_proof", _l("同居しようとする者の収入を証する書類")),
        Document("tax_clear", _l("市税の滞納がないことを証する書類")),
    ),
    "succession": (
        Document("form", _l("使用承継申請書")),
        Document("cause", _l("名義人の死亡または退去を確認できる書類")),
        Document("residence", _l("世帯全員の住民票の写し")),
        Document("income_proof", _l("世帯員の収入を証する書類")),
        Document("guarantor", _l("連帯保証人の引受書")),
    ),
    "non_use": (
        Document("form", _l("住宅不使用届")),
        Document("reason", _l("不使用の理由を確認できる書類（入院・施設入所等）")),
        Document("contact", _l("不使用期間中の連絡先"), required=False),
    ),
    "move_out": (
        Document("form", _l("住宅返還届（退去届）")),
        Document("new_address", _l("転居先の住所を確認できる書類"), required=False),
        Document("refund_account", _l("敷金の返還先口座の届出"), required=False),
    ),
    "other": (
        Document("form", _l("届出書")),
        Document("attachments", _l("その他の添付書類"), required=False),
    ),
}

EDITABLE = ("submitted", "returned")  # the agent may still correct (a submitted one: until decided)
DECIDABLE = ("submitted",)


def _context(actor, session_ref, ip) -> dict:
    return {"actor": actor, "session_ref": session_ref, "ip": ip}


def checklist(kind: str) -> tuple[Document, ...]:
    """The documents of a kind (an empty tuple for an unknown kind)."""
    return CHECKLISTS.get(kind, ())


def attachments_of(application: HouseholdApplication) -> list[str]:
    """The codes of the documents ticked (stored as a JSON list)."""
    try:
        value = json.loads(application.attachments or "[]")
    except ValueError:
        return []
    return [code for code in value if isinstance(code, str)] if isinstance(value, list) else []


def details_of(application: HouseholdApplication) -> str:
    """The free-text content of the application (stored as JSON {"text": …})."""
    try:
        value = json.loads(application.details or "{}")
    except ValueError:
        return application.details or ""
    return value.get("text", "") if isinstance(value, dict) else ""


def check(
    kind: str, received_on: dt.date, attachments: Iterable[str], today: dt.date | None = None
) -> list[str]:
    """The ticked codes (in checklist order), or RuleViolation with the field at fault."""
    today = today or today_tokyo()
    documents = CHECKLISTS.get(kind)
    if documents is None:
        raise RuleViolation(_l("一覧から選んでください。"), field="kind")
    if received_on > today:
        raise RuleViolation(_l("受付日に今日より後の日付は入力できません。"), field="received_on")
    ticked = set(attachments)
    known = {d.code for d in documents}
    if ticked - known:
        raise RuleViolation(_l("添付書類は一覧から選んでください。"), field="attachments")
    missing = [str(d.label) for d in documents if d.required and d.code not in ticked]
    if missing:
        raise RuleViolation(
            _l("必要な書類が確認されていません: %(documents)s", documents="、".join(missing)),
            field="attachments",
        )
    return [d.code for d in documents if d.code in ticked]


def _values(kind, received_on, details, attachments) -> dict:
    return {
        "kind": kind,
        "received_on": received_on,
        "details": json.dumps({"text": details or ""}, ensure_ascii=False),
        "attachments": json.dumps(check(kind, received_on, attachments), ensure_ascii=False),
    }


def submit(
    household_id: int,
    kind: str,
    received_on: dt.date,
    details: str | None,
    attachments: Iterable[str],
    *,
    office_id: int,
    actor=None,
    session_ref=None,
    ip=None,
) -> HouseholdApplication:
    """The agent submits an application for the household (state 承認待ち)."""
    row = {
        "household": household_id,
        **_values(kind, received_on, details, attachments),
        "state": "submitted",
        "office": office_id,
        "submitted_by": actor.id if actor is not None else None,
    }
    return editing.create(
        HouseholdApplication,
        row,
        household_id=household_id,
        action="household_application.submit",
        **_context(actor, session_ref, ip),
    )


def correct(
    application: HouseholdApplication,
    expected_version: int,
    received_on: dt.date,
    details: str | None,
    attachments: Iterable[str],
    *,
    actor=None,
    session_ref=None,
    ip=None,
) -> dict:
    """The agent corrects one not yet decided; a returned one goes back to 承認待ち (resubmitted)."""
    if application.state not in EDITABLE:
        raise RuleViolation(_l("決定済みまたは取下げ済みの届出・申請は修正できません。"))
    values = _values(application.kind, received_on, details, attachments)
    del values["kind"]
    values["state"] = "submitted"
    values["submitted_by"] = actor.id if actor is not None else application.submitted_by_id
    return editing.update(
        application,
        expected_version,
        values,
        household_id=application.household_id,
        action="household_application.resubmit"
        if application.state == "returned"
        else "household_application.update",
        extra_fields=["household_application.state"],
        **_context(actor, session_ref, ip),
    )


def withdraw(
    application: HouseholdApplication, expected_version: int, *, actor=None, session_ref=None, ip=None
) -> dict:
    """The agent withdraws one not yet decided (取下げ)."""
    if application.state not in EDITABLE:
        raise RuleViolation(_l("決定済みまたは取下げ済みの届出・申請は取り下げられません。"))
    return editing.update(
        application,
        expected_version,
        {"state": "withdrawn"},
        household_id=application.household_id,
        action="household_application.withdraw",
        **_context(actor, session_ref, ip),
    )


def decide(
    application: HouseholdApplication,
    expected_version: int,
    decision: str,
    comment: str | None,
    *,
    actor,
    session_ref=None,
    ip=None,
    today: dt.date | None = None,
) -> dict:
    """City staff approve or return (with a comment) an application waiting for them.

    RuleViolation when the reviewer is not city staff, is the submitter, the application is not
    waiting, or a return has no comment; ConflictError when it changed since the reviewer read it."""
    if getattr(actor, "role", None) not in CITY_ROLES:
        raise RuleViolation(_l("届出・申請の決定は市の職員が行います。"))
    if actor.id == application.submitted_by_id:
        raise RuleViolation(_l("自分が提出した届出・申請は決定できません。"))
    if application.version != expected_version:
        raise ConflictError(application, expected_version)
    if application.state not in DECIDABLE:
        raise RuleViolation(_l("この届出・申請は承認待ちではありません。"))
    if decision not in ("approved", "returned"):
        raise RuleViolation(_l("一覧から選んでください。"), field="decision")
    if decision == "returned" and not comment:
        raise RuleViolation(_l("差し戻すときは理由を入力してください。"), field="comment")
    return editing.update(
        application,
        expected_version,
        {
            "state": decision,
            "comment": comment,
            "decided_by": actor.id,
            "decided_on": today or today_tokyo(),
        },
        household_id=application.household_id,
        action=f"household_application.{'approve' if decision == 'approved' else 'return'}",
        **_context(actor, session_ref, ip),
    )
