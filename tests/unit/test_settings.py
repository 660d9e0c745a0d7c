"""Settings from a mapping: defaults, public URL, validation (one line per problem, naming the
variable), and the list ``serve --help`` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskprov import cli
from deskprov.problems import Problem
from deskprov.settings import Secret, Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite+aiosqlite:///./deskprov.db"
    assert (s.host, s.port, s.public_url) == ("127.0.0.1", 8080, "http://127.0.0.1:8080")
    assert s.key_file == Path("./deskprov.keys") and s.access_log is True
    assert s.twilio_timeout == 10.0
    assert (s.admin_separate, s.tls, s.workers, s.log_level) == (False, False, 1, "info")


def test_values_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "DESKPROV_PORT": "9000",
            "DESKPROV_PUBLIC_URL": "https://prov.example.com/",
            "DESKPROV_WHIPPY_SIP_SUFFIX": ".whippy.io",
            "DESKPROV_ACCESS_LOG": "OFF",
            "DESKPROV_DATABASE_URL": "postgresql+asyncpg://u:secret@db/deskprov",
            "DESKPROV_TWILIO_TIMEOUT": "2.5",
            "DESKPROV_ADMIN_PORT": "9001",
            "DESKPROV_LOG_LEVEL": "DEBUG",
            "DESKPROV_HOST": "",  # empty: the default
        }
    )
    assert s.twilio_timeout == 2.5
    assert s.port == 9000 and s.public_url == "https://prov.example.com"
    assert s.whippy_sip_suffix == "whippy.io" and s.access_log is False
    assert "secret" not in s.describe() and "***" in s.describe()
    assert (s.admin_separate, s.admin_listen_host, s.log_level) == (True, "127.0.0.1", "debug")
    # Command-line options win, and the default public URL follows them.
    assert Settings.from_env({}, port=9100).public_url == "http://127.0.0.1:9100"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"PORT": "http"}, "DESKPROV_PORT: must be a port number (1-65535) (not 'http')"),
        ({"PORT": "70000"}, "DESKPROV_PORT: must be a port number"),
        ({"ACCESS_LOG": "maybe"}, "DESKPROV_ACCESS_LOG: "),
        ({"PUBLIC_URL": "prov.example.com"}, "DESKPROV_PUBLIC_URL: must be an http:// or https://"),
        ({"PUBLIC_URL": "http://0.0.0.0:8080"}, "names the wildcard address 0.0.0.0"),
        ({"HOST": "0.0.0.0"}, "DESKPROV_PUBLIC_URL must be set when DESKPROV_HOST is 0.0.0.0"),
        ({"HOST": "http://x"}, "DESKPROV_HOST: must be an IP address or host name"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "must use the async driver: sqlite+aiosqlite://"),
        ({"DATABASE_URL": "postgresql://u:pw@h/d"}, "postgresql+asyncpg://"),
        ({"DATABASE_URL": "nonsense"}, "DESKPROV_DATABASE_URL: is not a database URL"),
        ({"TLS_CERT": "/no/such.pem"}, "DESKPROV_TLS_CERT and DESKPROV_TLS_KEY go together"),
        ({"ADMIN_PORT": "8080"}, "DESKPROV_ADMIN_PORT is the phones' port"),
        ({"ADMIN_HOST": "10.0.0.1"}, "DESKPROV_ADMIN_HOST needs DESKPROV_ADMIN_PORT"),
        ({"LOG_FORMAT": "xml"}, "DESKPROV_LOG_FORMAT: "),
        ({"TWILIO_TIMEOUT": "ten"}, "DESKPROV_TWILIO_TIMEOUT: "),
        ({"TWILIO_TIMEOUT": "0"}, "DESKPROV_TWILIO_TIMEOUT: input should be greater than 0"),
        ({"TWILIO_TIMEOUT": "-1"}, "DESKPROV_TWILIO_TIMEOUT: "),
        ({"TWILIO_TIMEOUT": "nan"}, "DESKPROV_TWILIO_TIMEOUT: "),
        ({"TWILIO_TIMEOUT": "601"}, "DESKPROV_TWILIO_TIMEOUT: input should be less than or equal"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({f"DESKPROV_{k}": v for k, v in env.items()})
    assert any(expected in line for line in refused.value.problems), refused.value.problems
    # The password of a database URL is never repeated back.
    assert "pw" not in str(refused.value)


def test_every_setting_is_listed_for_help() -> None:
    listed = {name for name, _, _ in Settings.variables()}
    assert {"DESKPROV_TLS_CERT", "DESKPROV_ADMIN_PORT", "DESKPROV_LOG_FORMAT"} <= listed


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


@pytest.mark.parametrize(
    ("host", "asked"), [("[::]", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("[::1]", "[::1]")]
)
def test_the_healthcheck_asks_the_listener_it_would_reach(
    tmp_path: Path, host: str, asked: str
) -> None:
    settings = Settings(
        host=host, port=9, key_file=tmp_path / "k", public_url="http://prov.example.com"
    )  # (nothing listens on port 9)
    with pytest.raises(Problem) as failed:
        cli._healthcheck(settings)
    assert str(failed.value).startswith(f"http://{asked}:9/healthz: ")
