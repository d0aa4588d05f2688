"""The audit trail: HMAC chain and tamper detection on SQLite and PostgreSQL, no My Number, fail closed, CLI."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import secrets
import stat
import threading

import pytest
from peewee import DatabaseError

from app import create_app
from blueprints.audit.commands import audit_cli
from extensions import db, is_sqlite
from models import AuditEntry, Office, User
from rules import mynumber
from services import audit, schema
from services.audit import AuditFailure
from tests.conftest import test_config

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.fixture(autouse=True)
def _isolated_keys(monkeypatch):
    monkeypatch.delenv(audit.ENV_AUDIT_KEY, raising=False)
    monkeypatch.setattr(audit, "VERIFY_BATCH", 7)  # every walk crosses page boundaries
    audit.clear_key_cache()
    yield
    audit.clear_key_cache()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def engine_app(request, tmp_path):
    """The app on a migrated database of each engine, connected, inside an app context."""
    if request.param == "sqlite":
        app = request.getfixturevalue("app")
    else:
        app = create_app(test_config(tmp_path, DATABASE_URL=request.getfixturevalue("pg_url")))
    with app.app_context():
        db.connect(reuse_if_open=True)
        if request.param == "postgresql":
            schema.upgrade()
        yield app
        if not db.is_closed():
            db.close()


@pytest.fixture
def sqlite_app(app, database):
    with app.app_context():
        yield app


def fill(n: int = 50) -> list[int]:
    return [
        audit.record("test.event", target_table="household", target_ids=[i + 1], reason=f"entry {i + 1}").id
        for i in range(n)
    ]


def new_user(role: str = "contractor") -> User:
    office = Office.create(code=f"O{secrets.token_hex(3)}", name="公社中部事務所")
    return User.create(
        login_id=f"u{secrets.token_hex(4)}", display_name="川崎 太郎", role=role, office=office
    )


def allow_tampering() -> None:
    """What an attacker with database access does first: get the append-only triggers out of the way."""
    if is_sqlite():
        db.execute_sql("DROP TRIGGER IF EXISTS audit_entry_no_update")
        db.execute_sql("DROP TRIGGER IF EXISTS audit_entry_no_delete")
    else:
        db.execute_sql("ALTER TABLE audit_entry DISABLE TRIGGER ALL")


def row_of(entry_id: int) -> dict:
    row = AuditEntry.select().where(AuditEntry.id == entry_id).dicts().get()
    row.pop("id")
    return row


def delete(*ids: int) -> None:
    AuditEntry.delete().where(AuditEntry.id.in_(ids)).execute()


# --- tampering scenarios: each returns the kind and the id verify must report ----------------------------


def modify_reason(ids):
    AuditEntry.update(reason="nothing happened").where(AuditEntry.id == ids[19]).execute()
    return "modified", ids[19]


def backdate(ids):
    row = row_of(ids[19])
    AuditEntry.update(at=row["at"] - dt.timedelta(days=1)).where(AuditEntry.id == ids[19]).execute()
    return "modified", ids[19]


def forge_with_another_key(ids):
    """The attacker knows the algorithm but not the key: rewrites a row and re-links the next one."""
    forged = row_of(ids[19])
    forged["actor_login"] = "someone-else"
    guessed_key = secrets.token_bytes(32)
    forged["hmac"] = audit.compute_hmac(guessed_key, forged["prev_hmac"], audit.canonical(forged))
    AuditEntry.update(actor_login="someone-else", hmac=forged["hmac"]).where(
        AuditEntry.id == ids[19]
    ).execute()
    AuditEntry.update(prev_hmac=forged["hmac"]).where(AuditEntry.id == ids[20]).execute()
    return "modified", ids[19]


def delete_middle(ids):
    delete(ids[24])
    return "deleted", ids[25]


def delete_first(ids):
    delete(ids[0])
    return "deleted", ids[1]


def swap_rows(ids):
    """Swap two entries whole (content, prev_hmac and hmac): each still matches its own HMAC."""
    first, second = row_of(ids[9]), row_of(ids[29])
    AuditEntry.update(hmac="f" * 64).where(AuditEntry.id == ids[9]).execute()
    AuditEntry.update(first).where(AuditEntry.id == ids[29]).execute()
    AuditEntry.update(second).where(AuditEntry.id == ids[9]).execute()
    return "reordered", ids[9]


def swap_contents(ids):
    """Swap two entries' content but leave their chain columns in place."""
    first, second = row_of(ids[9]), row_of(ids[29])
    for row in (first, second):
        del row["hmac"], row["prev_hmac"]
    AuditEntry.update(first).where(AuditEntry.id == ids[29]).execute()
    AuditEntry.update(second).where(AuditEntry.id == ids[9]).execute()
    return "modified", ids[9]


