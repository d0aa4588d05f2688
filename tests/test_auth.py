"""WebAuthn from the attacker's side: every AUTH-* point of SECURITY.md, with the software authenticator.

Each refusal must be the same generic 400 for the browser and an audit entry with the real reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import url_for

from app import create_app
from models.audit import AuditEntry
from models.security import Credential, EnrollmentLink, User, UserSession, WebAuthnChallenge
from services import accounts
from services import auth as auth_service
from tests.conftest import csrf_token_of, post_json
from tests.conftest import test_config as make_config
from tests.soft_authenticator import SoftAuthenticator

GENERIC = "認証器を確認できません。"
ORIGIN = "http://localhost:5000"
START = dt.datetime(2026, 4, 1, 1, 0, 0, tzinfo=dt.UTC)


def entries(action: str | None = None) -> list[AuditEntry]:
    query = AuditEntry.select().order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(query)


def last_reason(action: str) -> str:
    found = entries(action)
    assert found, f"no audit entry {action}"
    return found[-1].reason or ""


def b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def sid_of(client) -> str | None:
    """The session token inside the client's (signed, not encrypted) Flask session cookie."""
    from flask.sessions import SecureCookieSessionInterface

    cookie = client.get_cookie("session")
    if cookie is None:
        return None
    app = client.application
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(cookie.value)
    return data.get("sid")


def assert_refused(response) -> None:
    assert response.status_code == 400
    assert response.get_json() == {"error": GENERIC}


@pytest.fixture
def enrollee(app):
    """A new account (as `flask users create` makes it) and its enrollment token."""
    with app.app_context():
        user, token = accounts.create_user("tanaka", "田中 花子", "staff", {})
    return user, token


def enroll(client, token: str, key: SoftAuthenticator, nickname="職場のキー", **knobs):
    csrf = csrf_token_of(client)
    options = post_json(client, f"/enroll/{token}/options", token=csrf)
    if options.status_code != 200:
        return options
    credential = key.create(options.get_json(), **knobs)
    return post_json(
        client, f"/enroll/{token}/verify", {"credential": credential, "nickname": nickname}, token=csrf
    )


def try_login(client, key: SoftAuthenticator, **knobs):
    csrf = csrf_token_of(client)
    options = post_json(client, "/login/options", token=csrf)
    assert options.status_code == 200
    return post_json(
        client, "/login/verify", {"credential": key.get(options.get_json(), **knobs)}, token=csrf
    )


def signed_in(client) -> bool:
    response = client.get("/")
    return response.status_code == 200 and "ログイン中の利用者" in response.get_data(as_text=True)


# --- enrollment ----------------------------------------------------------------------------------------------


def test_enrollment_then_login_reaches_the_signed_in_home(app, client, enrollee):
    user, token = enrollee
    page = client.get(f"/enroll/{token}")
    assert page.status_code == 200
    assert "田中 花子 さんがログインに使う認証器を登録します。" in page.get_data(as_text=True)

    csrf = csrf_token_of(client)
    options = post_json(client, f"/enroll/{token}/options", token=csrf).get_json()
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert len(b64decode(options["challenge"])) >= 16
    assert options["user"]["name"] == "tanaka"
    handle = b64decode(options["user"]["id"])
    assert len(handle) == 32 and b"tanaka" not in handle
    assert options["excludeCredentials"] == []

    key = SoftAuthenticator()
    response = post_json(
        client,
        f"/enroll/{token}/verify",
        {"credential": key.create(options), "nickname": "職場のキー"},
        token=csrf,
    )
    assert response.status_code == 200
    assert response.get_json() == {"redirect": "/login"}
    credential = Credential.get(Credential.user == user.id)
    assert credential.nickname == "職場のキー"
    assert EnrollmentLink.get(EnrollmentLink.user == user.id).used_at is not None
    assert [e.action for e in entries()][-2:] == ["auth.enrollment_link.used", "auth.credential.added"]

    assert try_login(client, key).get_json() == {"redirect": "/"}
    home = client.get("/").get_data(as_text=True)
    assert "田中 花子" in home and "担当職員" in home
    login_entry = entries("auth.login")[-1]
    assert login_entry.actor_login == "tanaka" and login_entry.outcome == "allowed"
    assert login_entry.session_ref == hashlib.sha256(sid_of(client).encode()).hexdigest()[:16]


def test_enrollment_link_is_stored_hashed(app, enrollee):
    user, token = enrollee
    link = EnrollmentLink.get(EnrollmentLink.user == user.id)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert len(b64decode(token)) == 32
    assert token not in json.dumps([list(row) for row in EnrollmentLink.select().tuples()], default=str)


def test_enrollment_link_is_single_use(app, client, enrollee):
    _, token = enrollee
    assert enroll(client, token, SoftAuthenticator()).status_code == 200
    again = client.get(f"/enroll/{token}")
    assert again.status_code == 404
    assert "登録用リンクを使用できません" in again.get_data(as_text=True)
    assert_refused(enroll(client, token, SoftAuthenticator()))
    assert "already used" in last_reason("auth.enrollment_link.refused")
    assert Credential.select().count() == 1


