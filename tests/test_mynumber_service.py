"""My Number through the vault: stored encrypted, masked, revealed only with role + purpose + step-up,
every attempt audited, keys rotated idempotently, deletion recorded."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from models import AuditEntry, DeletionRecord, PersonalNumber, User, utcnow
from rules import mynumber as rules
from services import mynumber
from services.vault import create_data_key, keyring_for
from tests.factories import make_person


@pytest.fixture
def keyring(app):
    return keyring_for(app.config)


@pytest.fixture
def staff(database):
    return User.create(login_id="staff1", display_name="職員 一", role="staff")


@pytest.fixture
def number():
    return rules.generate(random.Random(7))


def test_store_keeps_only_ciphertext_and_blind_index(app, database, keyring, staff, number, tmp_path):
    person = make_person()
    mynumber.store(person, number, checked_against_document=True, keyring=keyring, actor=staff)
    row = PersonalNumber.get(PersonalNumber.person == person.id)
    assert number.encode() not in bytes(row.ciphertext)
    assert row.blind_index != number and len(row.blind_index) == 64
    assert mynumber.masked(person.id, keyring) == "********" + number[-4:]
    assert mynumber.find_person_ids(number, keyring) == [person.id]
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in tmp_path.glob("test.db*"):
        assert number.encode() not in path.read_bytes()
    entry = AuditEntry.select().where(AuditEntry.action == "my_number.store").get()
    assert number not in (entry.fields or "") + (entry.reason or "") + (entry.changes or "")


@pytest.mark.parametrize(("raw", "checked"), [("123456789012", True), ("12345", True), (None, False)])
def test_store_refuses_a_bad_number_or_an_unchecked_one(app, database, keyring, staff, raw, checked, number):
    person = make_person()
    with pytest.raises(mynumber.MyNumberError) as excinfo:
        mynumber.store(person, raw or number, checked_against_document=checked, keyring=keyring, actor=staff)
    assert (raw or number) not in str(excinfo.value)
    assert PersonalNumber.select().count() == 0


def test_reveal_needs_role_purpose_and_recent_step_up(app, database, keyring, staff, number):
    person = make_person()
    mynumber.store(person, number, checked_against_document=True, keyring=keyring, actor=staff)
    now = utcnow()
    contractor = User.create(login_id="koshya1", display_name="公社 一", role="contractor")
    refusals = [
        (contractor, "rent_deposit", now, "role"),
        (staff, "curiosity", now, "purpose"),
        (staff, "rent_deposit", None, "step-up"),
        (staff, "rent_deposit", now - dt.timedelta(minutes=5, seconds=1), "step-up"),
    ]
    for actor, purpose, stepped_up_at, reason in refusals:
        with pytest.raises(mynumber.RevealRefused, match=reason):
            mynumber.reveal(
                person.id, purpose=purpose, stepped_up_at=stepped_up_at, keyring=keyring, actor=actor, now=now
            )
    shown = mynumber.reveal(
        person.id,
        purpose="rent_deposit",
        stepped_up_at=now - dt.timedelta(minutes=4, seconds=59),
        keyring=keyring,
        actor=staff,
        now=now,
    )
    assert shown == number
    reveals = list(AuditEntry.select().where(AuditEntry.action == "my_number.reveal").order_by(AuditEntry.id))
    assert [e.outcome for e in reveals] == ["denied"] * 4 + ["allowed"]
    assert reveals[-1].purpose == "rent_deposit"
    assert all(number not in (e.reason or "") for e in reveals)


def test_ciphertext_moved_to_another_person_does_not_decrypt(app, database, keyring, staff, number):
    from services.vault import VaultError

    first, second = make_person(), make_person()
    mynumber.store(first, number, checked_against_document=True, keyring=keyring, actor=staff)
    mynumber.store(second, rules.generate(random.Random(8)), checked_against_document=True, keyring=keyring)
    stolen = PersonalNumber.get(PersonalNumber.person == first.id)
    PersonalNumber.update(ciphertext=stolen.ciphertext, key_id=stolen.key_id).where(
        PersonalNumber.person == second.id
    ).execute()
    with pytest.raises(VaultError):
        mynumber.masked(second.id, keyring)


def test_rotation_is_idempotent_and_resumable(app, database, staff):
    from services import vault

    keyring = keyring_for(app.config)
    numbers = {}
    for seed in range(7):
        person = make_person()
        numbers[person.id] = rules.generate(random.Random(seed))
        mynumber.store(person, numbers[person.id], checked_against_document=True, keyring=keyring)
    old = keyring.active_key_id
    new = create_data_key(Path(app.config["KEY_DIR"]))
    vault.clear_cache()
    keyring = keyring_for(app.config)
    assert keyring.active_key_id == new != old

    class Killed(Exception):
        pass

    def kill_after_first_batch(count):
        raise Killed

    # A run stopped after its first committed batch leaves a mix of keys; running again finishes it;
    # a third run has nothing left to do.
    with pytest.raises(Killed):
        mynumber.rotate(keyring, batch_size=3, progress=kill_after_first_batch)
    assert PersonalNumber.select().where(PersonalNumber.key_id == new).count() == 3
    assert mynumber.rotate(keyring, batch_size=3) == 4
    assert mynumber.rotate(keyring, batch_size=3) == 0
    assert {r.key_id for r in PersonalNumber.select()} == {new}
    for person_id, number in numbers.items():
        assert mynumber.masked(person_id, keyring) == "********" + number[-4:]


def test_delete_leaves_a_record_not_the_number(app, database, keyring, staff, number):
    person = make_person()
    mynumber.store(person, number, checked_against_document=True, keyring=keyring, actor=staff)
    assert mynumber.delete(person.id, reason="退去・精算完了", actor=staff)
    assert PersonalNumber.select().count() == 0
    record = DeletionRecord.get()
    assert (record.kind, record.subject_id) == ("my_number", person.id)
    assert not mynumber.delete(person.id, reason="again", actor=staff)
