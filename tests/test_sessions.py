"""Server-side sessions: idle and absolute limits at ±1 s, revocation, the once-a-minute touch, step-up."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import time_machine

from models.audit import AuditEntry
from models.base import utcnow
from models.security import User, UserSession
from services import accounts, sessions
from tests.conftest import csrf_token_of

START = dt.datetime(2026, 12, 1, 0, 0, 0, tzinfo=dt.UTC)


def signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200 and "ログイン中の利用者" in response.get_data(as_text=True)


def only_row(user) -> UserSession:
    return UserSession.get(UserSession.user == user.id)


@pytest.mark.parametrize(
    ("idle", "inside"),
    [(dt.timedelta(minutes=14, seconds=59), True), (dt.timedelta(minutes=15, seconds=1), False)],
)
def test_idle_timeout_is_fifteen_minutes(app, make_user, login, idle, inside):
    user = make_user("staff")
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        login(client, user)
        traveller.shift(idle)
        assert signed_in(client) is inside
    row = only_row(user)
    if inside:
        assert row.revoked_at is None
    else:
        assert row.revoked_reason == "idle_timeout"
        entry = AuditEntry.select().where(AuditEntry.action == "auth.session.expired").get()
        assert entry.reason == "idle_timeout" and entry.actor_login == user.login_id


def test_activity_keeps_the_session_alive(app, make_user, login):
    """The idle limit counts from the last request: a request every 14 minutes keeps it for hours."""
    user = make_user("staff")
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        login(client, user)
        for _ in range(10):
            traveller.shift(dt.timedelta(minutes=14))
            assert signed_in(client)
    assert only_row(user).revoked_at is None


@pytest.mark.parametrize(("offset", "inside"), [(-1, True), (1, False)])
def test_absolute_limit_is_twelve_hours(app, make_user, login, offset, inside):
    app.config["SESSION_IDLE_MINUTES"] = 24 * 60  # only the absolute limit matters here
    user = make_user("staff")
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        login(client, user)
        traveller.shift(dt.timedelta(hours=12, seconds=offset))
        assert signed_in(client) is inside
    if not inside:
        assert only_row(user).revoked_reason == "absolute_timeout"


def test_last_seen_is_written_at_most_once_a_minute(app, make_user, login):
    user = make_user("staff")
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        login(client, user)
        first = only_row(user).last_seen_at
        traveller.shift(dt.timedelta(seconds=59))
        assert signed_in(client)
        assert only_row(user).last_seen_at == first
        traveller.shift(dt.timedelta(seconds=2))
        assert signed_in(client)
        assert only_row(user).last_seen_at == first + dt.timedelta(seconds=61)


def test_a_revoked_session_is_refused_whatever_the_cookie_says(app, make_user, login):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    with app.app_context():
        sessions.revoke(only_row(user), sessions.ENDED_BY_OFFICER)
    assert not signed_in(client)
    with client.session_transaction() as data:
        assert "sid" not in data  # the dead token is dropped from the cookie


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 5000, 12345])
def test_garbage_tokens_are_anonymous(app, client, token):
    with client.session_transaction() as data:
        data["sid"] = token
    assert not signed_in(client)


def test_the_database_holds_only_the_token_hash(app, make_user, login):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    with client.session_transaction() as data:
        token = data["sid"]
    row = only_row(user)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(token) >= 43
    assert UserSession.select().where(UserSession.token_hash == token).count() == 0
    entry = AuditEntry.select().where(AuditEntry.action == "auth.login").get()
    assert entry.session_ref == row.token_hash[:16]
    assert token not in str(list(AuditEntry.select().tuples()))


def test_role_change_applies_on_the_next_request(app, make_user, login):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    assert "担当職員" in client.get("/").get_data(as_text=True)
    with app.app_context():
        accounts.set_role(user.login_id, "auditor", {})
    assert "監査" in client.get("/").get_data(as_text=True)


def test_ending_other_sessions_keeps_this_one(app, make_user, login):
    user = make_user("staff")
    one, two = app.test_client(), app.test_client()
    login(one, user)
    login(two, user)
    assert (
        one.post("/account/sessions/end-others", data={"csrf_token": csrf_token_of(one)}).status_code == 303
    )
    assert signed_in(one) and not signed_in(two)
    assert UserSession.select().where(UserSession.revoked_reason == "ended_by_user").count() == 1


def test_recently_stepped_up_boundaries(app, make_user):
    user = make_user("staff")
    with app.app_context(), time_machine.travel(START, tick=False) as traveller:
        row, _ = sessions.create(User.get_by_id(user.id))
        assert not sessions.recently_stepped_up(row)
        assert not sessions.recently_stepped_up(None)
        row.stepped_up_at = utcnow()
        traveller.shift(dt.timedelta(minutes=5))
        assert sessions.recently_stepped_up(row)
        traveller.shift(dt.timedelta(seconds=1))
        assert not sessions.recently_stepped_up(row)
        assert sessions.recently_stepped_up(row, minutes=10)


def test_rotate_refuses_an_ended_session(app, make_user):
    user = make_user("staff")
    with app.app_context():
        row, token = sessions.create(User.get_by_id(user.id))
        new = sessions.rotate(row, stepped_up=True)
        assert new != token and row.token_hash == sessions.hash_token(new)
        sessions.revoke(row, sessions.LOGOUT)
        with pytest.raises(LookupError):
            sessions.rotate(row)
        assert sessions.resolve(new) is None


def test_a_token_whose_reference_reads_as_a_my_number_is_drawn_again(app, make_user, monkeypatch):
    """The audit trail refuses text holding a valid My Number; a session reference never does."""
    from services.audit import contains_my_number

    bad = next(
        token
        for token in (f"t{n}" for n in range(1_000_000))
        if contains_my_number(sessions.ref_of(sessions.hash_token(token)))
    )
    user = make_user("staff")
    drawn = iter([bad, "a-good-token"])
    monkeypatch.setattr(sessions.secrets, "token_urlsafe", lambda _n: next(drawn))
    with app.app_context():
        row, token = sessions.create(User.get_by_id(user.id))
    assert token == "a-good-token"
    assert row.token_hash == sessions.hash_token("a-good-token")
