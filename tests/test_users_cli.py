"""`flask users …`: no default account, one-time enrollment links, deactivation, roles, dual-control recovery."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from models.audit import AuditEntry
from models.security import Credential, EnrollmentLink, Office, RecoveryRequest, User, UserSession
from tests.conftest import csrf_token_of, post_json
from tests.soft_authenticator import SoftAuthenticator

LINK = re.compile(r"http://localhost:5000/enroll/([A-Za-z0-9_-]{43})\b")


def users(runner, *args):
    return runner.invoke(args=["users", *args])


def token_in(output: str) -> str:
    found = LINK.findall(output)
    assert len(found) == 1, output
    return found[0]


def actions() -> list[str]:
    return [entry.action for entry in AuditEntry.select().order_by(AuditEntry.id)]


def enroll(app, token: str, key: SoftAuthenticator | None = None):
    client = app.test_client()
    csrf = csrf_token_of(client)
    options = post_json(client, f"/enroll/{token}/options", token=csrf)
    if options.status_code != 200:
        return options
    key = key or SoftAuthenticator()
    return post_json(
        client, f"/enroll/{token}/verify", {"credential": key.create(options.get_json())}, token=csrf
    )


def test_a_fresh_database_has_no_users(runner):
    result = users(runner, "list")
    assert result.exit_code == 0
    assert "アカウントはありません" in result.output
    assert User.select().count() == 0


def test_create_prints_a_one_time_link_stored_hashed(app, runner):
    result = users(runner, "create", "--role", "officer", "--name", "川崎　一郎", "--login-id", "kawasaki")
    assert result.exit_code == 0, result.output
    token = token_in(result.output)
    user = User.get(User.login_id == "kawasaki")
    assert user.display_name == "川崎 一郎" and user.role == "officer" and user.active
    link = EnrollmentLink.get(EnrollmentLink.user == user.id)
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (link.expires_at - link.created_at).total_seconds() == 24 * 3600
    assert actions() == ["account.created", "auth.enrollment_link.issued"]
    created = AuditEntry.get(AuditEntry.action == "account.created")
    assert json.loads(created.changes)["role"] == [None, "officer"]
    assert created.ip.startswith("cli:")
    assert enroll(app, token).status_code == 200
    assert enroll(app, token).status_code == 400


def test_contractor_needs_an_existing_office(app, runner):
    missing = users(runner, "create", "--role", "contractor", "--name", "公社 太郎", "--login-id", "kosha1")
    assert missing.exit_code == 1 and "--office" in missing.output
    unknown = users(
        runner,
        "create",
        "--role",
        "contractor",
        "--name",
        "公社 太郎",
        "--login-id",
        "kosha1",
        "--office",
        "ZZ",
    )
    assert unknown.exit_code == 1 and "ZZ" in unknown.output
    Office.create(code="N01", name="北部事務所")
    ok = users(
        runner, "create", "--role", "contractor", "--name", "公社 太郎", "--login-id", "kosha1",
        "--office", "N01", "--contract-end", "2027-03-31",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    user = User.get(User.login_id == "kosha1")
    assert user.office.code == "N01" and str(user.contract_end_date) == "2027-03-31"
    staff_with_office = users(
        runner, "create", "--role", "staff", "--name", "a b", "--login-id", "s1", "--office", "N01"
    )
    assert staff_with_office.exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--login-id", "x"], "ユーザID"),
        (["--login-id", "bad id"], "ユーザID"),
        (["--login-id", "ok.id", "--contract-end", "31/03/2027"], "YYYY-MM-DD"),
        (["--login-id", "ok.id", "--role", "boss"], "boss"),
    ],
)
def test_create_validates_its_input(runner, args, message):
    base = {"--role": "staff", "--name": "試験 花子"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = users(runner, "create", *[item for pair in base.items() for item in pair])
    assert result.exit_code != 0
    assert message in result.output
    assert User.select().count() == 0


def test_login_ids_are_unique(runner):
    assert users(runner, "create", "--role", "staff", "--name", "a b", "--login-id", "same").exit_code == 0
    again = users(runner, "create", "--role", "staff", "--name", "c d", "--login-id", "same")
    assert again.exit_code == 1 and "既に使われています" in again.output


def test_enroll_link_revokes_earlier_unused_links(app, runner):
    first = token_in(users(runner, "create", "--role", "staff", "--name", "a b", "--login-id", "st1").output)
    result = users(runner, "enroll-link", "st1")
    assert result.exit_code == 0
    second = token_in(result.output)
    assert enroll(app, first).status_code == 400
    assert enroll(app, second).status_code == 200
    assert users(runner, "enroll-link", "nobody").exit_code == 1


def test_deactivate_ends_sessions_at_once_and_blocks_login(app, runner, make_user, login, soft_keys):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    result = users(runner, "deactivate", user.login_id)
    assert result.exit_code == 0 and "1件" in result.output
    assert client.get("/").status_code == 303
    assert UserSession.get(UserSession.user == user.id).revoked_reason == "deactivated"
    assert User.get_by_id(user.id).active is False  # kept, not deleted
    assert "account.deactivated" in actions()
    assert users(runner, "deactivate", user.login_id).exit_code == 1
    assert users(runner, "enroll-link", user.login_id).exit_code == 1


def test_set_role_is_audited_and_contractor_needs_an_office(runner, make_user):
    user = make_user("staff")
    assert users(runner, "set-role", user.login_id, "officer").exit_code == 0
    assert User.get_by_id(user.id).role == "officer"
    entry = AuditEntry.select().where(AuditEntry.action == "account.role_changed").get()
    assert json.loads(entry.changes)["role"] == ["staff", "officer"]
    assert users(runner, "set-role", user.login_id, "contractor").exit_code == 1
    Office.create(code="S01", name="南部事務所")
    assert users(runner, "set-role", user.login_id, "contractor", "--office", "S01").exit_code == 0
    assert User.get_by_id(user.id).office.code == "S01"


def test_end_sessions(app, runner, make_user, login):
    user = make_user("staff")
    client = app.test_client()
    login(client, user)
    result = users(runner, "end-sessions", user.login_id)
    assert result.exit_code == 0 and "1件" in result.output
    assert client.get("/").status_code == 303
    assert UserSession.get(UserSession.user == user.id).revoked_reason == "ended_by_admin"


def test_list_shows_accounts(runner, make_user):
    make_user("staff", authenticators=2)
    make_user("contractor")
    result = users(runner, "list")
    assert result.exit_code == 0
    assert "staff1" in result.output and "contractor2" in result.output and "OF002" in result.output


def test_demo_officer_is_idempotent(app, runner):
    first = users(runner, "demo-officer")
    assert first.exit_code == 0 and "作成しました" in first.output
    token = token_in(first.output)
    again = users(runner, "demo-officer")  # not enrolled yet: a fresh link, the old one revoked
    assert again.exit_code == 0 and "作成しました" not in again.output
    fresh = token_in(again.output)
    assert User.select().count() == 1
    officer = User.get(User.login_id == "demo-officer")
    assert officer.role == "officer" and officer.display_name == "川崎 一郎"
    assert enroll(app, token).status_code == 400
    assert enroll(app, fresh).status_code == 200
    enrolled = users(runner, "demo-officer")
    assert enrolled.exit_code == 0 and "登録済み" in enrolled.output and not LINK.search(enrolled.output)
    assert token_in(users(runner, "demo-officer", "--new-link").output)
    assert User.select().count() == 1


# --- recovery: two officers, neither the subject, each with a fresh step-up ------------------------------------


def stepped_up_officer(app, make_user, login, soft_keys):
    officer = make_user("officer")
    client = app.test_client()
    login(client, officer)
    csrf = csrf_token_of(client)
    options = post_json(client, "/step-up/options", token=csrf).get_json()
    verify = post_json(
        client, "/step-up/verify", {"credential": soft_keys[officer.id].get(options)}, token=csrf
    )
    assert verify.status_code == 200
    return officer


def test_recovery_needs_two_different_officers(app, runner, make_user, login, soft_keys):
    subject = make_user("staff", authenticators=2)
    lost = app.test_client()
    login(lost, subject)
    first = stepped_up_officer(app, make_user, login, soft_keys)
    second = stepped_up_officer(app, make_user, login, soft_keys)

    requested = users(
        runner,
        "recovery-request",
        subject.login_id,
        "--by",
        first.login_id,
        "--identity-check",
        "運転免許証で確認",
    )
    assert requested.exit_code == 0, requested.output
    request = RecoveryRequest.get()
    assert request.identity_check == "運転免許証で確認" and request.state == "pending"

    one = users(runner, "recovery-approve", str(request.id), "--by", first.login_id)
    assert one.exit_code == 0 and not LINK.search(one.output)
    same = users(runner, "recovery-approve", str(request.id), "--by", first.login_id)
    assert same.exit_code == 1 and "別の保護責任者" in same.output
    assert (
        Credential.select().where((Credential.user == subject.id) & Credential.revoked_at.is_null()).count()
        == 2
    )

    two = users(runner, "recovery-approve", str(request.id), "--by", second.login_id)
    assert two.exit_code == 0, two.output
    token = token_in(two.output)
    assert (
        Credential.select().where((Credential.user == subject.id) & Credential.revoked_at.is_null()).count()
        == 0
    )
    assert lost.get("/").status_code == 303
    request = RecoveryRequest.get_by_id(request.id)
    assert (request.first_approver_id, request.second_approver_id, request.state) == (
        first.id,
        second.id,
        "approved",
    )
    final = (
        AuditEntry.select()
        .where(AuditEntry.action == "auth.recovery.approved")
        .order_by(AuditEntry.id.desc())
        .get()
    )
    assert first.login_id in final.reason and second.login_id in final.reason
    assert final.actor_login == second.login_id

    assert enroll(app, token).status_code == 200
    assert RecoveryRequest.get_by_id(request.id).state == "used"
    assert users(runner, "recovery-approve", str(request.id), "--by", first.login_id).exit_code == 1


def test_recovery_refuses_the_subject_non_officers_and_approvers_without_step_up(
    app, runner, make_user, login, soft_keys
):
    officer = stepped_up_officer(app, make_user, login, soft_keys)
    subject_officer = stepped_up_officer(app, make_user, login, soft_keys)
    staff = make_user("staff")
    idle_officer = make_user("officer")

    assert (
        users(
            runner, "recovery-request", officer.login_id, "--by", officer.login_id, "--identity-check", "面談"
        ).exit_code
        == 1
    )
    assert (
        users(
            runner, "recovery-request", officer.login_id, "--by", staff.login_id, "--identity-check", "面談"
        ).exit_code
        == 1
    )
    assert (
        users(
            runner,
            "recovery-request",
            officer.login_id,
            "--by",
            subject_officer.login_id,
            "--identity-check",
            "",
        ).exit_code
        == 1
    )

    ok = users(
        runner,
        "recovery-request",
        subject_officer.login_id,
        "--by",
        officer.login_id,
        "--identity-check",
        "職員証で確認",
    )
    assert ok.exit_code == 0
    request_id = str(RecoveryRequest.get().id)
    himself = users(runner, "recovery-approve", request_id, "--by", subject_officer.login_id)
    assert himself.exit_code == 1 and "本人" in himself.output
    no_step_up = users(runner, "recovery-approve", request_id, "--by", idle_officer.login_id)
    assert no_step_up.exit_code == 1 and "再認証" in no_step_up.output
    by_staff = users(runner, "recovery-approve", request_id, "--by", staff.login_id)
    assert by_staff.exit_code == 1
    assert RecoveryRequest.get().first_approver_id is None
    assert users(runner, "recovery-approve", "999", "--by", officer.login_id).exit_code == 1
