"""Field encryption for C3 values (My Number): AES-256-GCM data keys and an HMAC blind index, keys outside the database."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
import threading
import unicodedata
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32  # AES-256 (SECURITY.md, Data protection) and a 256-bit HMAC key
NONCE_BYTES = 12  # the GCM nonce size NIST SP 800-38D recommends
TAG_BYTES = 16

_KEY_ID = re.compile(r"k([1-9][0-9]*)")
_DATA_FILE = re.compile(r"data-(.+)\.key")
BLIND_FILE = "blind.key"
ENV_DATA_KEYS = "VAULT_DATA_KEYS"
ENV_BLIND_KEY = "VAULT_BLIND_KEY"

# Separators removed before the blind index so "1234 5678 9018" and "123456789018" match.
_INDEX_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212\u30FC\uFF70]")


class KeyringError(RuntimeError):
    """The keys are missing, malformed or readable by others; the app must not start."""


class VaultError(RuntimeError):
    """A ciphertext that does not decrypt: tampered, moved to another row or column, or unknown key."""


def _key_number(key_id: str, where: str = "key id") -> int:
    # The id itself is not echoed: a mangled VAULT_DATA_KEYS could put key material in its place.
    match = _KEY_ID.fullmatch(key_id)
    if not match:
        raise KeyringError(f"{where}: a key id must look like k1, k2, …")
    return int(match[1])


def _decode(raw: str, where: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"{where}: not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyringError(f"{where}: a key must be {KEY_BYTES} bytes, found {len(key)}")
    return key


def _read_key_file(path: Path) -> bytes:
    # Like ssh with its private keys: a key file that group or others can read or write is refused.
    mode = path.stat().st_mode
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise KeyringError(f"{path}: permissions {stat.S_IMODE(mode):04o} are too open; chmod 600")
    return _decode(path.read_text(encoding="ascii"), str(path))


def _write_new_key(path: Path) -> None:
    # O_EXCL: never overwrite an existing key (that would make its ciphertexts unreadable); the mode
    # is set at creation so the key is never readable by others, even for an instant.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
    os.chmod(path, 0o600)


def _ensure_dir(key_dir: Path) -> None:
    key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def create_data_key(key_dir: Path) -> str:
    """Write the next data key (k1, k2, …) to key_dir with mode 0600 and return its id (for rotation)."""
    key_dir = Path(key_dir)
    _ensure_dir(key_dir)
    numbers = [_key_number(m[1]) for p in key_dir.iterdir() if (m := _DATA_FILE.fullmatch(p.name))]
    key_id = f"k{max(numbers, default=0) + 1}"
    _write_new_key(key_dir / f"data-{key_id}.key")
    return key_id


class Keyring:
    """The data keys (newest encrypts, all decrypt) and the blind-index key; repr never shows a key."""

    def __init__(self, data_keys: Mapping[str, bytes], blind_key: bytes):
        if not data_keys:
            raise KeyringError("no data key")
        for key_id, key in data_keys.items():
            _key_number(key_id)
            if len(key) != KEY_BYTES:
                raise KeyringError(f"data key {key_id}: a key must be {KEY_BYTES} bytes")
        if len(blind_key) != KEY_BYTES:
            raise KeyringError(f"blind key: a key must be {KEY_BYTES} bytes")
        self._data_keys = dict(data_keys)
        self._blind_key = bytes(blind_key)
        self.active_key_id = max(self._data_keys, key=_key_number)

    def __repr__(self) -> str:
        return f"<Keyring data keys {sorted(self._data_keys, key=_key_number)}, active {self.active_key_id}>"

    @property
    def key_ids(self) -> list[str]:
        """The data key ids, oldest first."""
        return sorted(self._data_keys, key=_key_number)

    @classmethod
    def load(cls, key_dir: Path, environ: Mapping[str, str] | None = None, create: bool = False) -> Keyring:
        """Keys from VAULT_DATA_KEYS / VAULT_BLIND_KEY, else from key_dir; create=True makes missing ones."""
        environ = os.environ if environ is None else environ
        key_dir = Path(key_dir)
        # The environment, when set, replaces the files entirely for that kind of key: mixing
        # sources would make the active key depend on which files happen to be present.
        if environ.get(ENV_DATA_KEYS):
            data_keys = cls._data_keys_from_env(environ[ENV_DATA_KEYS])
        else:
            data_keys = cls._data_keys_from_dir(key_dir)
            if not data_keys:
                if not create:
                    raise KeyringError(f"no data key in {key_dir} and {ENV_DATA_KEYS} is not set")
                create_data_key(key_dir)
                data_keys = cls._data_keys_from_dir(key_dir)
        if environ.get(ENV_BLIND_KEY):
            blind_key = _decode(environ[ENV_BLIND_KEY], ENV_BLIND_KEY)
        else:
            blind_path = key_dir / BLIND_FILE
            if not blind_path.exists():
                if not create:
                    raise KeyringError(f"no {BLIND_FILE} in {key_dir} and {ENV_BLIND_KEY} is not set")
                _ensure_dir(key_dir)
                _write_new_key(blind_path)
            blind_key = _read_key_file(blind_path)
        return cls(data_keys, blind_key)

    @staticmethod
    def _data_keys_from_env(value: str) -> dict[str, bytes]:
        keys: dict[str, bytes] = {}
        for item in value.split(","):
            key_id, sep, raw = item.strip().partition(":")
            if not sep:
                raise KeyringError(f"{ENV_DATA_KEYS} must look like k1:BASE64,k2:BASE64")
            _key_number(key_id, ENV_DATA_KEYS)
            if key_id in keys:
                raise KeyringError(f"{ENV_DATA_KEYS}: key id {key_id} given twice")
            keys[key_id] = _decode(raw, f"{ENV_DATA_KEYS} {key_id}")
        return keys

    @staticmethod
    def _data_keys_from_dir(key_dir: Path) -> dict[str, bytes]:
        if not key_dir.is_dir():
            return {}
        keys: dict[str, bytes] = {}
        for path in sorted(key_dir.iterdir()):
            match = _DATA_FILE.fullmatch(path.name)
            if match:
                _key_number(match[1], str(path))  # a misnamed key file is refused, not skipped
                keys[match[1]] = _read_key_file(path)
        return keys

    @staticmethod
    def _associated_data(table: str, column: str, row_id: object, key_id: str) -> bytes:
        # SECURITY.md: AD = table|column|row id|key version, so a ciphertext copied to another row,
        # column or table, or relabelled with another key id, fails authentication.
        for name, part in (("table", table), ("column", column)):
            if not part or "|" in part:
                raise ValueError(f"{name} must be a non-empty name without '|'")
        if row_id is None or "|" in str(row_id):
            raise ValueError("row_id must be set (insert the row first) and contain no '|'")
        return f"{table}|{column}|{row_id}|{key_id}".encode()

    def encrypt(self, plaintext: str, *, table: str, column: str, row_id: object) -> tuple[bytes, str]:
        """(nonce ‖ ciphertext ‖ tag, key id) under the active data key, bound to table/column/row."""
        if not isinstance(plaintext, str):
            raise TypeError("plaintext must be str")
        key_id = self.active_key_id
        aad = self._associated_data(table, column, row_id, key_id)
        # A random 96-bit nonce per encryption: safe far beyond the number of values this system holds.
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self._data_keys[key_id]).encrypt(nonce, plaintext.encode("utf-8"), aad)
        return nonce + sealed, key_id

    def decrypt(self, blob: bytes, key_id: str, *, table: str, column: str, row_id: object) -> str:
        """The plaintext of blob; VaultError if it was tampered with, moved, or the key is unknown."""
        key = self._data_keys.get(key_id)
        if key is None:
            raise VaultError(f"unknown data key id {key_id!r}")
        blob = bytes(blob)  # PostgreSQL returns memoryview for bytea
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise VaultError("ciphertext too short")
        aad = self._associated_data(table, column, row_id, key_id)
        try:
            plaintext = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)
        except InvalidTag:
            raise VaultError(f"ciphertext for {table}.{column} row {row_id} does not authenticate") from None
        return plaintext.decode("utf-8")

    def needs_rotation(self, key_id: str) -> bool:
        """True when a value stored under key_id should be re-encrypted with the active key."""
        return key_id != self.active_key_id

    def blind_index(self, value: str) -> str:
        """HMAC-SHA-256 hex of the normalised value (NFKC, no spaces or hyphens): exact-match lookup only."""
        if not isinstance(value, str):
            raise TypeError("value must be str")
        normalised = _INDEX_SEPARATORS.sub("", unicodedata.normalize("NFKC", value))
        if not normalised:
            raise ValueError("an empty value has no blind index")
        return hmac.new(self._blind_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()


_cache: dict[tuple[str, bool], Keyring] = {}
_cache_lock = threading.Lock()


def keyring_for(app_config: Mapping) -> Keyring:
    """The keyring for an app's KEY_DIR, loaded once; keys are created only outside production."""
    key_dir = Path(app_config["KEY_DIR"]).resolve()
    # SECURITY.md: the app refuses to start without keys in production, so only development and
    # testing generate missing keys.
    create = app_config.get("APP_ENV") in ("development", "testing")
    cache_key = (str(key_dir), create)
    with _cache_lock:
        keyring = _cache.get(cache_key)
        if keyring is None:
            keyring = Keyring.load(key_dir, os.environ, create=create)
            _cache[cache_key] = keyring
        return keyring


def clear_cache() -> None:
    """Forget loaded keyrings (after adding a key for rotation, and between tests)."""
    with _cache_lock:
        _cache.clear()
