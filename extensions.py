"""Extension objects shared by the app, the CLI and the tests, and the database connection."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect as url_connect

db = DatabaseProxy()
babel = Babel()
csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()
# Limits are declared per view (login ceremony, reveal); storage from RATELIMIT_STORAGE_URI (memory or Redis).
limiter = Limiter(key_func=get_remote_address, default_limits=[])

ROOT = Path(__file__).resolve().parent

# SQLite as the embedded default: WAL so readers never block the writer, foreign keys enforced,
# a busy timeout of 10 s, and every transaction BEGIN IMMEDIATE so a read-then-write transaction
# takes the write lock up front instead of failing with SQLITE_BUSY at its first write.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
    "cache_size": -32_000,
    "temp_store": "memory",
}


def sqlite_path(url: str) -> Path:
    """The file of a sqlite:/// URL, relative paths taken from the project root."""
    if ":///" not in url:
        raise ValueError(
            "a SQLite DATABASE_URL looks like sqlite:///relative/path or sqlite:////absolute/path"
        )
    path = Path(url.split(":///", 1)[1])
    return path if path.is_absolute() else ROOT / path


def make_database(url: str):
    """A peewee database for a DATABASE_URL (sqlite:///file or postgresql://…)."""
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        path = sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10, lock_type="IMMEDIATE")
    if scheme in ("postgres", "postgresql"):
        database = url_connect(url.replace("postgres://", "postgresql://", 1))
        assert isinstance(database, PostgresqlDatabase)
        return database
    raise ValueError(f"unsupported DATABASE_URL scheme: {scheme!r}")


def init_database(url: str):
    """Point the shared proxy at the database named by url and return it."""
    database = make_database(url)
    db.initialize(database)
    return database


def is_sqlite() -> bool:
    """True when the current database is SQLite (some DDL differs by engine)."""
    return isinstance(db.obj, SqliteDatabase)
