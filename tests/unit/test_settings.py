"""Settings from a mapping: defaults, public URL, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskprov.settings import Secret, Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite+aiosqlite:///./deskprov.db"
    assert (s.host, s.port, s.public_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert s.key_file == Path("./deskprov.keys") and s.access_log is True
    assert s.twilio_timeout == 10.0


def test_values_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DESKPROV_PORT": "9000",
            "DESKPROV_PUBLIC_URL": "https://prov.example.com/",
            "DESKPROV_WHIPPY_SIP_SUFFIX": ".whippy.io",
            "DESKPROV_ACCESS_LOG": "OFF",
            "DESKPROV_DATABASE_URL": "postgresql+asyncpg://u:secret@db/deskprov",
            "DESKPROV_TWILIO_TIMEOUT": "2.5",
        }
    )
    assert s.twilio_timeout == 2.5
    assert s.port == 9000 and s.public_url == "https://prov.example.com"
    assert s.whippy_sip_suffix == "whippy.io" and s.access_log is False
    assert "secret" not in s.describe() and "***" in s.describe()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("PORT", "70000"),
        ("ACCESS_LOG", "maybe"),
        ("TWILIO_TIMEOUT", "ten"),
        ("TWILIO_TIMEOUT", "0"),
        ("TWILIO_TIMEOUT", "-1"),
        ("TWILIO_TIMEOUT", "nan"),
        ("TWILIO_TIMEOUT", "601"),
    ],
)
def test_bad_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env({f"DESKPROV_{name}": value})


def test_secret_hides_its_value() -> None:
    assert "hunter2" not in repr(Secret("hunter2")) and Secret("x").reveal() == "x"


def test_kamailio_settings() -> None:
    s = Settings.from_env(
        {
            "DESKPROV_KAMAILIO_RPC_URL": "http://127.0.0.1:5071/RPC",
            "DESKPROV_KAMAILIO_PSTN_GATEWAY": "sip:gw.carrier.example:5080",
        }
    )
    assert s.kamailio_rpc_url == "http://127.0.0.1:5071/RPC"
    assert s.kamailio_pstn_gateway == "gw.carrier.example:5080"
    assert Settings.from_env({}).kamailio_rpc_url == ""
    for name, value in (
        ("KAMAILIO_RPC_URL", "ftp://127.0.0.1/RPC"),
        ("KAMAILIO_PSTN_GATEWAY", 'gw.example"; drop'),
    ):
        with pytest.raises(SettingsError):
            Settings.from_env({f"DESKPROV_{name}": value})
