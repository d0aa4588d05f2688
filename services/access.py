"""Object scope: the one place that decides which households a user may see (SECURITY.md "Access control").

Every staff screen and the contractor portal reach households through this module:

- ``visible_households(user)``: a query of the ids the user may see, to join or ``in_()`` against;
- ``can_see_household(user, id)``: the same predicate for one id (one query);
- ``require_household(user, id, ...)``: the household for a view, audited, within the read budget;
- ``search_cap(user)`` / ``require_search_terms(user, terms)``: the limits of a search.

The rule (the reference predicate of tests/test_access.py says the same in plain Python):

- ``staff`` and ``officer`` see every household except the 支援措置 (DV/stalking support) households
  (``support_measure``) to which they have no current assignment (``support_assignment`` with
  ``ended_at`` NULL). Officers follow the same rule on purpose: the protection is per person assigned,
  and an officer who has to work on such a household assigns themself, which is recorded.
- ``contractor`` (公社) sees the households whose current tenancy is on a unit of an estate in a ward
  managed by its office (``ward.office_id``). The current tenancy is the active one, or, for a household
  without one (moved out), the latest: greatest move-in date, then greatest id. Contractors never see a
  支援措置 household (they are never assigned; an assignment row naming one is ignored). A contractor
  without an office sees nothing.
- ``auditor``, ``sysadmin``, an inactive account, an account past its contract end, None (or anything
  that is not a user): nothing.

The role, the office and the account state are read from the database inside the same query (the user
object only picks the branch): an account deactivated, moved to another office or given another role
since it was loaded gets its new scope, never the old one. Each predicate is one SQL statement
(subqueries and joins, no filtering in Python) that SQLite and PostgreSQL run alike.

Views are audited and budgeted: every view writes an entry (flagged "支援措置対象" for a protected
household), and a user may view at most READ_BUDGET_PER_HOUR distinct households per rolling hour,
counted from the audit trail itself. Like the other services this module never reads the request:
callers pass the audit context (session_ref, ip) as keyword arguments.
"""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterable, Mapping

from flask import current_app, has_app_context
from peewee import SQL, fn

from extensions import db, is_sqlite
from models import AuditEntry, Building, Estate, Household, SupportAssignment, Tenancy, Unit, User, Ward
from models.base import utcnow
from rules.filters import today_tokyo
from services import audit

CITY_ROLES = frozenset({"staff", "officer"})
CONTRACTOR = "contractor"

DV_FLAG = "支援措置対象"  # the reason of every audit entry about a protected household
BUDGET_WINDOW = dt.timedelta(hours=1)
VIEW_SUFFIX = ".view"  # require_household's actions; the read budget counts these entries
BUDGET_ALERT_REASON = "read_budget_exceeded"  # prefix of the security.alert reason

# Defaults of the configuration keys (config.py may set them; FLASK_<NAME> in the environment too).
DEFAULTS = {
    "READ_BUDGET_PER_HOUR": 150,  # staff and officer: distinct households per rolling hour
    "READ_BUDGET_PER_HOUR_CONTRACTOR": 60,
    "SEARCH_CAP_STAFF": 200,  # staff and officer: rows a search may return
    "SEARCH_CAP_CONTRACTOR": 50,
}

# Search terms that never narrow a search by themselves (paging, ordering, broad filters).
NON_NARROWING_TERMS = frozenset(
    {"page", "per_page", "limit", "offset", "sort", "order", "status", "category", "include_moved_out"}
)
MIN_TEXT_TERM = 2  # characters a text term needs, once wildcards and spaces are stripped
_WILDCARDS = "%_*?"

MAX_ID = 2**63 - 1


class NotVisible(LookupError):
    """The household does not exist or is outside the user's scope: the web layer answers 404 alike."""

    message = "該当する世帯は見つかりません。"

    def __init__(self) -> None:
        super().__init__(self.message)


class ReadBudgetExceeded(PermissionError):
    """The user viewed as many distinct households this hour as allowed (web layer: 429)."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.message = (
            f"1時間に閲覧できる世帯数の上限（{budget}世帯）に達しました。"
            "しばらく時間をおいてから再度お試しください。この件は保護責任者に通知されています。"
        )
        super().__init__(self.message)


class SearchRefused(PermissionError):
    """A search this user may not run: no narrowing term (contractor), or no search at all (role)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


# --- who is asking --------------------------------------------------------------------------------------


