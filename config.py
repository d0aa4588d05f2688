"""Configuration: safe defaults without secrets, overrides from instance/config.py and the environment."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"

# Environment variables read as-is (name → type). Everything else may come as FLASK_<NAME>.
ENV_SETTINGS: dict[str, type] = {
    "APP_ENV": str,
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "REDIS_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "WEBAUTHN_RP_ID": str,
    "WEBAUTHN_RP_NAME": str,
    "WEBAUTHN_ORIGINS": list,
    "TRUSTED_HOSTS": list,
    "SESSION_IDLE_MINUTES": int,
    "SESSION_ABSOLUTE_HOURS": int,
    "KEY_DIR": str,
}


class ConfigError(RuntimeError):
    """Raised when the configuration would run the system unsafely."""


def defaults() -> dict:
    """Settings that hold when nothing overrides them. No secret has a working default."""
    return {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite:///{INSTANCE / 'housing.db'}",
        "SECRET_KEY": None,
        "BABEL_DEFAULT_LOCALE": "ja",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "LANGUAGES": {"ja": "日本語", "en": "English"},
        "SYSTEM_NAME": "市営住宅管理システム",
        "CITY_NAME": "川崎市",
        "OFFICE_NAME": "まちづくり局住宅政策部市営住宅管理課",
        "WEBAUTHN_RP_ID": "localhost",
        "WEBAUTHN_RP_NAME": "市営住宅管理システム",
        "WEBAUTHN_ORIGINS": ["http://localhost:5000"],
        "TRUSTED_HOSTS": None,
        "SESSION_IDLE_MINUTES": 15,
        "SESSION_ABSOLUTE_HOURS": 12,
        "KEY_DIR": str(INSTANCE / "keys"),
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PAGE_SIZE": 50,
        # WebAuthn policy (SECURITY.md AUTH-5, AUTH-7): production takes city-issued, device-bound keys.
        "WEBAUTHN_ALLOW_ZERO_COUNTER": None,  # None: allowed outside production only
        "WEBAUTHN_REQUIRE_ATTESTATION": False,
        "WEBAUTHN_AAGUID_ALLOWLIST": [],
        "WEBAUTHN_ATTESTATION_ROOTS": [],
        # Throttling of the login ceremony (AUTH-9) and of the My Number reveal.
        "AUTH_RATE_LIMIT": "10 per minute",
        "AUTH_ACCOUNT_RATE_LIMIT": "20 per hour",
        "REVEAL_RATE_LIMIT": "20 per hour",
        # Distinct households a user may view per hour, and the most rows a search returns.
        "READ_BUDGET_PER_HOUR": 150,
        "READ_BUDGET_PER_HOUR_CONTRACTOR": 60,
        "SEARCH_CAP_STAFF": 200,
        "SEARCH_CAP_CONTRACTOR": 50,
        # Background jobs (services/jobs.py): the web process's worker thread, and when a running job
        # whose heartbeat stopped is taken over by another worker.
        "JOBS_THREAD": True,
        "JOBS_STALE_SECONDS": 300,
        # Notices (services/notices): the sender printed on every notice, and how long a run's PDF is
        # kept under instance/notices/ (the log of each notice issued stays).
        "NOTICE_SENDER": "川崎市長",
        "NOTICE_OFFICE_POSTAL_CODE": "2108577",
        "NOTICE_OFFICE_ADDRESS": "川崎市川崎区宮本町1番地",
        "NOTICE_OFFICE_PHONE": "044-200-2948",
        "NOTICE_FILE_RETENTION_YEARS": 5,
    }


def _coerce(kind: type, raw: str):
    if kind is int:
        return int(raw)
    if kind is list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def from_environment(environ=os.environ) -> dict:
    """Settings given in the environment: the names above, or FLASK_<NAME> for any setting."""
    found = {}
    for name, kind in ENV_SETTINGS.items():
        if environ.get(name):
            found[name] = _coerce(kind, environ[name])
    for key, raw in environ.items():
        if key.startswith("FLASK_") and key not in (
            "FLASK_APP",
            "FLASK_DEBUG",
            "FLASK_RUN_PORT",
            "FLASK_RUN_HOST",
        ):
            name = key.removeprefix("FLASK_")
            found.setdefault(name, _coerce(ENV_SETTINGS.get(name, str), raw))
    return found


def development_secret(instance: Path) -> str:
    """A random secret kept in instance/ so development sessions survive a restart (never in production)."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def validate(config: dict) -> None:
    """Refuse a configuration that is unsafe: weak or missing keys, IP RP IDs, plain-http remote origins."""
    env = config["APP_ENV"]
    if env not in ("development", "testing", "production"):
        raise ConfigError(f"APP_ENV must be development, testing or production, not {env!r}")
    key = config.get("SECRET_KEY") or ""
    if len(key) < 32:
        raise ConfigError("SECRET_KEY must be set and at least 32 characters long")
    rp_id = config["WEBAUTHN_RP_ID"]
    if _is_ip(rp_id):
        raise ConfigError("WEBAUTHN_RP_ID must be a DNS name, not an IP address (WebAuthn refuses IPs)")
    for origin in config["WEBAUTHN_ORIGINS"]:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigError(f"invalid WebAuthn origin {origin!r}")
        if parts.scheme == "http" and parts.hostname != "localhost":
            raise ConfigError(f"plain-http origin {origin!r} is allowed only for localhost")
        if _is_ip(parts.hostname):
            raise ConfigError(f"origin {origin!r} uses an IP address")
        if not (parts.hostname == rp_id or parts.hostname.endswith("." + rp_id)):
            raise ConfigError(f"origin {origin!r} is not within the RP ID {rp_id!r}")
    if config.get("WEBAUTHN_REQUIRE_ATTESTATION") and not config.get("WEBAUTHN_ATTESTATION_ROOTS"):
        raise ConfigError(
            "WEBAUTHN_REQUIRE_ATTESTATION needs WEBAUTHN_ATTESTATION_ROOTS (the city's key vendors)"
        )
    if config.get("REDIS_URL") and config.get("RATELIMIT_STORAGE_URI", "memory://") == "memory://":
        # More than one node shares its rate-limit counters through Redis.
        config["RATELIMIT_STORAGE_URI"] = config["REDIS_URL"]
    if env == "production":
        if not config.get("TRUSTED_HOSTS"):
            raise ConfigError("TRUSTED_HOSTS must list the host names the app answers to in production")
        if any(urlsplit(o).scheme != "https" for o in config["WEBAUTHN_ORIGINS"]):
            raise ConfigError("production origins must be https")


def load(instance: Path, test_config: dict | None = None, environ=os.environ) -> dict:
    """Build the configuration: defaults, then instance/config.py, then the environment, then test_config."""
    config = defaults()
    file = instance / "config.py"
    if file.exists():
        namespace: dict = {}
        exec(compile(file.read_text(), str(file), "exec"), namespace)  # noqa: S102 - operator-owned file
        config.update({k: v for k, v in namespace.items() if k.isupper()})
    config.update(from_environment(environ))
    if test_config:
        config.update(test_config)
    if not config.get("SECRET_KEY") and config["APP_ENV"] != "production":
        config["SECRET_KEY"] = development_secret(instance)
    validate(config)
    return config
