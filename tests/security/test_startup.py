"""Findings 6 and 8 (the operator's side): a missing key file was silently replaced (a volume not
mounted), two ``keys rotate`` at once crashed one of them, a corrupt key file or a read-only
database printed a traceback, the SQLite file was created world-readable, and ``keys retire`` of
an encryption key printed the signing-key message. The command line runs in this process (one
real ``deskprov serve`` process shows what a refused start prints)."""

from __future__ import annotations

import concurrent.futures
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from deskprov import cli
from deskprov.app import create_app
from deskprov.db import migrate
from deskprov.db.engine import Database, DatabaseUnwritable, make_engine
from deskprov.security import keyring
from deskprov.services.keyfile import open_key_file
from deskprov.settings import Settings
from tests import databases
from tests.conftest import GuardedTestServer, with_settings
from tests.test_cli import clean_env, run


@pytest.fixture
def deskprov(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """``deskprov ARGS`` in this process, on the test's database and key file: (exit code,
    stdout, stderr)."""
    monkeypatch.setenv("DESKPROV_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DESKPROV_KEY_FILE", str(settings.key_file))

    def deskprov(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return deskprov


def one_clear_line(stderr: str) -> str:
    """What a refused command printed: one ``deskprov: ...`` line, no traceback."""
    lines = [line for line in stderr.splitlines() if not re.match(r"^\d{4}-\d\d-\d\d ", line)]
    assert len(lines) == 1 and lines[0].startswith("deskprov: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_missing_key_file_is_not_replaced_when_the_database_needs_it(
    deskprov: Any, settings: Settings
) -> None:
    assert deskprov("demo")[0] == 0  # SIP users and signed URLs, sealed and signed
    moved = settings.key_file.rename(settings.key_file.with_name("elsewhere.keys"))
    for command in (("org", "create", "Other"), ("keys", "list"), ("demo",)):
        code, _, err = deskprov(*command)
        assert code == 2  # (the file a setting names: configuration)
        line = one_clear_line(err)
        assert "key file" in line and "missing" in line and "sealed secret" in line
        assert not settings.key_file.exists()
    moved.rename(settings.key_file)
    assert deskprov("keys", "list")[0] == 0


def test_serve_refuses_to_start_in_one_line(tmp_path: Path) -> None:
    """A real server process: a key file that is not one (binary, as a wrong mount gives)."""
    env = clean_env()
    (tmp_path / "deskprov.keys").write_bytes(b"\x00\xff\xfe binary \x89PNG\r\n")
    refused = run(["serve"], env, tmp_path)
    assert refused.returncode == 2
    assert "key file" in one_clear_line(refused.stderr)


@pytest.mark.parametrize("content", [b"\x00\xff\xfe binary \x89PNG", b'{"signing": [', b"[]"])
def test_a_corrupt_key_file_is_one_clear_line(
    deskprov: Any, settings: Settings, content: bytes
) -> None:
    settings.key_file.write_bytes(content)
    code, _, err = deskprov("keys", "list")
    assert code == 2 and str(settings.key_file) in one_clear_line(err)


async def test_a_missing_key_file_is_made_for_a_database_that_holds_nothing(
    tmp_path: Path, settings: Settings
) -> None:
    db = Database(make_engine(settings.database_url))
    try:
        made = await open_key_file(db, tmp_path / "new.keys")
        assert keyring.load(tmp_path / "new.keys").current_signing == made.current_signing
    finally:
        await db.close()


def read_only(settings: Settings) -> Settings:
    if databases.ON_POSTGRES:  # (a read-only role or standby answers like this)
        name = make_url(settings.database_url).database
        databases.run_sync(
            databases._admin(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        )
        return settings
    # A read-only file, directory or mount (as root, file permissions would not stop us).
    path = make_url(settings.database_url).database
    return with_settings(settings, database_url=f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")


async def test_a_read_only_database_refuses_the_server_start(settings: Settings) -> None:
    server = GuardedTestServer(create_app(read_only(settings), keyring=keyring.Keyring.generate()))
    with pytest.raises(DatabaseUnwritable, match=r"cannot be written|read-only"):
        await server.start_server()
    await server.close()


def test_a_read_only_database_is_one_clear_line(
    deskprov: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKPROV_DATABASE_URL", read_only(settings).database_url)
    code, _, err = deskprov("org", "create", "Acme")
    assert code == 1 and "database" in one_clear_line(err)


def test_concurrent_key_rotations_both_happen_and_retire_names_the_kind(
    deskprov: Any, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deskprov("demo")[0] == 0
    first = keyring.load(settings.key_file)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # (each holds its own lock file fd)
        codes = list(pool.map(lambda _: cli.main(["keys", "rotate"]), range(2)))
    assert codes == [0, 0]
    assert capsys.readouterr().out.count("re-encrypted") == 2
    keys = keyring.load(settings.key_file)
    assert len(keys.signing) == 3 and len(keys.encryption) == 3  # two rotations, none lost
    assert keys.signing[2] == first.signing[0]
    assert sorted(p.name for p in settings.key_file.parent.iterdir() if ".keys" in p.name) == [
        "deskprov.keys",
        "deskprov.keys.lock",
    ]
    code, out, _ = deskprov("keys", "retire", first.encryption[0].kid)
    assert code == 0 and "encryption key" in out and "URLs" not in out
    code, out, _ = deskprov("keys", "retire", first.signing[0].kid)
    assert code == 0 and "signing key" in out and "URLs signed with it" in out


@pytest.mark.skipif(databases.ON_POSTGRES, reason="the SQLite file's own mode")
async def test_a_new_sqlite_file_is_private(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as conn:  # (WAL: -wal and -shm exist while connected)
            await conn.exec_driver_sql("SELECT 1")
            files = sorted(tmp_path.glob("new.db*"))
            assert [f.name for f in files] == ["new.db", "new.db-shm", "new.db-wal"]
            assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    finally:
        await engine.dispose()
