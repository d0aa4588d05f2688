"""Object scope (services.access): who sees which household, DV protection, audit, read budget, search limits.

The property test compares the service with a reference predicate written plainly in Python over the
same rows, for random (user, household) pairs on a small random world, after a random change to it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from dataclasses import dataclass

import pytest
import time_machine
from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extensions import db
from models import AuditEntry, Building, Estate, Household, SupportAssignment, Tenancy, Unit, User, Ward
from models.base import utcnow
from rules.filters import today_tokyo
from services import access, audit
from tests.factories import (
    make_account,
    make_assignment,
    make_building,
    make_estate,
    make_household,
    make_office,
    make_tenancy,
    make_unit,
    make_ward,
)

DATES = [dt.date(2005, 4, 1), dt.date(2010, 4, 1), dt.date(2015, 4, 1)]  # few dates: ties happen


# --- the world ------------------------------------------------------------------------------------------


@dataclass
class World:
    offices: list
    wards: list
    units: list
    households: list[int]
    users: list  # User rows as loaded at build time (None stands for "no user")


def _ended(household, unit, move_in: dt.date) -> Tenancy:
    return make_tenancy(
        household=household,
        unit=unit,
        move_in_date=move_in,
        move_out_date=move_in + dt.timedelta(days=365 * 3),
        status="ended",
    )


def build_world(rng: random.Random, households: int = 30) -> World:
    """3 offices; 5 wards (two for the first office, one without an office); 2 estates per ward;
    households active, moved out (ties on move-in dates included), transferred across wards, with an
    active tenancy older than an ended one, or with no tenancy; random DV flags and assignments
    (contractor assignments among them, which must be ignored); users of every role and state."""
    offices = [make_office() for _ in range(3)]
    wards = [make_ward(office=office) for office in (offices[0], offices[0], offices[1], offices[2], None)]
    units = []
    for ward in wards:
        for _ in range(2):
            building = make_building(estate=make_estate(ward=ward))
            units += [make_unit(building=building) for _ in range(rng.randint(4, 6))]
    free = units[:]
    rng.shuffle(free)

    household_ids = []
    for _ in range(households):
        kind = rng.choice(["active", "active", "moved_out", "moved_out_tie", "transferred", "odd", "none"])
        household = make_household(
            support_measure=rng.random() < 0.3,
            status="moved_out" if kind.startswith("moved_out") else "active",
        )
        if kind == "active":
            make_tenancy(household=household, unit=free.pop(), move_in_date=rng.choice(DATES))
        elif kind == "moved_out":
            for move_in in sorted(rng.sample(DATES, rng.randint(1, 2))):
                _ended(household, rng.choice(units), move_in)
        elif kind == "moved_out_tie":  # two ended tenancies moved in the same day: the later id wins
            move_in = rng.choice(DATES)
            _ended(household, rng.choice(units), move_in)
            _ended(household, rng.choice(units), move_in)
        elif kind == "transferred":  # 住替え: ended in one ward, active in another
            _ended(household, rng.choice(units), DATES[0])
            make_tenancy(household=household, unit=free.pop(), move_in_date=DATES[2], reason="transfer")
        elif kind == "odd":  # the active tenancy wins even over an ended one that moved in later
            make_tenancy(household=household, unit=free.pop(), move_in_date=DATES[0])
            _ended(household, rng.choice(units), DATES[2])
        household_ids.append(household.id)

    yesterday = today_tokyo() - dt.timedelta(days=1)
    users = [
        make_account("staff"),
        make_account("staff"),
        make_account("staff"),
        make_account("officer"),
        make_account("officer"),
        make_account("contractor", offices[0]),
        make_account("contractor", offices[0]),
        make_account("contractor", offices[1]),
        make_account("contractor", offices[2], contract_end_date=today_tokyo()),  # last day: still in
        make_account("contractor", None),
        make_account("contractor", offices[0], contract_end_date=yesterday),
        make_account("contractor", offices[1], active=False),
        make_account("staff", active=False),
        make_account("officer", contract_end_date=yesterday),
        make_account("auditor"),
        make_account("sysadmin"),
    ]
    assignable = [u for u in users if u.role in ("staff", "officer", "contractor")]
    for hid in household_ids:
        for user in rng.sample(assignable, rng.choice([0, 0, 1, 2])):
            ended = rng.random() < 0.3
            make_assignment(hid, user, ended_at=utcnow() if ended else None)
    # Whatever the draw: a protected household of the first office with a current assignment (staff),
    # an ended one (another staff) and a current one naming a contractor of that office.
    protected = make_household(support_measure=True)
    unit = make_unit(building=make_building(estate=make_estate(ward=wards[0])))
    make_tenancy(household=protected, unit=unit, move_in_date=DATES[1])
    make_assignment(protected, users[0])
    make_assignment(protected, users[1], ended_at=utcnow())
    make_assignment(protected, users[5])
    household_ids.append(protected.id)
    return World(offices, wards, [*units, unit], household_ids, users)


# --- the reference predicate, in plain Python -----------------------------------------------------------


@dataclass
class Snapshot:
    users: dict
    households: dict
    tenancies: list
    unit_ward: dict  # unit id -> ward row
    assignments: list

    @classmethod
    def load(cls) -> Snapshot:
        wards = {w.id: w for w in Ward.select()}
        estate_ward = {e.id: wards[e.ward_id] for e in Estate.select()}
        building_ward = {b.id: estate_ward[b.estate_id] for b in Building.select()}
        return cls(
            users={u.id: u for u in User.select()},
            households={h.id: h for h in Household.select()},
            tenancies=list(Tenancy.select()),
            unit_ward={u.id: building_ward[u.building_id] for u in Unit.select()},
            assignments=list(SupportAssignment.select()),
        )


def reference(user_id: int | None, household_id: int, snap: Snapshot) -> bool:
    """May this user (as the database has it now) see this household? Written without SQL."""
    user = snap.users.get(user_id)
    household = snap.households.get(household_id)
    if user is None or household is None or not user.active:
        return False
    if user.contract_end_date is not None and user.contract_end_date < today_tokyo():
        return False
    if user.role in ("staff", "officer"):
        if not household.support_measure:
            return True
        return any(
            a.household_id == household_id and a.user_id == user.id and a.ended_at is None
            for a in snap.assignments
        )
    if user.role == "contractor":
        if user.office_id is None or household.support_measure:
            return False
        tenancies = [t for t in snap.tenancies if t.household_id == household_id]
        if not tenancies:
            return False
        active = [t for t in tenancies if t.status == "active"]
        current = active[0] if active else max(tenancies, key=lambda t: (t.move_in_date, t.id))
        return snap.unit_ward[current.unit_id].office_id == user.office_id
    return False


def visible_ids(user) -> set[int]:
    return {row[0] for row in access.visible_households(user).tuples()}


# --- random changes to the world --------------------------------------------------------------------------


def _change(world: World, data, kind: str) -> None:
    pick = lambda values: data.draw(st.sampled_from(values))  # noqa: E731
    if kind == "toggle_dv":
        household = Household.get_by_id(pick(world.households))
        Household.update(support_measure=not household.support_measure).where(
            Household.id == household.id
        ).execute()
    elif kind == "assign":
        hid, user = pick(world.households), pick([u for u in world.users if u.role != "auditor"])
        current = SupportAssignment.select().where(
            (SupportAssignment.household == hid)
            & (SupportAssignment.user == user.id)
            & SupportAssignment.ended_at.is_null()
        )
        if not current.exists():
            make_assignment(hid, user.id)
    elif kind == "end_assignment":
        current = list(SupportAssignment.select().where(SupportAssignment.ended_at.is_null()))
        if current:
            row = pick(current)
            SupportAssignment.update(ended_at=utcnow()).where(SupportAssignment.id == row.id).execute()
    elif kind == "ward_office":
        ward = pick(world.wards)
        office = pick([*world.offices, None])
        Ward.update(office=office).where(Ward.id == ward.id).execute()
    elif kind == "user_office":
        user = pick([u for u in world.users if u.role == "contractor"])
        office = pick([*world.offices, None])
        User.update(office=office).where(User.id == user.id).execute()
    elif kind == "user_role":
        role = pick(["staff", "officer", "contractor", "auditor", "sysadmin"])
        User.update(role=role).where(User.id == pick(world.users).id).execute()
    elif kind == "user_active":
        user = User.get_by_id(pick(world.users).id)
        User.update(active=not user.active).where(User.id == user.id).execute()
    elif kind == "move_out":
        Tenancy.update(status="ended", move_out_date=dt.date(2024, 3, 31)).where(
            (Tenancy.household == pick(world.households)) & (Tenancy.status == "active")
        ).execute()
    elif kind == "transfer":
        hid = pick(world.households)
        occupied = Tenancy.select(Tenancy.unit).where(Tenancy.status == "active")
        free = [u.id for u in Unit.select(Unit.id).where(Unit.id.not_in(occupied))]
        if free:
            Tenancy.update(status="ended", move_out_date=dt.date(2024, 3, 31)).where(
                (Tenancy.household == hid) & (Tenancy.status == "active")
            ).execute()
            make_tenancy(household=hid, unit=pick(free), move_in_date=dt.date(2024, 4, 1), reason="transfer")


CHANGES = [
    "none",
    "toggle_dv",
    "assign",
    "end_assignment",
    "ward_office",
    "user_office",
    "user_role",
    "user_active",
    "move_out",
    "transfer",
]


@pytest.fixture(params=[11, 29])
def world(request, database) -> World:
    return build_world(random.Random(request.param))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_scope_agrees_with_the_reference_predicate(world, data):
    """After a random change, for a random user and household: can_see_household and membership in
    visible_households both equal the reference; a stale user object never sees more than that."""
    with db.atomic() as txn:  # each example starts from the same world
        try:
            _change(world, data, data.draw(st.sampled_from(CHANGES), label="change"))
            snap = Snapshot.load()
            loaded = data.draw(st.sampled_from([*world.users, None]), label="user")
            user = User.get_by_id(loaded.id) if loaded is not None else None
            missing = max(world.households) + 1000
            hid = data.draw(st.sampled_from([*world.households, missing]), label="household")

            expected = reference(user and user.id, hid, snap)
            assert access.can_see_household(user, hid) is expected
            assert (hid in visible_ids(user)) is expected
            # Every user's whole scope, as the database has them and as loaded before the change: the
            # object only picks the branch, the database decides (a stale object never sees more).
            for before in world.users:
                now = User.get_by_id(before.id)
                visible = visible_ids(now)
                assert visible == {h for h in snap.households if reference(now.id, h, snap)}, now.login_id
                assert visible_ids(before) <= visible
        finally:
            txn.rollback()


def test_the_world_has_every_case(world):
    """The random world covers what the property test is meant to exercise."""
    snap = Snapshot.load()
    by_household = {}
    for t in snap.tenancies:
        by_household.setdefault(t.household_id, []).append(t)
    kinds = set()
    for hid in world.households:
        rows = by_household.get(hid, [])
        statuses = sorted(t.status for t in rows)
        kinds.add(tuple(statuses))
    assert () in kinds and ("active",) in kinds and ("active", "ended") in kinds
    assert any(set(s) == {"ended"} for s in kinds)
    assert any(h.support_measure for h in snap.households.values())
    contractors = [u for u in world.users if u.role == "contractor" and u.active]
    assert any(visible_ids(u) for u in contractors)
    assert any(not visible_ids(u) for u in contractors)


# --- the rules, case by case ------------------------------------------------------------------------------


@pytest.fixture
def place(database):
    """Two offices with a ward and a unit each: (office A, unit in A, office B, unit in B)."""
    office_a, office_b = make_office(), make_office()
    unit_a = make_unit(building=make_building(estate=make_estate(ward=make_ward(office=office_a))))
    unit_b = make_unit(building=make_building(estate=make_estate(ward=make_ward(office=office_b))))
    return office_a, unit_a, office_b, unit_b


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.select().where(AuditEntry.action == action).order_by(AuditEntry.id))


def test_dv_household_is_seen_only_by_assigned_staff(place):
    office_a, unit_a, _, _ = place
    household = make_household(support_measure=True)
    make_tenancy(household=household, unit=unit_a)
    staff, colleague, officer = make_account("staff"), make_account("staff"), make_account("officer")
    contractor = make_account("contractor", office_a)
    make_assignment(household, contractor)  # a contractor is never in scope, assigned or not

    for user in (staff, colleague, officer, contractor):
        assert not access.can_see_household(user, household.id)
        assert household.id not in visible_ids(user)

    assignment = make_assignment(household, staff, assigned_by=officer)
    assert access.can_see_household(staff, household.id) and household.id in visible_ids(staff)
    assert not access.can_see_household(colleague, household.id)
    assert not access.can_see_household(officer, household.id)  # per person assigned, officers too
    assert not access.can_see_household(contractor, household.id)
    assert access.require_household(staff, household.id).id == household.id

    SupportAssignment.update(ended_at=utcnow()).where(SupportAssignment.id == assignment.id).execute()
    assert not access.can_see_household(staff, household.id)
    with pytest.raises(access.NotVisible):
        access.require_household(staff, household.id)


def test_every_view_of_a_dv_household_is_flagged(place):
    _, unit_a, _, _ = place
    protected, ordinary = make_household(support_measure=True), make_household()
    make_tenancy(household=protected, unit=unit_a)
    staff, colleague = make_account("staff"), make_account("staff")
    make_assignment(protected, staff)

    for _ in range(2):
        access.require_household(staff, protected.id, fields=["氏名"], session_ref="abc", ip="127.0.0.1")
    access.require_household(staff, ordinary.id)
    views = entries("household.view")
    assert [(e.target_ids, e.reason, e.outcome) for e in views] == [
        (f"[{protected.id}]", access.DV_FLAG, "allowed"),
        (f"[{protected.id}]", access.DV_FLAG, "allowed"),
        (f"[{ordinary.id}]", None, "allowed"),
    ]
    assert (views[0].fields, views[0].session_ref, views[0].ip) == ('["氏名"]', "abc", "127.0.0.1")

    # An attempt by an unassigned colleague is refused and flagged too: it is what the officer looks for.
    with pytest.raises(access.NotVisible):
        access.require_household(colleague, protected.id)
    [attempt] = entries("access.out_of_scope")
    assert (attempt.actor_id, attempt.outcome, attempt.reason) == (colleague.id, "denied", access.DV_FLAG)


def test_out_of_scope_and_missing_households_are_not_visible_and_audited(place):
    office_a, unit_a, office_b, unit_b = place
    mine, theirs = make_household(), make_household()
    make_tenancy(household=mine, unit=unit_a)
    make_tenancy(household=theirs, unit=unit_b)
    contractor = make_account("contractor", office_a)

    assert access.require_household(contractor, mine.id, action="household.view").id == mine.id
    with pytest.raises(access.NotVisible):
        access.require_household(contractor, theirs.id)
    missing = theirs.id + 1000
    with pytest.raises(access.NotVisible):
        access.require_household(contractor, missing)
    denied = entries("access.out_of_scope")
    assert [(e.actor_id, e.outcome, e.target_table, e.target_ids, e.reason) for e in denied] == [
        (contractor.id, "denied", "household", f"[{theirs.id}]", None),
        (contractor.id, "denied", "household", f"[{missing}]", None),  # same shape: nothing more told
    ]
    assert [e.target_ids for e in entries("household.view")] == [f"[{mine.id}]"]
    for bad in (None, 0, -1, True, "x", 2**70):
        with pytest.raises(access.NotVisible):
            access.require_household(contractor, bad)
        assert access.can_see_household(contractor, bad) is False


def test_contractor_scope_follows_the_current_tenancy(place):
    office_a, unit_a, office_b, unit_b = place
    contractor_a = make_account("contractor", office_a)
    contractor_b = make_account("contractor", office_b)
    moved = make_household()  # transferred from B to A: A's now
    _ended(moved, unit_b, DATES[0])
    make_tenancy(household=moved, unit=unit_a, move_in_date=DATES[1], reason="transfer")
    gone = make_household(status="moved_out")  # moved out of A, having lived in B before
    _ended(gone, unit_b, DATES[0])
    _ended(gone, unit_a, DATES[1])
    never = make_household()  # no tenancy at all: only the city sees it
    assert visible_ids(contractor_a) == {moved.id, gone.id}
    assert visible_ids(contractor_b) == set()
    assert {moved.id, gone.id, never.id} <= visible_ids(make_account("staff"))
    assert visible_ids(make_account("contractor", None)) == set()


@pytest.mark.parametrize("role", ["auditor", "sysadmin", "inactive", "expired", "none"])
def test_users_without_scope_see_nothing(place, role):
    _, unit_a, _, _ = place
    household = make_household()
    make_tenancy(household=household, unit=unit_a)
    user = {
        "auditor": lambda: make_account("auditor"),
        "sysadmin": lambda: make_account("sysadmin"),
        "inactive": lambda: make_account("staff", active=False),
        "expired": lambda: make_account("staff", contract_end_date=today_tokyo() - dt.timedelta(days=1)),
        "none": lambda: None,
    }[role]()
    assert visible_ids(user) == set()
    assert not access.can_see_household(user, household.id)
    with pytest.raises(access.NotVisible):
        access.require_household(user, household.id)
    assert access.search_cap(user) == 0 and access.read_budget(user) == 0
    with pytest.raises(access.SearchRefused):
        access.require_search_terms(user, {"name": "カワサキ"})


def test_the_database_decides_not_the_loaded_object(place):
    """A deactivation, a role change or a new office applies at once, whatever object the caller holds."""
    office_a, unit_a, office_b, unit_b = place
    in_a, in_b = make_household(), make_household()
    make_tenancy(household=in_a, unit=unit_a)
    make_tenancy(household=in_b, unit=unit_b)
    staff, contractor = make_account("staff"), make_account("contractor", office_a)

    User.update(active=False).where(User.id == staff.id).execute()
    assert staff.active and visible_ids(staff) == set()
    User.update(active=True, role="auditor").where(User.id == staff.id).execute()
    assert visible_ids(staff) == set() and not access.can_see_household(staff, in_a.id)

    assert visible_ids(contractor) == {in_a.id}
    User.update(office=office_b).where(User.id == contractor.id).execute()
    assert visible_ids(contractor) == {in_b.id}
    User.update(office=None).where(User.id == contractor.id).execute()
    assert visible_ids(contractor) == set()


def test_visible_households_composes_and_each_check_is_one_query(place, monkeypatch):
    office_a, unit_a, _, unit_b = place
    households = [make_household() for _ in range(4)]
    for household, unit in zip(households, [unit_a, unit_b, make_unit(), make_unit()], strict=True):
        make_tenancy(household=household, unit=unit)
    contractor = make_account("contractor", office_a)
    scoped = Household.select().where(Household.id.in_(access.visible_households(contractor)))
    assert [h.id for h in scoped] == [households[0].id]

    statements = []
    real = db.obj.execute_sql
    monkeypatch.setattr(
        db.obj, "execute_sql", lambda sql, *a, **k: statements.append(sql) or real(sql, *a, **k)
    )
    assert access.can_see_household(contractor, households[0].id)
    assert not access.can_see_household(contractor, households[1].id)
    assert visible_ids(contractor) == {households[0].id}
    assert len(statements) == 3


def test_require_household_checks_its_arguments(place):
    _, unit_a, _, _ = place
    household = make_household()
    staff, other = make_account("staff"), make_account("staff")
    with pytest.raises(ValueError, match="view"):
        access.require_household(staff, household.id, action="household.update")
    with pytest.raises(ValueError, match="another actor"):
        access.require_household(staff, household.id, actor=other)
    # blueprints.context.audit_context passes the actor: the same person is fine.
    access.require_household(staff, household.id, actor=staff, session_ref="s", ip="::1")
    assert entries("household.view")[-1].actor_id == staff.id


# --- read budget ------------------------------------------------------------------------------------------


def test_read_budget_counts_distinct_households_per_hour(app, place):
    app.config["READ_BUDGET_PER_HOUR"] = 3
    staff, other = make_account("staff"), make_account("staff")
    households = [make_household() for _ in range(4)]
    first, second, third, fourth = (h.id for h in households)

    for hid in (first, second, third, first):  # a re-view does not count again
        access.require_household(staff, hid)
    with pytest.raises(access.ReadBudgetExceeded) as refused:
        access.require_household(staff, fourth, session_ref="s1")
    assert refused.value.budget == 3 and "上限（3世帯）" in refused.value.message
    [exceeded] = entries("access.read_budget_exceeded")
    assert (exceeded.actor_id, exceeded.outcome, exceeded.target_ids) == (staff.id, "denied", f"[{fourth}]")
    [alert] = entries("security.alert")
    assert (alert.actor_id, alert.target_table, alert.target_ids) == (staff.id, "user", f"[{staff.id}]")
    assert alert.reason.startswith(access.BUDGET_ALERT_REASON)

    access.require_household(staff, second)  # already viewed this hour: still fine
    with pytest.raises(access.ReadBudgetExceeded):
        access.require_household(staff, fourth)
    assert len(entries("access.read_budget_exceeded")) == 2
    assert len(entries("security.alert")) == 1  # one alert per user and hour, not one per attempt
    assert access.households_viewed(staff) == {first, second, third}
    access.require_household(other, fourth)  # the budget is per user

    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, minutes=1)):
        assert access.require_household(staff, fourth).id == fourth
        assert access.households_viewed(staff) == {fourth}


def test_denied_views_and_other_actions_do_not_use_the_budget(place):
    office_a, unit_a, _, unit_b = place
    contractor = make_account("contractor", office_a)
    mine, theirs = make_household(), make_household()
    make_tenancy(household=mine, unit=unit_a)
    make_tenancy(household=theirs, unit=unit_b)
    for _ in range(3):
        with pytest.raises(access.NotVisible):
            access.require_household(contractor, theirs.id, budget=1)
    audit.record("household.search", actor=contractor, target_table="household", target_ids=[theirs.id])
    assert access.require_household(contractor, mine.id, action="person.view", budget=1).id == mine.id
    assert access.households_viewed(contractor) == {mine.id}


def test_budget_and_caps_per_role_and_from_config(app, database):
    staff, officer = make_account("staff"), make_account("officer")
    contractor = make_account("contractor", make_office())
    assert [access.read_budget(u) for u in (staff, officer, contractor)] == [150, 150, 60]
    assert [access.search_cap(u) for u in (staff, officer, contractor)] == [200, 200, 50]
    app.config.update(
        READ_BUDGET_PER_HOUR=80,
        READ_BUDGET_PER_HOUR_CONTRACTOR="20",
        SEARCH_CAP_STAFF=100,
        SEARCH_CAP_CONTRACTOR=10,
    )
    assert [access.read_budget(u) for u in (staff, officer, contractor)] == [80, 80, 20]
    assert [access.search_cap(u) for u in (staff, officer, contractor)] == [100, 100, 10]
    app.config["SEARCH_CAP_CONTRACTOR"] = -1
    with pytest.raises(ValueError, match="negative"):
        access.search_cap(contractor)


# --- search -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "terms",
    [{}, None, {"name": ""}, {"name": "  "}, {"name": "ア"}, {"name": "%%"}, {"name": "＊＊＊"},
     {"page": 2, "sort": "name", "status": "active"}, {"estate_ids": []}, {"name": None}],
)  # fmt: skip
def test_contractor_search_needs_a_narrowing_term(database, terms):
    contractor = make_account("contractor", make_office())
    with pytest.raises(access.SearchRefused, match="検索条件"):
        access.require_search_terms(contractor, terms, session_ref="s")
    [refused] = entries("access.search_refused")
    assert (refused.actor_id, refused.outcome, refused.reason) == (
        contractor.id,
        "denied",
        "no narrowing term",
    )
    assert "アア" not in (refused.fields or "") and json.loads(refused.fields or "[]") == sorted(terms or {})


@pytest.mark.parametrize(
    "terms",
    [{"name": "カワサキ"}, {"household_no": "H0012"}, {"estate_id": 3}, {"estate_ids": [3]},
     {"birth_date": dt.date(1970, 1, 1)}, {"name": "", "unit": "101"}, {"page": 1, "name": "ｶﾜｻｷ"}],
)  # fmt: skip
def test_narrowed_contractor_search_and_any_staff_search_pass(database, terms):
    contractor = make_account("contractor", make_office())
    assert access.require_search_terms(contractor, terms) is None
    assert access.require_search_terms(make_account("staff"), {}) is None
    assert access.require_search_terms(make_account("officer"), None) is None
    assert not entries("access.search_refused")


def test_search_terms_never_reach_the_trail(database):
    with pytest.raises(access.SearchRefused, match="検索できません"):
        access.require_search_terms(make_account("auditor"), {"name": "カワサキタロウ"})
    [refused] = entries("access.search_refused")
    assert refused.reason == "role" and "カワサキ" not in json.dumps(refused.__data__, default=str)


# --- PostgreSQL ---------------------------------------------------------------------------------------------


def test_the_same_scope_on_each_engine(engine_db):
    world = build_world(random.Random(7), households=40)
    snap = Snapshot.load()
    for user in [*world.users, None]:
        uid = user and user.id
        expected = {h for h in world.households if reference(uid, h, snap)}
        assert visible_ids(user) == expected, user and (user.role, user.office_id)
        scoped = Household.select(Household.id).where(Household.id.in_(access.visible_households(user)))
        assert {h.id for h in scoped} == expected
        for hid in world.households[:10]:
            assert access.can_see_household(user, hid) is (hid in expected)


def test_views_and_the_budget_on_each_engine(engine_db):
    world = build_world(random.Random(3), households=10)
    staff = world.users[0]
    seen = sorted(visible_ids(staff))
    for hid in seen[:2]:
        access.require_household(staff, hid, budget=2)
    access.require_household(staff, seen[0], budget=2)
    with pytest.raises(access.ReadBudgetExceeded):
        access.require_household(staff, seen[2], budget=2)
    assert access.households_viewed(staff) == set(seen[:2])
    assert len(entries("security.alert")) == 1
    with pytest.raises(access.NotVisible):
        access.require_household(staff, max(world.households) + 1)


def test_concurrent_views_cannot_overrun_the_budget(engine_db):
    """8 views of distinct households at once with a budget of 3: exactly 3 pass (the budget is read
    under the trail's lock: BEGIN IMMEDIATE on SQLite, the audit advisory lock on PostgreSQL)."""
    app = current_app._get_current_object()
    staff = make_account("staff")
    households = [make_household().id for _ in range(8)]
    barrier = threading.Barrier(len(households))
    outcomes = []

    def view(hid):
        with app.app_context():
            db.connect(reuse_if_open=True)
            try:
                barrier.wait()
                access.require_household(staff, hid, budget=3)
                outcomes.append("ok")
            except access.ReadBudgetExceeded:
                outcomes.append("refused")
            finally:
                db.close()

    threads = [threading.Thread(target=view, args=(hid,)) for hid in households]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5
    assert len(access.households_viewed(staff)) == 3
    assert audit.verify().ok