def test_enrollment_link_expires_after_24_hours(app, enrollee):
    _, token = enrollee
    link = EnrollmentLink.get()
    created = link.created_at.replace(tzinfo=dt.UTC)
    with time_machine.travel(created + dt.timedelta(hours=24, seconds=1), tick=False):
        assert app.test_client().get(f"/enroll/{token}").status_code == 404
        assert "expired" in last_reason("auth.enrollment_link.refused")
    with time_machine.travel(created + dt.timedelta(hours=23, minutes=59), tick=False):
        assert enroll(app.test_client(), token, SoftAuthenticator()).status_code == 200


def test_a_new_link_revokes_the_unused_one(app, client, enrollee):
    _, token = enrollee
    with app.app_context():
        _, fresh = accounts.new_link("tanaka", {})
    assert client.get(f"/enroll/{token}").status_code == 404
    assert "revoked" in last_reason("auth.enrollment_link.refused")
    assert enroll(client, fresh, SoftAuthenticator()).status_code == 200


def test_unknown_enrollment_token_is_refused(client):
    assert client.get("/enroll/" + "A" * 43).status_code == 404
    assert "unknown" in last_reason("auth.enrollment_link.refused")


def test_registration_without_user_verification_is_refused(app, client, enrollee):
    _, token = enrollee
    assert_refused(enroll(client, token, SoftAuthenticator(), uv=False))
    assert last_reason("auth.registration.failed").startswith("uv missing")
    assert entries("auth.registration.failed")[-1].outcome == "denied"
    assert Credential.select().count() == 0
    assert EnrollmentLink.get().used_at is None  # the person can try again with the same link


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [({"origin": "https://evil.example"}, "origin mismatch"), ({"rp_id": "evil.example"}, "rp id mismatch")],
)
def test_registration_for_another_origin_or_rp_is_refused(client, enrollee, knobs, reason):
    _, token = enrollee
    assert_refused(enroll(client, token, SoftAuthenticator(), **knobs))
    assert last_reason("auth.registration.failed").startswith(reason)


def test_registration_challenge_is_single_use(app, client, enrollee):
    _, token = enrollee
    csrf = csrf_token_of(client)
    options = post_json(client, f"/enroll/{token}/options", token=csrf).get_json()
    cookie = client.get_cookie("session").value
    credential = SoftAuthenticator().create(options)
    assert_refused(  # a broken first attempt uses the challenge up …
        post_json(client, f"/enroll/{token}/verify", {"credential": {"id": "x"}}, token=csrf)
    )
    client.set_cookie("session", cookie)  # … and a replayed cookie cannot bring it back
    assert_refused(post_json(client, f"/enroll/{token}/verify", {"credential": credential}, token=csrf))
    assert "replay" in last_reason("auth.registration.failed")


def test_credential_ids_are_unique_across_users(app, enrollee, make_user):
    other = make_user("staff")
    same_id = b"\x01" * 32
    with app.app_context():
        options, challenge = auth_service.registration_options(other)
        auth_service.finish_registration(
            other, SoftAuthenticator().create(options, credential_id=same_id), challenge, "a", {}
        )
        user, _ = enrollee
        options, challenge = auth_service.registration_options(user)
        with pytest.raises(auth_service.CeremonyError):
            auth_service.finish_registration(
                user, SoftAuthenticator().create(options, credential_id=same_id), challenge, "b", {}
            )
    assert "already registered" in last_reason("auth.registration.failed")
    assert Credential.select().where(Credential.user == user.id).count() == 0


def test_exclude_credentials_lists_the_users_keys(app, make_user):
    user = make_user("staff", authenticators=2)
    with app.app_context():
        options = json.loads(auth_service.registration_options(user)[0])
    ids = {c.credential_id for c in Credential.select().where(Credential.user == user.id)}
    assert {item["id"] for item in options["excludeCredentials"]} == ids


# --- AUTH-7: attestation and AAGUID policy ------------------------------------------------------------------