def _user_id(user) -> int | None:
    value = getattr(user, "id", None) if user is not None else None
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _role(user) -> str | None:
    """The branch to take: the user's role when it is a usable account, else None (sees nothing).

    Only a shortcut: the query checks the same facts again against the database."""
    if _user_id(user) is None:
        return None
    role = getattr(user, "role", None)
    if role not in CITY_ROLES and role != CONTRACTOR:
        return None
    if not getattr(user, "active", False):
        return None
    contract_end = getattr(user, "contract_end_date", None)
    if contract_end is not None and today_tokyo() > contract_end:
        return None
    if role == CONTRACTOR and getattr(user, "office_id", None) is None:
        return None
    return role


def _live_account(user_id: int, roles: Iterable[str]):
    """The user's row while it is active, within its contract and in one of roles (a subquery)."""
    account = User.alias("scope_user")
    return account, [
        account.id == user_id,
        account.active,
        account.role.in_(sorted(roles)),
        account.contract_end_date.is_null() | (account.contract_end_date >= today_tokyo()),
    ]


def _as_id(household_id) -> int | None:
    if isinstance(household_id, bool):
        return None
    if isinstance(household_id, str) and household_id.isascii() and household_id.isdigit():
        household_id = int(household_id)
    if not isinstance(household_id, int) or not 0 < household_id <= MAX_ID:
        return None
    return household_id


# --- the predicate --------------------------------------------------------------------------------------


def _nothing(*columns):
    return Household.select(*columns).where(SQL("1 = 0"))


def _city_scope(user_id: int, columns):
    account, live = _live_account(user_id, CITY_ROLES)
    assigned = SupportAssignment.select(SQL("1")).where(
        (SupportAssignment.household == Household.id)
        & (SupportAssignment.user == user_id)
        & SupportAssignment.ended_at.is_null()
    )
    return Household.select(*columns).where(
        fn.EXISTS(account.select(SQL("1")).where(*live)) & (~Household.support_measure | fn.EXISTS(assigned))
    )


def is_current_tenancy(tenancy=Tenancy):
    """A condition on a tenancy row: it is its household's current tenancy.

    The active tenancy (at most one per household, by a unique index); for a household without one,
    the latest: greatest move-in date, then greatest id. Said as "no other tenancy of the household
    outranks it" (one NOT EXISTS, which PostgreSQL runs as an anti-join and SQLite as an index lookup),
    an ended tenancy being outranked by an active one or by a later one."""
    other = Tenancy.alias("other_tenancy")
    outranks = other.select(SQL("1")).where(
        (other.household == tenancy.household)
        & (tenancy.status != "active")
        & (
            (other.status == "active")
            | (other.move_in_date > tenancy.move_in_date)
            | ((other.move_in_date == tenancy.move_in_date) & (other.id > tenancy.id))
        )
    )
    return ~fn.EXISTS(outranks)


def _contractor_scope(user_id: int, columns):
    account, live = _live_account(user_id, {CONTRACTOR})
    office_of_user = account.select(account.office).where(*live)  # NULL (no row) when not live
    return (
        Household.select(*columns)
        .join(Tenancy, on=(Tenancy.household == Household.id))
        .join(Unit, on=(Tenancy.unit == Unit.id))
        .join(Building, on=(Unit.building == Building.id))
        .join(Estate, on=(Building.estate == Estate.id))
        .join(Ward, on=(Estate.ward == Ward.id))
        .where(is_current_tenancy() & (Ward.office == office_of_user) & ~Household.support_measure)
    )


def _scoped(user, *columns):
    """Household.select(*columns) restricted to what user may see (one row per household)."""
    role = _role(user)
    if role in CITY_ROLES:
        return _city_scope(user.id, columns)
    if role == CONTRACTOR:
        return _contractor_scope(user.id, columns)
    return _nothing(*columns)


def visible_households(user):
    """The ids of the households user may see: a peewee SelectQuery of Household.id.

    Use it as a subquery (``Household.id.in_(visible_households(user))``) or join it; it is unordered.
    A user who may see nothing gets a query that returns no row."""
    return _scoped(user, Household.id)


def can_see_household(user, household_id) -> bool:
    """True when user may see the household (one query); False for a missing or malformed id."""
    hid = _as_id(household_id)
    if hid is None or _role(user) is None:
        return False
    return visible_households(user).where(Household.id == hid).exists()


# --- configuration --------------------------------------------------------------------------------------


def _setting(name: str) -> int:
    value = current_app.config.get(name) if has_app_context() else None
    if value is None:
        value = DEFAULTS[name]
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ValueError(f"{name} cannot be negative")
    return number


def read_budget(user) -> int:
    """Distinct households user may view per rolling hour (0 for a role that sees none).

    READ_BUDGET_PER_HOUR (staff and officer, default 150), READ_BUDGET_PER_HOUR_CONTRACTOR (60)."""
    role = _role(user)
    if role in CITY_ROLES:
        return _setting("READ_BUDGET_PER_HOUR")
    if role == CONTRACTOR:
        return _setting("READ_BUDGET_PER_HOUR_CONTRACTOR")
    return 0


