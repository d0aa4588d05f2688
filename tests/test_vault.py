"""My Number vault: AES-256-GCM bound to table|column|row|key, blind index, key files and rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import stat

import pytest

from services.vault import (
    Keyring,
    KeyringError,
    VaultError,
    clear_cache,
    create_data_key,
    keyring_for,
)

NUMBER = "123456789018"
WHERE = {"table": "person", "column": "mynumber", "row_id": 7}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def key_dir(tmp_path):
    return tmp_path / "keys"


@pytest.fixture
def keyring(key_dir):
    return Keyring.load(key_dir, environ={}, create=True)


def test_round_trip(keyring):
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    assert key_id == "k1"
    assert NUMBER.encode() not in blob
    assert len(blob) == 12 + len(NUMBER) + 16  # nonce, ciphertext, tag
    assert keyring.decrypt(blob, key_id, **WHERE) == NUMBER


def test_round_trip_unicode_and_memoryview(keyring):
    blob, key_id = keyring.encrypt("川崎　太郎", **WHERE)
    assert keyring.decrypt(memoryview(blob), key_id, **WHERE) == "川崎　太郎"


def test_nonce_is_random(keyring):
    first, _ = keyring.encrypt(NUMBER, **WHERE)
    second, _ = keyring.encrypt(NUMBER, **WHERE)
    assert first[:12] != second[:12]
    assert first != second


@pytest.mark.parametrize(
    "moved",
    [
        {"row_id": 8},
        {"row_id": "7 "},
        {"column": "mynumber_old"},
        {"table": "household"},
    ],
)
def test_ciphertext_moved_elsewhere_fails(keyring, moved):
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    with pytest.raises(VaultError) as caught:
        keyring.decrypt(blob, key_id, **(WHERE | moved))
    assert NUMBER not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("position", [0, 11, 12, 20, -1])
def test_tampered_byte_fails(keyring, position):
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    tampered = bytearray(blob)
    tampered[position] ^= 0x01
    with pytest.raises(VaultError):
        keyring.decrypt(bytes(tampered), key_id, **WHERE)


def test_truncated_ciphertext_fails(keyring):
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    with pytest.raises(VaultError):
        keyring.decrypt(blob[:27], key_id, **WHERE)
    with pytest.raises(VaultError):
        keyring.decrypt(blob[:-1], key_id, **WHERE)


def test_wrong_key_fails(keyring, tmp_path):
    other = Keyring.load(tmp_path / "other", environ={}, create=True)
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    assert key_id == other.active_key_id == "k1"
    with pytest.raises(VaultError):
        other.decrypt(blob, key_id, **WHERE)


def test_relabelled_key_id_fails(key_dir):
    create_data_key(key_dir)
    create_data_key(key_dir)
    keyring = Keyring.load(key_dir, environ={}, create=True)
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    assert key_id == "k2"
    with pytest.raises(VaultError):
        keyring.decrypt(blob, "k1", **WHERE)
    with pytest.raises(VaultError, match="unknown data key"):
        keyring.decrypt(blob, "k9", **WHERE)


@pytest.mark.parametrize(
    "where",
    [
        {"table": "per|son", "column": "mynumber", "row_id": 1},
        {"table": "person", "column": "my|number", "row_id": 1},
        {"table": "", "column": "mynumber", "row_id": 1},
        {"table": "person", "column": "mynumber", "row_id": None},
        {"table": "person", "column": "mynumber", "row_id": "1|2"},
    ],
)
def test_associated_data_must_be_unambiguous(keyring, where):
    with pytest.raises(ValueError):
        keyring.encrypt(NUMBER, **where)


def test_blind_index_stable_normalised_and_key_dependent(keyring, tmp_path):
    index = keyring.blind_index(NUMBER)
    assert len(index) == 64 and int(index, 16) >= 0
    assert keyring.blind_index(NUMBER) == index
    assert keyring.blind_index("１２３４-５６７８ ９０１８") == index
    assert keyring.blind_index("123456789017") != index
    assert NUMBER not in index
    other = Keyring.load(tmp_path / "other", environ={}, create=True)
    assert other.blind_index(NUMBER) != index
    # Reloading the same files gives the same index (the key persists).
    again = Keyring.load(tmp_path / "keys", environ={}, create=False)
    assert again.blind_index(NUMBER) == index


def test_blind_index_uses_its_own_key(key_dir):
    data = os.urandom(32)
    blind = os.urandom(32)
    environ = {"VAULT_DATA_KEYS": f"k1:{b64(data)}", "VAULT_BLIND_KEY": b64(blind)}
    keyring = Keyring.load(key_dir, environ=environ)
    assert keyring.blind_index(NUMBER) == hmac.new(blind, NUMBER.encode(), hashlib.sha256).hexdigest()
    assert keyring.blind_index(NUMBER) != hmac.new(data, NUMBER.encode(), hashlib.sha256).hexdigest()


def test_blind_index_of_empty_value_is_refused(keyring):
    with pytest.raises(ValueError):
        keyring.blind_index(" - ")


def test_rotation(key_dir):
    keyring = Keyring.load(key_dir, environ={}, create=True)
    old_blob, old_id = keyring.encrypt(NUMBER, **WHERE)
    assert old_id == "k1"
    assert create_data_key(key_dir) == "k2"
    rotated = Keyring.load(key_dir, environ={}, create=False)
    assert rotated.key_ids == ["k1", "k2"]
    assert rotated.active_key_id == "k2"
    assert rotated.decrypt(old_blob, old_id, **WHERE) == NUMBER
    assert rotated.needs_rotation(old_id)
    new_blob, new_id = rotated.encrypt(NUMBER, **WHERE)
    assert new_id == "k2"
    assert not rotated.needs_rotation(new_id)
    assert rotated.decrypt(new_blob, new_id, **WHERE) == NUMBER
    # The blind index does not change with data-key rotation.
    assert rotated.blind_index(NUMBER) == keyring.blind_index(NUMBER)


def test_active_key_is_the_highest_number_not_the_last_in_text_order(key_dir):
    key_dir.mkdir()
    for number in (2, 10, 9):
        path = key_dir / f"data-k{number}.key"
        path.write_text(b64(os.urandom(32)))
        path.chmod(0o600)
    keyring = Keyring.load(key_dir, environ={}, create=True)
    assert keyring.key_ids == ["k2", "k9", "k10"]
    assert keyring.active_key_id == "k10"
    assert create_data_key(key_dir) == "k11"


def test_files_created_0600_in_a_0700_directory(key_dir):
    Keyring.load(key_dir, environ={}, create=True)
    assert sorted(p.name for p in key_dir.iterdir()) == ["blind.key", "data-k1.key"]
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    for path in key_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert len(base64.b64decode(path.read_text())) == 32


def test_create_does_not_replace_existing_keys(key_dir):
    first = Keyring.load(key_dir, environ={}, create=True)
    contents = {p.name: p.read_text() for p in key_dir.iterdir()}
    second = Keyring.load(key_dir, environ={}, create=True)
    assert {p.name: p.read_text() for p in key_dir.iterdir()} == contents
    blob, key_id = first.encrypt(NUMBER, **WHERE)
    assert second.decrypt(blob, key_id, **WHERE) == NUMBER


def test_no_keys_without_create_raises(key_dir):
    with pytest.raises(KeyringError, match="no data key"):
        Keyring.load(key_dir, environ={}, create=False)
    assert not key_dir.exists()


def test_missing_blind_key_without_create_raises(key_dir):
    create_data_key(key_dir)
    with pytest.raises(KeyringError, match="blind.key"):
        Keyring.load(key_dir, environ={}, create=False)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(key_dir, mode):
    Keyring.load(key_dir, environ={}, create=True)
    (key_dir / "data-k1.key").chmod(mode)
    with pytest.raises(KeyringError, match="too open"):
        Keyring.load(key_dir, environ={}, create=False)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("data-k1.key", "not base64!", "not base64"),
        ("data-k1.key", b64(os.urandom(16)), "32 bytes"),
        ("data-key1.key", b64(os.urandom(32)), "k1, k2"),
        ("data-k0.key", b64(os.urandom(32)), "k1, k2"),
    ],
)
def test_malformed_key_files_are_refused(key_dir, name, content, message):
    key_dir.mkdir()
    path = key_dir / name
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyringError, match=message):
        Keyring.load(key_dir, environ={}, create=True)


def test_keys_from_environment(key_dir):
    k1, k2, blind = os.urandom(32), os.urandom(32), os.urandom(32)
    environ = {"VAULT_DATA_KEYS": f"k1:{b64(k1)}, k2:{b64(k2)}", "VAULT_BLIND_KEY": b64(blind)}
    keyring = Keyring.load(key_dir, environ=environ, create=False)
    assert keyring.key_ids == ["k1", "k2"]
    assert keyring.active_key_id == "k2"
    assert not key_dir.exists()  # nothing written when the environment holds the keys
    # The same keys from the environment decrypt what another process encrypted.
    blob, key_id = keyring.encrypt(NUMBER, **WHERE)
    assert Keyring.load(key_dir, environ=environ).decrypt(blob, key_id, **WHERE) == NUMBER


@pytest.mark.parametrize(
    "value",
    [
        "k1",
        "k1:" + b64(os.urandom(31)),
        "key1:" + b64(os.urandom(32)),
        "k1:" + b64(os.urandom(32)) + ",k1:" + b64(os.urandom(32)),
    ],
)
def test_malformed_environment_is_refused(key_dir, value):
    environ = {"VAULT_DATA_KEYS": value, "VAULT_BLIND_KEY": b64(os.urandom(32))}
    with pytest.raises(KeyringError) as caught:
        Keyring.load(key_dir, environ=environ)
    # Key material never appears in the message.
    for part in re.split("[:,]", value):
        if len(part) > 8:
            assert part not in str(caught.value)


def test_repr_shows_no_key_material(key_dir):
    key = os.urandom(32)
    keyring = Keyring({"k1": key}, os.urandom(32))
    text = repr(keyring)
    assert "k1" in text
    assert b64(key) not in text and key.hex() not in text


def test_keyring_for_caches_per_key_dir_and_creates_only_outside_production(tmp_path, monkeypatch):
    monkeypatch.delenv("VAULT_DATA_KEYS", raising=False)
    monkeypatch.delenv("VAULT_BLIND_KEY", raising=False)
    clear_cache()
    try:
        config = {"KEY_DIR": str(tmp_path / "a"), "APP_ENV": "testing"}
        first = keyring_for(config)
        assert keyring_for(dict(config)) is first
        assert keyring_for({"KEY_DIR": str(tmp_path / "b"), "APP_ENV": "testing"}) is not first
        with pytest.raises(KeyringError):
            keyring_for({"KEY_DIR": str(tmp_path / "c"), "APP_ENV": "production"})
        assert not (tmp_path / "c").exists()
        # After a rotation the cache is cleared and the new key becomes active.
        create_data_key(tmp_path / "a")
        assert keyring_for(config).active_key_id == "k1"
        clear_cache()
        assert keyring_for(config).active_key_id == "k2"
    finally:
        clear_cache()