def truncate_tail(ids):
    delete(*ids[-3:])
    return "truncated", ids[-1]


def truncate_and_append(ids):
    """Cut the tail, then let the application write on: the chain is whole again, the anchor is not."""
    delete(*ids[-3:])
    fill(3)
    return "truncated", ids[-1]


SCENARIOS = {
    f.__name__: f
    for f in (
        modify_reason,
        backdate,
        forge_with_another_key,
        delete_middle,
        delete_first,
        swap_rows,
        swap_contents,
        truncate_tail,
        truncate_and_append,
    )
}


# --- the chain ----------------------------------------------------------------------------------------


def test_a_chain_of_50_verifies(engine_app):
    ids = fill(50)
    result = audit.verify()
    assert (result.ok, result.count, result.first_bad_id, result.kind) == (True, 50, None, None)
    rows = list(AuditEntry.select().order_by(AuditEntry.id))
    assert rows[0].prev_hmac == audit.GENESIS
    assert all(later.prev_hmac == earlier.hmac for earlier, later in zip(rows, rows[1:], strict=False))
    current = audit.head()
    assert (current["id"], current["hmac"]) == (ids[-1], rows[-1].hmac)
    assert current["at"] == rows[-1].at.isoformat(timespec="microseconds") + "Z"
    assert (result.last_id, result.last_hmac) == (ids[-1], rows[-1].hmac)
    anchored = audit.verify(current)
    assert anchored.ok and anchored.count == 50


def test_an_empty_trail_verifies_and_has_a_genesis_head(engine_app):
    assert audit.verify().ok and audit.verify().count == 0
    assert audit.head() == {"id": 0, "hmac": audit.GENESIS, "at": None}
    assert audit.verify(audit.head()).ok


def test_the_hmac_is_the_documented_formula(sqlite_app, tmp_path):
    user = new_user()
    first = audit.record("test.first")
    entry = audit.record(
        "household.update",
        actor=user,
        session_ref="a1b2c3d4e5f60718",
        ip="192.0.2.10",
        target_table="household",
        target_ids=[7, 9],
        fields=["contact_phone"],
        changes={"contact_phone": ("0442002948", "0441111111")},
        purpose="tenancy",
        reason="電話番号の変更",
    )
    stored = AuditEntry.get_by_id(entry.id)
    assert (stored.actor_id, stored.actor_login, stored.actor_role, stored.office_id) == (
        user.id,
        user.login_id,
        "contractor",
        user.office_id,
    )
    assert json.loads(stored.target_ids) == [7, 9]
    assert json.loads(stored.fields) == ["contact_phone"]
    assert json.loads(stored.changes) == {"contact_phone": ["0442002948", "0441111111"]}
    key_file = tmp_path / "instance" / "keys" / audit.AUDIT_KEY_FILE
    key = base64.b64decode(key_file.read_text())
    columns = {
        name: getattr(stored, name)
        for name in (
            "actor_id",
            "actor_login",
            "actor_role",
            "office_id",
            "session_ref",
            "action",
            "target_table",
            "target_ids",
            "fields",
            "changes",
            "purpose",
            "outcome",
            "reason",
            "ip",
            "prev_hmac",
        )
    }
    columns["at"] = stored.at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    text = json.dumps(columns, sort_keys=True, separators=(",", ":"))
    expected = hmac.new(key, f"{first.hmac}\n{text}".encode(), hashlib.sha256).hexdigest()
    assert stored.prev_hmac == first.hmac
    assert stored.hmac == entry.hmac == expected


def test_the_hmac_covers_every_column_but_id_and_hmac():
    columns = {field.column_name for field in AuditEntry._meta.sorted_fields}
    assert set(audit.CANONICAL_FIELDS) == columns - {"id", "hmac"}


def test_an_anonymous_entry_has_no_actor(sqlite_app):
    entry = audit.record("auth.login_failed", outcome="denied", reason="user verification missing")
    stored = AuditEntry.get_by_id(entry.id)
    assert (stored.actor_id, stored.actor_login, stored.actor_role, stored.office_id) == (None,) * 4
    assert stored.outcome == "denied"