def search_cap(user) -> int:
    """The most rows a household search may return for user: SEARCH_CAP_STAFF (staff and officer,
    default 200), SEARCH_CAP_CONTRACTOR (50); 0 for a role that sees no household."""
    role = _role(user)
    if role in CITY_ROLES:
        return _setting("SEARCH_CAP_STAFF")
    if role == CONTRACTOR:
        return _setting("SEARCH_CAP_CONTRACTOR")
    return 0


# --- search ---------------------------------------------------------------------------------------------


def _narrows(value) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value)
        text = "".join(ch for ch in text if not ch.isspace() and ch not in _WILDCARDS)
        return len(text) >= MIN_TEXT_TERM
    if isinstance(value, int | dt.date):
        return True
    if isinstance(value, Iterable) and not isinstance(value, Mapping | bytes):
        return any(_narrows(item) for item in value)
    return False


def narrowing_terms(terms: Mapping | None) -> list[str]:
    """The names of the terms that narrow a search (non-blank, at least two characters of text once
    wildcards and spaces are removed; paging, ordering and broad filters such as status never do)."""
    return sorted(
        str(name)
        for name, value in (terms or {}).items()
        if str(name) not in NON_NARROWING_TERMS and _narrows(value)
    )


def require_search_terms(user, terms: Mapping | None, **context) -> None:
    """Refuse a household search user may not run (SearchRefused, audited as access.search_refused):

    a role that sees no household, or a contractor without a narrowing term (no "list everyone" for
    contractors). Staff and officers may search without terms; search_cap(user) still caps the rows.
    The audit entry names the terms given, never their values (no clear search term in the trail)."""
    role = _role(user)
    if role in CITY_ROLES:
        return
    if role == CONTRACTOR and narrowing_terms(terms):
        return
    if role is None:
        message = "この利用者は世帯を検索できません。"
        reason = "role"
    else:
        message = "氏名、世帯番号、住宅などの検索条件を入力してください（条件なしの一覧表示はできません）。"
        reason = "no narrowing term"
    names = [name for name in sorted(str(key) for key in (terms or {})) if name]
    with db.atomic():
        audit.record(
            "access.search_refused",
            actor=_audit_actor(user, context),
            target_table="household",
            fields=names or None,
            outcome="denied",
            reason=reason,
            **context,
        )
    raise SearchRefused(message)


# --- views: audit and read budget -----------------------------------------------------------------------


def _audit_actor(user, context: dict):
    """The actor of the entries: user itself. A context's actor (blueprints.context.audit_context
    passes one) must be the same person; it is dropped so record() gets it once."""
    given = context.pop("actor", None)
    uid = _user_id(user)
    if given is not None and _user_id(given) != uid:
        raise ValueError("the audit context names another actor than the user whose access is checked")
    return user if uid is not None and getattr(user, "role", None) else None


def _lock_trail() -> None:
    # The budget is read and the view written under the lock audit appends take (SQLite: the
    # transaction began IMMEDIATE; PostgreSQL: audit's advisory lock, re-entrant), so two
    # concurrent views cannot both pass the last slot of the budget.
    if not is_sqlite():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (audit.PG_LOCK_ID,))


def _ids_of(text: str | None) -> set[int]:
    # target_ids as services.audit stores it: a compact JSON list of ints (or strings).
    if not text:
        return set()
    try:
        values = json.loads(text)
    except ValueError:
        return set()
    found = set()
    for value in values if isinstance(values, list) else []:
        hid = _as_id(value)
        if hid is not None:
            found.add(hid)
    return found


def households_viewed(user, *, since: dt.datetime | None = None) -> set[int]:
    """Distinct household ids user viewed (allowed ``*.view`` entries on household) since a UTC time
    (default: the last hour), read from the audit trail."""
    uid = _user_id(user)
    if uid is None:
        return set()
    since = since if since is not None else utcnow() - BUDGET_WINDOW
    rows = (
        AuditEntry.select(AuditEntry.target_ids)
        .where(
            (AuditEntry.actor_id == uid)
            & (AuditEntry.at >= since)
            & (AuditEntry.outcome == "allowed")
            & (AuditEntry.target_table == "household")
            & AuditEntry.action.endswith(VIEW_SUFFIX)
        )
        .distinct()
        .tuples()
    )
    viewed: set[int] = set()
    for (text,) in rows:
        viewed |= _ids_of(text)
    return viewed