def attestation_chain():
    """A test root CA (PEM) and an attestation certificate (DER) with its private key."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Attestation Root")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Keys"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Test Key"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    return (
        ca.public_bytes(serialization.Encoding.PEM).decode(),
        cert.public_bytes(serialization.Encoding.DER),
        key,
    )


AAGUID = bytes.fromhex("2fc0579f811347eab116bb5a8db9202a")
AAGUID_TEXT = "2fc0579f-8113-47ea-b116-bb5a8db9202a"


def register_with(app, key: SoftAuthenticator):
    """Register key for a fresh account in app; returns the CeremonyError reason or None."""
    with app.app_context():
        user = User.create(login_id=f"u{User.select().count()}", display_name="試験", role="staff")
        options, challenge = auth_service.registration_options(user)
        try:
            auth_service.finish_registration(user, key.create(options), challenge, "k", {})
        except auth_service.CeremonyError as exc:
            return exc.reason
    return None


def test_production_policy_requires_trusted_attestation_and_allowed_aaguid(app, tmp_path):
    root, cert, cert_key = attestation_chain()
    other_root, _, _ = attestation_chain()
    app.config.update(
        WEBAUTHN_REQUIRE_ATTESTATION=True,
        WEBAUTHN_AAGUID_ALLOWLIST=[AAGUID_TEXT],
        WEBAUTHN_ATTESTATION_ROOTS=[root],
    )
    with app.app_context():
        assert (
            json.loads(
                auth_service.registration_options(User.create(login_id="x1", display_name="x", role="staff"))[
                    0
                ]
            )["attestation"]
            == "direct"
        )
    city_key = {
        "aaguid": AAGUID,
        "attestation": "packed",
        "attestation_cert": cert,
        "attestation_key": cert_key,
    }
    assert register_with(app, SoftAuthenticator(**city_key)) is None
    assert register_with(app, SoftAuthenticator(aaguid=AAGUID)).startswith("attestation required (none")
    assert register_with(app, SoftAuthenticator(aaguid=AAGUID, attestation="self")).startswith(
        "attestation required (self"
    )
    assert register_with(app, SoftAuthenticator(**{**city_key, "aaguid": bytes(16)})).startswith(
        "aaguid not allowed"
    )
    app.config["WEBAUTHN_ATTESTATION_ROOTS"] = [other_root]
    assert register_with(app, SoftAuthenticator(**city_key)).startswith("attestation invalid")
    app.config["WEBAUTHN_ATTESTATION_ROOTS"] = []
    assert "no trusted roots" in register_with(app, SoftAuthenticator(**city_key))


def test_aaguid_allowlist_alone_refuses_other_models(app):
    app.config["WEBAUTHN_AAGUID_ALLOWLIST"] = AAGUID_TEXT
    assert register_with(app, SoftAuthenticator(aaguid=AAGUID)) is None
    assert register_with(app, SoftAuthenticator()).startswith("aaguid not allowed")


# --- login: AUTH-2 … AUTH-6, AUTH-8 ----------------------------------------------------------------------------


def test_login_start_answers_alike_for_any_input(app, client, make_user):
    make_user("staff")
    csrf = csrf_token_of(client)
    answers = [
        post_json(client, "/login/options", body, token=csrf)
        for body in ({"login_id": "staff1"}, {"login_id": "nobody"}, {}, {"username": "' OR 1=1 --"})
    ]
    assert {r.status_code for r in answers} == {200}
    shapes = []
    for response in answers:
        data = response.get_json()
        shapes.append((sorted(data), data["allowCredentials"], data["userVerification"], data["rpId"]))
        assert len(b64decode(data["challenge"])) == 32
    assert all(shape == shapes[0] for shape in shapes)
    assert shapes[0][1:] == ([], "required", "localhost")
    assert len({r.get_json()["challenge"] for r in answers}) == len(answers)
    assert len({len(r.get_data()) for r in answers}) == 1


def test_login_without_user_verification_is_refused_and_audited(client, make_user, soft_keys):
    user = make_user("staff")
    assert_refused(try_login(client, soft_keys[user.id], uv=False))
    entry = entries("auth.login.failed")[-1]
    assert entry.reason.startswith("uv missing") and entry.outcome == "denied"
    assert entry.actor_login == user.login_id
    assert not signed_in(client)


@pytest.mark.parametrize(
    ("knobs", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin mismatch"),
        ({"origin": "http://localhost:5001"}, "origin mismatch"),
        ({"rp_id": "evil.example"}, "rp id mismatch"),
        ({"kind": "webauthn.create"}, "wrong ceremony type"),
    ],
)
def test_assertion_for_another_origin_or_rp_is_refused(client, make_user, soft_keys, knobs, reason):
    user = make_user("staff")
    assert_refused(try_login(client, soft_keys[user.id], **knobs))
    assert last_reason("auth.login.failed").startswith(reason)
    assert not signed_in(client)


def test_a_forged_signature_is_refused(client, make_user, soft_keys):
    user = make_user("staff")
    csrf = csrf_token_of(client)
    options = post_json(client, "/login/options", token=csrf).get_json()
    assertion = soft_keys[user.id].get(options)
    signature = bytearray(b64decode(assertion["response"]["signature"]))
    signature[-1] ^= 1
    assertion["response"]["signature"] = base64.urlsafe_b64encode(bytes(signature)).rstrip(b"=").decode()
    assert_refused(post_json(client, "/login/verify", {"credential": assertion}, token=csrf))
    assert last_reason("auth.login.failed").startswith(("bad signature", "malformed response"))


def test_replayed_assertion_with_a_captured_cookie_is_refused(client, make_user, soft_keys):
    user = make_user("staff")
    csrf = csrf_token_of(client)
    options = post_json(client, "/login/options", token=csrf).get_json()
    captured_cookie = client.get_cookie("session").value
    assertion = soft_keys[user.id].get(options)
    assert post_json(client, "/login/verify", {"credential": assertion}, token=csrf).status_code == 200

    attacker = client.application.test_client()
    attacker.set_cookie("session", captured_cookie)
    assert_refused(post_json(attacker, "/login/verify", {"credential": assertion}, token=csrf))
    assert "replay" in last_reason("auth.login.failed")
    assert not signed_in(attacker)


def test_a_failed_attempt_uses_the_challenge_up(client, make_user, soft_keys):
    user = make_user("staff")
    csrf = csrf_token_of(client)
    options = post_json(client, "/login/options", token=csrf).get_json()
    cookie = client.get_cookie("session").value
    assert_refused(
        post_json(
            client, "/login/verify", {"credential": soft_keys[user.id].get(options, uv=False)}, token=csrf
        )
    )
    client.set_cookie("session", cookie)
    assert_refused(
        post_json(client, "/login/verify", {"credential": soft_keys[user.id].get(options)}, token=csrf)
    )
    assert "replay" in last_reason("auth.login.failed")


def test_verify_without_a_challenge_in_the_session_is_refused(client, make_user, soft_keys):
    user = make_user("staff")
    csrf = csrf_token_of(client)
    with client.application.app_context():
        options = json.loads(auth_service.authentication_options("login")[0])
    assert_refused(
        post_json(client, "/login/verify", {"credential": soft_keys[user.id].get(options)}, token=csrf)
    )
    assert "missing" in last_reason("auth.login.failed")


@pytest.mark.parametrize(("seconds", "accepted"), [(300, True), (301, False)])
def test_challenge_lives_five_minutes(app, make_user, soft_keys, seconds, accepted):
    user = make_user("staff")
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        csrf = csrf_token_of(client)
        options = post_json(client, "/login/options", token=csrf).get_json()
        traveller.shift(dt.timedelta(seconds=seconds))
        response = post_json(
            client, "/login/verify", {"credential": soft_keys[user.id].get(options)}, token=csrf
        )
    if accepted:
        assert response.status_code == 200
    else:
        assert_refused(response)
        assert last_reason("auth.login.failed") == "challenge expired"
    assert WebAuthnChallenge.select().count() == 0


def test_counter_regression_is_refused_and_a_security_event(client, make_user, soft_keys):
    user = make_user("staff")
    key = soft_keys[user.id]
    assert try_login(client, key).status_code == 200
    stored = Credential.get(Credential.user == user.id).sign_count
    assert stored == 2
    other = client.application.test_client()
    assert_refused(try_login(other, key, counter=stored))  # same counter: a clone
    assert_refused(try_login(other, key, counter=stored - 1))  # went backwards
    assert last_reason("auth.login.failed").startswith("counter regression")
    events = entries("security.counter_regression")
    assert len(events) == 2 and events[-1].outcome == "denied" and events[-1].actor_login == user.login_id
    assert Credential.get(Credential.user == user.id).sign_count == stored
    assert try_login(other, key, counter=stored + 5).status_code == 200


def test_counter_that_stays_zero(app, make_user, soft_keys):
    user = make_user("staff")
    key = SoftAuthenticator(counter_step=0)
    with app.app_context():
        options, challenge = auth_service.registration_options(user)
        auth_service.finish_registration(user, key.create(options), challenge, "platform", {})
    soft_keys[user.id] = key
    assert app.config["APP_ENV"] == "testing"
    assert try_login(app.test_client(), key).status_code == 200  # allowed outside production
    app.config["WEBAUTHN_ALLOW_ZERO_COUNTER"] = False  # production's default
    assert_refused(try_login(app.test_client(), key))
    assert last_reason("auth.login.failed").startswith("counter not supported")
    assert not entries("security.counter_regression")


def test_credential_of_one_user_with_the_handle_of_another_is_refused(app, client, make_user, soft_keys):
    alice, bob = make_user("staff"), make_user("officer")
    with app.app_context():
        bob_handle = auth_service.user_handle(bob)
    assert_refused(try_login(client, soft_keys[alice.id], user_handle=bob_handle))
    assert last_reason("auth.login.failed") == "wrong user handle"
    assert_refused(try_login(client, soft_keys[alice.id], user_handle=None))
    assert last_reason("auth.login.failed") == "wrong user handle"
    assert not signed_in(client)


def test_unknown_credential_is_refused(client, make_user):
    stranger = SoftAuthenticator()
    stranger.create({"challenge": "AAAA", "rp": {"id": "localhost"}, "user": {"id": "AAAA"}})
    assert_refused(try_login(client, stranger))
    assert last_reason("auth.login.failed") == "unknown credential"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"credential": None},
        {"credential": "x"},
        {"credential": {"id": "x", "rawId": "x"}},
        [1, 2],
        "junk",
    ],
)
def test_malformed_verify_bodies_get_the_generic_refusal(client, body):
    csrf = csrf_token_of(client)
    post_json(client, "/login/options", token=csrf)
    response = client.post(
        "/login/verify",
        data=json.dumps(body),
        headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
    )
    assert_refused(response)


def test_ceremony_posts_need_the_csrf_token(client):
    assert client.post("/login/options", json={}).status_code == 400
    assert client.post("/login/verify", json={}).status_code == 400


def test_deactivated_user_cannot_log_in_and_its_session_dies(app, make_user, login, soft_keys):
    user = make_user("staff")
    live = app.test_client()
    login(live, user)
    assert signed_in(live)
    with app.app_context():
        accounts.deactivate(user.login_id, {})
    response = live.get("/")
    assert response.status_code == 303 and response.headers["Location"].endswith("/login")
    assert_refused(try_login(app.test_client(), soft_keys[user.id]))
    assert last_reason("auth.login.failed") == "account blocked (deactivated)"
    assert UserSession.get(UserSession.user == user.id).revoked_reason == "deactivated"


def test_contractor_past_contract_end_is_refused(app, make_user, login, soft_keys):
    user = make_user("contractor", contract_end_date=dt.date(2026, 3, 31))
    client = app.test_client()
    with time_machine.travel(
        dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.UTC), tick=False
    ) as traveller:  # 23:00 JST
        login(client, user)
        assert signed_in(client)
        traveller.shift(dt.timedelta(hours=1, minutes=1))  # 00:01 JST on 4/1
        assert client.get("/").status_code == 303
        assert_refused(try_login(app.test_client(), soft_keys[user.id]))
    assert last_reason("auth.login.failed") == "account blocked (contract_ended)"
    assert last_reason("auth.session.expired") == "contract_ended"


def test_login_replaces_the_cookie_session(app, client, make_user, login):
    """Session fixation: whatever the browser held before login is gone, and the token is new."""
    user = make_user("staff")
    with client.session_transaction() as planted:
        planted["sid"] = "attacker-chosen"
        planted["planted"] = "x"
        planted["lang"] = "en"
    login(client, user)
    with client.session_transaction() as after:
        assert "planted" not in after
        assert after["sid"] != "attacker-chosen"
        assert after["lang"] == "en"  # the language choice survives
    first = sid_of(client)
    login(client, user)
    assert sid_of(client) != first
    old = UserSession.get(UserSession.token_hash == hashlib.sha256(first.encode()).hexdigest())
    assert old.revoked_at is not None


def test_logout_revokes_the_session_and_clears_the_browser(app, client, make_user, login):
    user = make_user("staff")
    login(client, user)
    cookie = client.get_cookie("session").value
    response = client.post("/logout", headers={"X-CSRFToken": csrf_token_of(client)})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/logged-out")
    assert response.headers["Clear-Site-Data"] == '"cookies", "storage"'
    assert UserSession.get(UserSession.user == user.id).revoked_reason == "logout"
    assert entries("auth.logout")[-1].actor_login == user.login_id
    replay = app.test_client()
    replay.set_cookie("session", cookie)  # the logged-out cookie, replayed
    assert replay.get("/").status_code == 303
    assert replay.get("/account/sessions", headers={"Accept": "application/json"}).status_code == 401


def test_logout_needs_the_csrf_token(client, make_user, login):
    login(client, make_user("staff"))
    assert client.post("/logout").status_code == 400
    assert signed_in(client)


def test_cookie_flags_in_testing_and_production(app, client, make_user, login, tmp_path):
    response = login(client, make_user("staff"))
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    prod = create_app(
        make_config(
            tmp_path,
            APP_ENV="production",
            TESTING=False,
            TRUSTED_HOSTS=["housing.city.example"],
            WEBAUTHN_RP_ID="housing.city.example",
            WEBAUTHN_ORIGINS=["https://housing.city.example"],
        )
    )
    assert prod.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    assert prod.config["SESSION_COOKIE_HTTPONLY"] is True
    assert prod.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert prod.config.get("SESSION_COOKIE_DOMAIN") in (None, False)
    with prod.app_context():
        assert auth_service.settings().allow_zero_counter is False


# --- AUTH-9: throttling ----------------------------------------------------------------------------------------


def test_rate_limit_trips_and_is_audited(app, client):
    app.config["AUTH_RATE_LIMIT"] = "3 per minute"
    with time_machine.travel(START, tick=False):
        csrf = csrf_token_of(client)
        statuses = [post_json(client, "/login/options", token=csrf).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert post_json(client, "/login/options", token=csrf).get_json()["error"].startswith("短い時間")
        page = client.post("/login/options", headers={"X-CSRFToken": csrf})
        assert page.status_code == 429 and "しばらく待ってから" in page.get_data(as_text=True)
    entry = entries("auth.rate_limited")[-1]
    assert entry.outcome == "denied" and "auth.login_options" in entry.reason and entry.ip == "127.0.0.1"
    with time_machine.travel(START + dt.timedelta(minutes=1, seconds=1), tick=False):
        assert post_json(client, "/login/options", token=csrf).status_code == 200


def test_rate_limit_per_authenticator(app, make_user, soft_keys):
    app.config["AUTH_ACCOUNT_RATE_LIMIT"] = "2 per hour"
    user = make_user("staff")
    with time_machine.travel(START, tick=False):
        results = [try_login(app.test_client(), soft_keys[user.id], uv=False).status_code for _ in range(3)]
    assert results == [400, 400, 429]
    assert "auth.login_verify" in last_reason("auth.rate_limited")


# --- AUTH-1: nothing but the ceremony is reachable without signing in ---------------------------------------

# Endpoints anyone may call: the login ceremony and its pages, static files, health, language.
PUBLIC_ALLOWLIST = {
    "static",
    "main.health",
    "main.language",
    "auth.login",
    "auth.login_options",
    "auth.login_verify",
    "auth.enroll",
    "auth.enroll_options",
    "auth.enroll_verify",
    "auth.logout",
    "auth.logged_out",
}


def test_only_the_allowlist_is_public():
    from blueprints.policy import POLICY, PUBLIC

    public = {endpoint for endpoint, rules in POLICY.items() if PUBLIC in rules.values()}
    assert public <= PUBLIC_ALLOWLIST


def sample(converter):
    """A value the URL converter accepts (an id, a word or a UUID)."""
    for value in (1, "x", "00000000-0000-4000-8000-000000000000"):
        try:
            if re.fullmatch(converter.regex, converter.to_url(value)):
                return value
        except (ValueError, TypeError, AttributeError):
            continue
    raise AssertionError(f"no sample value for {converter!r}")


def test_every_other_endpoint_refuses_an_anonymous_request(app, client):
    from blueprints.policy import PUBLIC, rule_for

    csrf = csrf_token_of(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        with app.test_request_context():
            url = url_for(rule.endpoint, **{name: sample(c) for name, c in rule._converters.items()})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            policy = rule_for(rule.endpoint, method)
            if policy == PUBLIC:
                continue
            page = client.open(url, method=method, headers={"X-CSRFToken": csrf})
            fetch = client.open(
                url, method=method, headers={"X-CSRFToken": csrf, "Accept": "application/json"}
            )
            if policy is None:  # not in the table: denied to everyone
                assert page.status_code == 403, (method, url)
                continue
            assert page.status_code == 303, (method, url, page.status_code)
            assert urlsplit(page.headers["Location"]).path == "/login", (method, url)
            assert fetch.status_code == 401, (method, url, fetch.status_code)
            checked += 1
    assert checked >= 15


def test_anonymous_home_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/login"


def test_no_user_exists_in_a_fresh_database(app):
    assert User.select().count() == 0


# --- the signed-in home ------------------------------------------------------------------------------------------


def test_home_shows_name_role_and_office(contractor_client):
    html = contractor_client.get("/").get_data(as_text=True)
    user = contractor_client.user
    assert user.display_name in html and "公社職員" in html
    assert "テスト事務所" in html
    assert "予備の認証器を登録してください" in html


@pytest.mark.parametrize(
    ("fixture", "label"),
    [
        ("staff_client", "担当職員"),
        ("officer_client", "保護責任者"),
        ("auditor_client", "監査"),
        ("sysadmin_client", "運用保守"),
    ],
)
def test_every_role_reaches_its_home(request, fixture, label):
    client = request.getfixturevalue(fixture)
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert label in html and client.user.display_name in html
    assert "/account/authenticators" in html and 'action="/logout"' in html


def test_login_page_redirects_a_signed_in_user_home(staff_client):
    response = staff_client.get("/login")
    assert response.status_code == 303 and urlsplit(response.headers["Location"]).path == "/"


def test_login_warns_when_authenticators_changed_since_the_last_login(app, make_user, login, soft_keys):
    user = make_user("staff")
    with time_machine.travel(START, tick=False) as traveller:
        login(app.test_client(), user)
        traveller.shift(dt.timedelta(hours=1))
        with app.app_context():
            options, challenge = auth_service.registration_options(user)
            auth_service.finish_registration(
                user, SoftAuthenticator().create(options), challenge, "知らないキー", {"actor": user}
            )
        traveller.shift(dt.timedelta(hours=1))
        client = app.test_client()
        login(client, user)
        assert "認証器が追加または削除されました" in client.get("/").get_data(as_text=True)


# --- AUTH-10: step-up ---------------------------------------------------------------------------------------------


def step_up(client, key: SoftAuthenticator, next_path="/account/authenticators", **knobs):
    csrf = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=csrf)
    assert options.status_code == 200
    body = {"credential": key.get(options.get_json(), **knobs), "next": next_path}
    return post_json(client, "/step-up/verify", body, token=csrf)


def test_step_up_rotates_the_session_token_and_opens_a_five_minute_window(app, make_user, login, soft_keys):
    user = make_user("staff", authenticators=2)
    client = app.test_client()
    with time_machine.travel(START, tick=False) as traveller:
        login(client, user)
        csrf = csrf_token_of(client)
        credential = Credential.select().where(Credential.user == user.id).first()
        gate = client.post(f"/account/authenticators/{credential.id}/remove", headers={"X-CSRFToken": csrf})
        assert gate.status_code == 303
        target = urlsplit(gate.headers["Location"])
        assert target.path == "/step-up"
        assert parse_qs(target.query)["next"] == ["/"]  # no referrer: back home
        before = sid_of(client)
        options = post_json(client, "/step-up/options", token=csrf).get_json()
        assert options["userVerification"] == "required"
        assert len(options["allowCredentials"]) == 2
        response = post_json(
            client,
            "/step-up/verify",
            {"credential": soft_keys[user.id].get(options), "next": "/account/authenticators"},
            token=csrf,
        )
        assert response.get_json() == {"redirect": "/account/authenticators"}
        assert sid_of(client) != before
        row = UserSession.get(UserSession.user == user.id)
        assert row.stepped_up_at is not None
        assert row.token_hash == hashlib.sha256(sid_of(client).encode()).hexdigest()
        step = entries("auth.step_up")[-1]
        assert json.loads(step.changes)["session_ref"][1] == row.token_hash[:16]

        traveller.shift(dt.timedelta(minutes=5))
        options_ok = post_json(client, "/account/authenticators/options", token=csrf)
        assert options_ok.status_code == 200
        traveller.shift(dt.timedelta(seconds=61))
        late = post_json(client, "/account/authenticators/options", token=csrf)
        assert late.status_code == 401
        assert late.get_json()["step_up"].startswith("/step-up?next=")


def test_step_up_with_another_users_authenticator_is_refused(app, make_user, login, soft_keys):
    alice, bob = make_user("staff"), make_user("staff")
    client = app.test_client()
    login(client, alice)
    csrf = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=csrf).get_json()
    assertion = soft_keys[bob.id].get(options)
    assert_refused(post_json(client, "/step-up/verify", {"credential": assertion}, token=csrf))
    assert last_reason("auth.step_up.failed") == "credential of another user"
    assert UserSession.get(UserSession.user == alice.id).stepped_up_at is None


def test_step_up_without_user_verification_is_refused(app, make_user, login, soft_keys):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    assert_refused(step_up(client, soft_keys[user.id], uv=False))
    assert last_reason("auth.step_up.failed").startswith("uv missing")


def test_step_up_never_redirects_off_site(app, make_user, login, soft_keys):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    assert step_up(client, soft_keys[user.id], next_path="https://evil.example/").get_json() == {
        "redirect": "/"
    }


def test_require_step_up_answers_htmx_with_hx_redirect(app, make_user, login):
    user = make_user("staff", authenticators=2)
    client = app.test_client()
    login(client, user)
    credential = Credential.select().where(Credential.user == user.id).first()
    response = client.post(
        f"/account/authenticators/{credential.id}/remove",
        headers={"X-CSRFToken": csrf_token_of(client), "HX-Request": "true"},
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/step-up?next=")


# --- authenticator lifecycle ---------------------------------------------------------------------------------------


def test_add_a_spare_then_rename_and_remove(app, make_user, login, soft_keys):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    assert "予備の認証器を登録してください" in client.get("/account/authenticators").get_data(as_text=True)
    csrf = csrf_token_of(client)
    assert post_json(client, "/account/authenticators/options", token=csrf).status_code == 401
    assert step_up(client, soft_keys[user.id]).status_code == 200

    spare = SoftAuthenticator()
    options = post_json(client, "/account/authenticators/options", token=csrf).get_json()
    assert len(options["excludeCredentials"]) == 1
    response = post_json(
        client,
        "/account/authenticators/verify",
        {"credential": spare.create(options), "nickname": "予備のキー"},
        token=csrf,
    )
    assert response.get_json() == {"redirect": "/account/authenticators"}
    page = client.get("/account/authenticators").get_data(as_text=True)
    assert "予備のキー" in page and "予備の認証器を登録してください" not in page
    assert entries("auth.credential.added")[-1].actor_login == user.login_id

    spare_row = Credential.get(Credential.nickname == "予備のキー")
    renamed = client.post(
        f"/account/authenticators/{spare_row.id}/rename",
        data={"csrf_token": csrf, f"c{spare_row.id}-nickname": "引き出しのキー"},
    )
    assert renamed.status_code == 303
    assert Credential.get_by_id(spare_row.id).nickname == "引き出しのキー"
    assert json.loads(entries("auth.credential.renamed")[-1].changes) == {
        "nickname": ["予備のキー", "引き出しのキー"]
    }
    empty = client.post(f"/account/authenticators/{spare_row.id}/rename", data={"csrf_token": csrf})
    assert empty.status_code == 422

    # A session signed in with the spare ends when the spare is removed.
    other = app.test_client()
    assert try_login(other, spare).status_code == 200
    removed = client.post(f"/account/authenticators/{spare_row.id}/remove", data={"csrf_token": csrf})
    assert removed.status_code == 303 and removed.headers["Location"].endswith("/account/authenticators")
    assert Credential.get_by_id(spare_row.id).revoked_at is not None
    assert not signed_in(other)
    assert signed_in(client)
    assert_refused(try_login(app.test_client(), spare))
    assert last_reason("auth.login.failed") == "unknown credential"


def test_the_last_authenticator_cannot_be_removed(app, make_user, login, soft_keys):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    step_up(client, soft_keys[user.id])
    only = Credential.get(Credential.user == user.id)
    response = client.post(
        f"/account/authenticators/{only.id}/remove", data={"csrf_token": csrf_token_of(client)}
    )
    assert response.status_code == 303
    assert Credential.get_by_id(only.id).revoked_at is None
    assert "最後の認証器は削除できません" in client.get("/account/authenticators").get_data(as_text=True)


def test_someone_elses_authenticator_is_404(app, make_user, login, soft_keys):
    alice, bob = make_user("staff"), make_user("staff", authenticators=2)
    client = app.test_client()
    login(client, alice)
    step_up(client, soft_keys[alice.id])
    theirs = Credential.select().where(Credential.user == bob.id).first()
    csrf = csrf_token_of(client)
    assert (
        client.post(f"/account/authenticators/{theirs.id}/remove", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        client.post(
            f"/account/authenticators/{theirs.id}/rename",
            data={"csrf_token": csrf, f"c{theirs.id}-nickname": "x"},
        ).status_code
        == 404
    )
    assert Credential.get_by_id(theirs.id).revoked_at is None


# --- sessions screens ---------------------------------------------------------------------------------------------------


def test_users_see_and_end_their_other_sessions(app, make_user, login):
    user = make_user("staff")
    laptop, phone, tablet = app.test_client(), app.test_client(), app.test_client()
    for client in (laptop, phone, tablet):
        login(client, user)
    page = laptop.get("/account/sessions").get_data(as_text=True)
    assert page.count("このブラウザ") >= 1 and page.count('action="/account/sessions/') >= 4
    phone_row = UserSession.get(UserSession.token_hash == hashlib.sha256(sid_of(phone).encode()).hexdigest())
    csrf = csrf_token_of(laptop)
    assert laptop.post(f"/account/sessions/{phone_row.id}/end", data={"csrf_token": csrf}).status_code == 303
    assert not signed_in(phone) and signed_in(tablet)
    assert laptop.post("/account/sessions/end-others", data={"csrf_token": csrf}).status_code == 303
    assert not signed_in(tablet) and signed_in(laptop)
    everywhere = laptop.post("/account/sessions/end-all", data={"csrf_token": csrf})
    assert everywhere.headers["Clear-Site-Data"] == '"cookies", "storage"'
    assert not signed_in(laptop)
    assert UserSession.select().where(UserSession.revoked_at.is_null()).count() == 0


def test_a_user_cannot_end_someone_elses_session(app, make_user, login):
    alice, bob = make_user("staff"), make_user("staff")
    a, b = app.test_client(), app.test_client()
    login(a, alice)
    login(b, bob)
    bob_row = UserSession.get(UserSession.user == bob.id)
    assert (
        a.post(f"/account/sessions/{bob_row.id}/end", data={"csrf_token": csrf_token_of(a)}).status_code
        == 404
    )
    assert signed_in(b)


def test_an_officer_ends_anyones_sessions(app, officer_client, make_user, login):
    staff = make_user("staff")
    victim = app.test_client()
    login(victim, staff)
    page = officer_client.get("/account/sessions/all")
    assert page.status_code == 200 and staff.display_name in page.get_data(as_text=True)
    response = officer_client.post(
        f"/account/sessions/users/{staff.id}/end", data={"csrf_token": csrf_token_of(officer_client)}
    )
    assert response.status_code == 303
    assert not signed_in(victim)
    entry = entries("auth.session.revoked")[-1]
    assert entry.actor_login == officer_client.user.login_id and staff.login_id in entry.reason
    assert signed_in(officer_client)


@pytest.mark.parametrize(
    "fixture", ["staff_client", "contractor_client", "auditor_client", "sysadmin_client"]
)
def test_only_officers_see_everyones_sessions(request, fixture):
    client = request.getfixturevalue(fixture)
    assert client.get("/account/sessions/all").status_code == 403
    csrf = csrf_token_of(client)
    assert (
        client.post(f"/account/sessions/users/{client.user.id}/end", data={"csrf_token": csrf}).status_code
        == 403
    )


def test_officer_home_shows_authenticator_changes_of_others(app, officer_client, make_user, login):
    """Changes to someone's authenticators are shown to their officer (SECURITY.md lifecycle)."""
    other = make_user("staff", authenticators=2)  # registered through services.auth: audited as added
    html = officer_client.get("/").get_data(as_text=True)
    assert "認証器の追加" in html and other.login_id in html
    staff = app.test_client()
    login(staff, other)
    assert "直近7日間のセキュリティ上のお知らせ" not in staff.get("/").get_data(as_text=True)