# --- tamper detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_tampering_is_detected(engine_app, name):
    ids = fill(50)
    anchor = audit.head()
    allow_tampering()
    kind, bad_id = SCENARIOS[name](ids)
    result = audit.verify(anchor)
    assert (result.ok, result.kind, result.first_bad_id) == (False, kind, bad_id)
    assert str(bad_id) in result.message() and kind in result.message()


def test_a_cut_tail_passes_the_chain_alone_but_not_the_anchor(engine_app):
    ids = fill(50)
    anchor = audit.head()
    allow_tampering()
    delete(*ids[-3:])
    alone = audit.verify()
    assert (alone.ok, alone.count, alone.last_id) == (True, 47, ids[-4])
    anchored = audit.verify(anchor)
    assert (anchored.ok, anchored.kind, anchored.first_bad_id, anchored.count) == (
        False,
        "truncated",
        ids[-1],
        47,
    )


def test_detection_rate(engine_app):
    detected, kinds = 0, set()
    allow_tampering()
    for tamper in SCENARIOS.values():
        AuditEntry.delete().execute()
        ids = fill(50)
        anchor = audit.head()
        assert audit.verify(anchor).ok
        kind, bad_id = tamper(ids)
        result = audit.verify(anchor)
        if not result.ok and (result.kind, result.first_bad_id) == (kind, bad_id):
            detected += 1
            kinds.add(kind)
    assert (detected, len(SCENARIOS)) == (9, 9)
    assert kinds == set(audit.KINDS) == {"modified", "deleted", "reordered", "truncated"}


def test_triggers_refuse_update_and_delete(engine_app):
    ids = fill(3)
    with pytest.raises(DatabaseError, match="append-only"), db.atomic():
        AuditEntry.update(reason="edited").where(AuditEntry.id == ids[1]).execute()
    with pytest.raises(DatabaseError, match="append-only"), db.atomic():
        AuditEntry.delete().where(AuditEntry.id == ids[2]).execute()
    if not is_sqlite():
        with pytest.raises(DatabaseError, match="append-only"), db.atomic():
            db.execute_sql("TRUNCATE audit_entry")
    assert AuditEntry.select().count() == 3
    assert audit.verify().ok


def test_a_time_that_is_not_a_time_is_reported_as_modified(sqlite_app):
    ids = fill(5)
    allow_tampering()
    db.execute_sql("UPDATE audit_entry SET at = 'yesterday' WHERE id = ?", (ids[2],))
    result = audit.verify()
    assert (result.ok, result.kind, result.first_bad_id) == (False, "modified", ids[2])


def test_a_malformed_head_is_refused(sqlite_app):
    fill(2)
    for bad in ({"id": "2", "hmac": "0" * 64}, {"id": 2, "hmac": "xyz"}, {"id": -1, "hmac": "0" * 64}, [2]):
        with pytest.raises(ValueError):
            audit.verify(bad)


# --- what never goes in ---------------------------------------------------------------------------------

NUMBER = mynumber.generate(random.Random(20251126))
SPACED_FULL_WIDTH = " ".join((NUMBER[:4], NUMBER[4:8], NUMBER[8:])).translate(FULL_WIDTH)
HYPHENATED = f"{NUMBER[:4]}-{NUMBER[4:8]}-{NUMBER[8:]}"


@pytest.mark.parametrize(
    "where",
    [
        {"reason": f"照会 {NUMBER}"},
        {"reason": f"番号{SPACED_FULL_WIDTH}を確認"},
        {"changes": {"note": ["", f"個人番号 {HYPHENATED}"]}},
        {"changes": {"note": [None, int(NUMBER)]}},
        {"target_ids": [1, int(NUMBER)]},
        {"fields": [NUMBER]},
        {"purpose": NUMBER},
    ],
    ids=["reason", "reason-full-width", "changes", "changes-int", "target_ids", "fields", "purpose"],
)
def test_a_my_number_is_never_recorded(sqlite_app, where):
    assert mynumber.is_valid(NUMBER)
    with pytest.raises(ValueError, match="My Number"):
        audit.record("person.update", target_table="person", **where)
    assert AuditEntry.select().count() == 0


def test_twelve_digits_without_a_valid_check_digit_are_recorded(sqlite_app):
    not_a_number = NUMBER[:11] + str((int(NUMBER[11]) + 1) % 10)
    assert not mynumber.is_valid(not_a_number)
    entry = audit.record("import.row", reason=f"file row {not_a_number}", target_ids=[12345678901234])
    assert AuditEntry.get_by_id(entry.id).reason.endswith(not_a_number)


