"""The configuration refuses settings that would run the system unsafely."""

import pytest

import config
from app import create_app
from tests.conftest import test_config


def _valid(**overrides):
    settings = config.defaults()
    settings.update(SECRET_KEY="s" * 40)
    settings.update(overrides)
    return settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"WEBAUTHN_RP_ID": "192.168.1.10"}, "IP"),
        ({"WEBAUTHN_RP_ID": "::1"}, "IP"),
        ({"WEBAUTHN_ORIGINS": ["http://housing.city.example"]}, "plain-http"),
        ({"WEBAUTHN_ORIGINS": ["https://evil.example"]}, "not within the RP ID"),
        ({"APP_ENV": "staging"}, "APP_ENV"),
        (
            {
                "APP_ENV": "production",
                "WEBAUTHN_RP_ID": "housing.city.example",
                "WEBAUTHN_ORIGINS": ["https://housing.city.example"],
            },
            "TRUSTED_HOSTS",
        ),
    ],
)
def test_unsafe_settings_are_refused(overrides, message):
    with pytest.raises(config.ConfigError, match=message):
        config.validate(_valid(**overrides))


def test_a_production_setup_passes():
    config.validate(
        _valid(
            APP_ENV="production",
            WEBAUTHN_RP_ID="housing.city.example",
            WEBAUTHN_ORIGINS=["https://housing.city.example"],
            TRUSTED_HOSTS=["housing.city.example"],
        )
    )


def test_production_never_invents_a_secret(tmp_path):
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        config.load(tmp_path, {"APP_ENV": "production"}, environ={})
    assert not (tmp_path / "secret_key").exists()


def test_development_secret_is_generated_once_and_private(tmp_path):
    first = config.load(tmp_path, None, environ={})["SECRET_KEY"]
    second = config.load(tmp_path, None, environ={})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_environment_overrides(tmp_path):
    settings = config.load(
        tmp_path,
        None,
        environ={
            "SECRET_KEY": "e" * 40,
            "DATABASE_URL": "postgresql://u@h/db",
            "WEBAUTHN_ORIGINS": "http://localhost:5001, http://localhost:5002",
            "SESSION_IDLE_MINUTES": "10",
        },
    )
    assert settings["DATABASE_URL"] == "postgresql://u@h/db"
    assert settings["WEBAUTHN_ORIGINS"] == ["http://localhost:5001", "http://localhost:5002"]
    assert settings["SESSION_IDLE_MINUTES"] == 10


def test_unknown_database_scheme_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unsupported"):
        create_app(test_config(tmp_path, DATABASE_URL="mysql://root@localhost/x"))


def test_production_refuses_to_start_without_keys(tmp_path):
    from services.vault import KeyringError

    production = test_config(
        tmp_path,
        APP_ENV="production",
        WEBAUTHN_RP_ID="housing.city.example",
        WEBAUTHN_ORIGINS=["https://housing.city.example"],
        TRUSTED_HOSTS=["housing.city.example"],
    )
    with pytest.raises(KeyringError):
        create_app(production)
    assert not (tmp_path / "instance" / "keys").exists() or not any(
        (tmp_path / "instance" / "keys").iterdir()
    )
