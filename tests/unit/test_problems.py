"""Operator errors: how known faults are told (one line, the right status) and `serve --help`."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from deskprov.cli import main
from deskprov.problems import CONFIGURATION, RUNTIME, explain, log_failure
from deskprov.settings import Settings


def refused_connection() -> BaseException:
    """What asyncpg raises for a database nobody listens for (a real connection attempt)."""
    import asyncpg

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        asyncio.run(asyncpg.connect(host="127.0.0.1", port=port, user="x", timeout=5))
    except BaseException as exc:
        return exc
    raise AssertionError("connected to nothing")


def test_known_faults_are_one_line_with_their_status(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://u:secret@127.0.0.1/x", key_file=tmp_path / "k"
    )
    down = explain(refused_connection(), settings)
    assert down is not None and down.status == RUNTIME
    assert down.message.startswith("cannot reach the database postgresql+asyncpg://u:***@")
    denied = explain(PermissionError(13, "Permission denied", str(tmp_path / "k")), settings)
    assert denied is not None and denied.status == CONFIGURATION
    assert denied.message.startswith(f"DESKPROV_KEY_FILE: {tmp_path / 'k'}: Permission denied")
    assert explain(ValueError("a bug"), settings) is None  # a bug keeps its traceback


def test_a_fault_while_serving_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.serving")
    with caplog.at_level(logging.INFO, logger="test.serving"):
        log_failure(log, refused_connection(), "health check")
        log_failure(log, ValueError("a bug"), "GET users.list")
    fault, bug = caplog.records
    assert "cannot reach the database" in fault.getMessage() and fault.exc_info is None
    assert bug.exc_info is not None  # an unexpected error keeps its traceback


def test_serve_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    shown = capsys.readouterr().out
    for name in Settings.model_fields:
        assert f"DESKPROV_{name.upper()}" in shown