def test_c3_fields_are_named_never_valued(sqlite_app):
    with pytest.raises(ValueError, match="C3"):
        audit.record("person.reveal", target_table="personal_number", changes={"ciphertext": ["a", "b"]})
    with pytest.raises(ValueError, match="C3"):
        audit.record("person.update", target_table="person", changes={"blind_index": ["a", "b"]})
    entry = audit.record(
        "person.reveal", target_table="personal_number", target_ids=[3], fields=["ciphertext"], purpose="tax"
    )
    assert json.loads(entry.fields) == ["ciphertext"]
    assert AuditEntry.select().count() == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action": "Household.Read"},
        {"action": "read"},
        {"action": "household.read", "outcome": "maybe"},
        {"action": "household.read", "target_ids": "12"},
        {"action": "household.read", "changes": {"note": "after"}},
        {"action": "household.read", "changes": {"note": [object(), 1]}},
        {"action": "household.read", "actor": object()},
        {"action": "household.read", "purpose": "x" * 41},
    ],
)
def test_malformed_entries_are_refused(sqlite_app, kwargs):
    action = kwargs.pop("action")
    with pytest.raises(ValueError):
        audit.record(action, **kwargs)
    assert AuditEntry.select().count() == 0


def test_a_long_reason_is_cut_before_the_hmac(sqlite_app):
    entry = audit.record("test.long", reason="あ" * 500)
    assert len(AuditEntry.get_by_id(entry.id).reason) == 200
    assert audit.verify().ok


# --- concurrency and transactions -----------------------------------------------------------------------


def test_concurrent_writers_keep_one_chain(engine_app):
    threads_n, per_thread = 8, 25
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            with engine_app.app_context(), db.connection_context():
                barrier.wait()
                for i in range(per_thread):
                    audit.record("test.concurrent", target_ids=[n, i], reason=f"writer {n} entry {i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert AuditEntry.select().count() == threads_n * per_thread == 200
    prevs = [row.prev_hmac for row in AuditEntry.select(AuditEntry.prev_hmac)]
    assert len(set(prevs)) == 200  # no two entries claim the same predecessor: the chain never forked
    result = audit.verify()
    assert (result.ok, result.count) == (True, 200)


def test_an_entry_rolls_back_with_its_business_change(engine_app):
    before = Office.select().count()
    with pytest.raises(RuntimeError, match="later step failed"), db.atomic():
        Office.create(code="RB1", name="取消事務所")
        audit.record("office.create", target_table="office", reason="created")
        raise RuntimeError("later step failed")
    assert AuditEntry.select().count() == 0
    assert Office.select().count() == before
    with db.atomic():
        office = Office.create(code="OK1", name="中部事務所")
        audit.record("office.create", target_table="office", target_ids=[office.id])
    assert AuditEntry.select().count() == 1
    fill(3)
    result = audit.verify()
    assert (result.ok, result.count) == (True, 4)


def test_two_entries_in_one_transaction_chain(engine_app):
    with db.atomic():
        first = audit.record("test.one")
        second = audit.record("test.two")
    assert second.prev_hmac == first.hmac
    assert audit.verify().count == 2


@pytest.mark.pg
def test_a_snapshot_transaction_is_refused_on_postgresql(pg_url, tmp_path):
    app = create_app(test_config(tmp_path, DATABASE_URL=pg_url))
    with app.app_context():
        db.connect(reuse_if_open=True)
        schema.upgrade()
        with pytest.raises(AuditFailure, match="READ COMMITTED"), db.atomic():
            db.execute_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            audit.record("test.snapshot")
        assert AuditEntry.select().count() == 0
        db.close()


# --- fail closed ----------------------------------------------------------------------------------------


def test_fail_closed_without_a_key_in_production(sqlite_app, tmp_path):
    key_dir = tmp_path / "production-keys"
    sqlite_app.config.update(APP_ENV="production", KEY_DIR=str(key_dir))
    with pytest.raises(AuditFailure, match="audit key"), db.atomic():
        Office.create(code="FC1", name="事務所")
        audit.record("office.create", target_table="office")
    assert AuditEntry.select().count() == 0
    assert Office.select().where(Office.code == "FC1").count() == 0
    assert not (key_dir / audit.AUDIT_KEY_FILE).exists()
    with pytest.raises(AuditFailure):
        audit.verify()


def test_production_takes_the_key_from_the_environment(sqlite_app, tmp_path, monkeypatch):
    key_dir = tmp_path / "production-keys"
    sqlite_app.config.update(APP_ENV="production", KEY_DIR=str(key_dir))
    key = secrets.token_bytes(32)
    monkeypatch.setenv(audit.ENV_AUDIT_KEY, base64.b64encode(key).decode())
    entry = audit.record("test.env_key")
    expected = audit.compute_hmac(key, audit.GENESIS, audit.canonical(AuditEntry.select().dicts().get()))
    assert entry.hmac == expected
    assert not key_dir.exists()
    assert audit.verify().ok


def test_a_malformed_environment_key_fails_closed(sqlite_app, monkeypatch):
    monkeypatch.setenv(audit.ENV_AUDIT_KEY, base64.b64encode(b"short").decode())
    with pytest.raises(AuditFailure, match="32 bytes"):
        audit.record("test.short_key")
    assert AuditEntry.select().count() == 0


def test_the_key_file_is_created_private_in_testing_and_refused_when_open(sqlite_app, tmp_path):
    audit.record("test.create_key")
    key_file = tmp_path / "instance" / "keys" / audit.AUDIT_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(key_file.read_text())) == 32
    os.chmod(key_file, 0o644)
    audit.clear_key_cache()
    with pytest.raises(AuditFailure, match="too open"):
        audit.record("test.open_key")
    assert AuditEntry.select().count() == 1