def _recently_alerted(uid: int, since: dt.datetime) -> bool:
    return (
        AuditEntry.select(SQL("1"))
        .where(
            (AuditEntry.actor_id == uid)
            & (AuditEntry.action == "security.alert")
            & (AuditEntry.at >= since)
            & AuditEntry.reason.startswith(BUDGET_ALERT_REASON)
        )
        .exists()
    )


def _refuse_out_of_scope(hid: int | None, context: dict) -> None:
    # The same entry whether the id is missing or out of scope; a protected household is flagged so
    # that attempts on it (an unassigned colleague, a contractor) reach the 支援措置 reports.
    protected = hid is not None and bool(
        Household.select(Household.support_measure).where(Household.id == hid).scalar()
    )
    audit.record(
        "access.out_of_scope",
        target_table="household",
        target_ids=[hid] if hid is not None else None,
        outcome="denied",
        reason=DV_FLAG if protected else None,
        **context,
    )


def _refuse_over_budget(user, hid: int, viewed: set[int], limit: int, since, flag, fields, context) -> None:
    note = f"上限 {limit} 世帯/時"
    audit.record(
        "access.read_budget_exceeded",
        target_table="household",
        target_ids=[hid],
        fields=fields,
        outcome="denied",
        reason=f"{note}; {flag}" if flag else note,
        **context,
    )
    if _recently_alerted(user.id, since):
        return  # the officer has been told this hour; each refusal is still in the trail
    audit.record(
        "security.alert",
        target_table="user",
        target_ids=[user.id],
        outcome="denied",
        reason=f"{BUDGET_ALERT_REASON}: {len(viewed)} households viewed in the last hour (limit {limit})",
        **context,
    )
    current_app.logger.warning(
        "security: user %s reached the read budget (%s households/hour)", user.id, limit
    )


def require_household(
    user,
    household_id,
    *,
    action: str = "household.view",
    fields: Iterable[str] | None = None,
    budget: int | None = None,
    **context,
) -> Household:
    """The household for a view by user, audited; NotVisible or ReadBudgetExceeded otherwise.

    - Not visible (out of scope, or no such id): an ``access.out_of_scope`` entry (denied, the id)
      and NotVisible; a missing id gets the same entry as an out-of-scope one.
    - Over the read budget (distinct households viewed in the last hour, re-views not counted; budget
      defaults to read_budget(user)): an ``access.read_budget_exceeded`` entry (denied), a
      ``security.alert`` entry for the officer (once per user and hour) and ReadBudgetExceeded.
    - Else an entry ``action`` (allowed, target the household, fields), flagged "支援措置対象" for a
      protected household, and the Household.

    action must end in ".view" (those entries are what the budget counts). context: session_ref, ip
    (and actor, which must be user) for the audit trail. Entries are committed before the exception.
    """
    if not isinstance(action, str) or not action.endswith(VIEW_SUFFIX):
        raise ValueError(f"require_household records a view: action must end in {VIEW_SUFFIX!r}")
    context["actor"] = _audit_actor(user, context)
    hid = _as_id(household_id)
    scoped = hid is not None and _role(user) is not None
    limit = (read_budget(user) if budget is None else budget) if scoped else 0
    refusal = None
    with db.atomic():  # the check, the budget and the entry in one transaction
        household = _scoped(user, Household).where(Household.id == hid).first() if scoped else None
        if household is None:
            refusal = NotVisible()
            _refuse_out_of_scope(hid, context)
        else:
            flag = DV_FLAG if household.support_measure else None
            _lock_trail()
            since = utcnow() - BUDGET_WINDOW
            viewed = households_viewed(user, since=since)
            if hid not in viewed and len(viewed) >= limit:
                refusal = ReadBudgetExceeded(limit)
                _refuse_over_budget(user, hid, viewed, limit, since, flag, fields, context)
            else:
                audit.record(
                    action, target_table="household", target_ids=[hid], fields=fields, reason=flag, **context
                )
    if refusal is not None:  # raised after the commit: the refusal stays in the trail
        raise refusal
    return household


def household_for_change(user, household_id, **context) -> Household:
    """The household a user is about to change, if it is in the user's scope; NotVisible otherwise.

    The check only: the change itself writes the audit entry (services.editing), so no view entry is
    added here. An out-of-scope or missing id is refused and audited like a view of it.
    """
    context["actor"] = _audit_actor(user, context)
    hid = _as_id(household_id)
    household = None
    if hid is not None and _role(user) is not None:
        household = _scoped(user, Household).where(Household.id == hid).first()
    if household is None:
        with db.atomic():
            _refuse_out_of_scope(hid, context)
        raise NotVisible()
    return household