def test_fail_closed_when_the_table_cannot_be_written(engine_app):
    db.execute_sql("DROP TABLE audit_entry")
    with pytest.raises(AuditFailure, match="could not be written"), db.atomic():
        Office.create(code="FC2", name="事務所")
        audit.record("office.create", target_table="office")
    assert Office.select().where(Office.code == "FC2").count() == 0
    with pytest.raises(AuditFailure, match="could not be read"):
        audit.verify()


def test_fail_closed_outside_an_app_context():
    with pytest.raises(AuditFailure, match="application context"):
        audit.record("test.no_context")


# --- the commands ---------------------------------------------------------------------------------------


@pytest.fixture
def cli(engine_app):
    engine_app.cli.add_command(audit_cli)
    runner = engine_app.test_cli_runner()
    return lambda *args: runner.invoke(args=["audit", *args])


def test_cli_verify_and_head(engine_app, cli, tmp_path):
    ids = fill(50)
    ok = cli("verify")
    assert ok.exit_code == 0, ok.output
    assert "OK: 50 entries verified" in ok.output
    printed = cli("head")
    assert printed.exit_code == 0
    assert json.loads(printed.output) == audit.head()
    anchor_file = tmp_path / "head.json"
    written = cli("head", "--output", str(anchor_file))
    assert written.exit_code == 0
    assert json.loads(anchor_file.read_text())["id"] == ids[-1]
    anchored = cli("verify", "--head", str(anchor_file))
    assert anchored.exit_code == 0 and f"id {ids[-1]} matches" in anchored.output


def test_cli_verify_names_the_first_bad_entry(engine_app, cli):
    ids = fill(50)
    allow_tampering()
    AuditEntry.update(reason="nothing happened").where(AuditEntry.id == ids[19]).execute()
    result = cli("verify")
    assert result.exit_code == 1
    assert f"ID {ids[19]} で内容の改ざんを検出しました" in result.output
    assert f"audit trail modified at id {ids[19]}" in result.output


def test_cli_verify_detects_a_cut_tail_against_the_head_file(engine_app, cli, tmp_path):
    ids = fill(50)
    anchor_file = tmp_path / "head.json"
    assert cli("head", "--output", str(anchor_file)).exit_code == 0
    allow_tampering()
    delete(*ids[-3:])
    assert cli("verify").exit_code == 0
    result = cli("verify", "--head", str(anchor_file))
    assert result.exit_code == 1
    assert "末尾の切り詰め" in result.output and f"truncated at id {ids[-1]}" in result.output


def test_cli_verify_cannot_check(engine_app, cli, tmp_path):
    fill(2)
    bad_file = tmp_path / "bad.json"
    bad_file.write_text("{not json")
    assert cli("verify", "--head", str(bad_file)).exit_code == 2
    bad_file.write_text(json.dumps({"id": 2, "hmac": "short"}))
    assert cli("verify", "--head", str(bad_file)).exit_code == 2
    assert cli("verify", "--head", str(tmp_path / "missing.json")).exit_code == 2
    engine_app.config.update(APP_ENV="production", KEY_DIR=str(tmp_path / "no-keys"))
    result = cli("verify")
    assert result.exit_code == 2 and "cannot verify" in result.output
