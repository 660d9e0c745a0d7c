"""Running deskprov as an operator does: real processes, real sockets, real files.

Operator errors are one line with the right exit status; a server says where it listens only
once bound and refuses a taken port; workers are supervised and their metrics are whole; TLS is
served and a renewed certificate taken; the management side can have its own listener;
``keys rotate`` is all or nothing; a lost admin key is replaced from the command line.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import termios
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import trustme
from sqlalchemy import text

from deskprov.db.engine import make_engine
from deskprov.services.keys import sealed_with
from deskprov.services.offline import offline_deps
from deskprov.services.organisation import authenticate
from deskprov.settings import Settings
from tests import databases
from tests.test_cli import clean_env, database_url, free_port, run, serving


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The command's error: exactly one `deskprov:` line and no traceback."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("deskprov: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    return errors[0]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize(
    ("env", "args", "status", "says"),
    [
        ({"DESKPROV_PORT": "abc"}, ["keys", "list"], 2, "DESKPROV_PORT: must be a port number"),
        (
            {"DESKPROV_DATABASE_URL": "sqlite:///x.db"},
            ["db", "upgrade"],
            2,
            "DESKPROV_DATABASE_URL: must use the async driver",
        ),
        ({"DESKPROV_HOST": "0.0.0.0"}, ["serve"], 2, "DESKPROV_PUBLIC_URL must be set"),
        (
            {"DESKPROV_DATABASE_URL": "postgresql+asyncpg://u:pw@127.0.0.1:1/x"},
            ["org", "create", "Acme"],
            1,
            "cannot reach the database postgresql+asyncpg://u:***@127.0.0.1:1/x",
        ),
        ({"DESKPROV_KEY_FILE": "bad.keys"}, ["keys", "list"], 2, "DESKPROV_KEY_FILE=bad.keys: "),
        ({}, ["org", "key", "org_nosuchthing"], 1, "there is no organisation org_nosuchthing"),
        ({}, ["org", "create", "Ac\tme"], 2, "control characters are not allowed"),
        ({}, ["serve", "--port", "99999"], 2, "'99999' is not a port number"),
    ],
)
def test_an_operator_error_is_one_line_with_its_status(
    tmp_path: Path, env: dict[str, str], args: list[str], status: int, says: str
) -> None:
    (tmp_path / "bad.keys").write_text("not a key file")
    (tmp_path / "bad.keys").chmod(0o600)
    result = run(args, {**clean_env(), **env}, tmp_path)
    assert result.returncode == status, result.stderr
    assert says in one_line_error(result)
    assert ":pw@" not in result.stderr  # a database password is never repeated
    if args[:2] == ["org", "create"]:
        assert not (tmp_path / "deskprov.db").exists()  # a refused command created nothing


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run(["--debug", "org", "key", "org_nosuchthing"], clean_env(), tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "deskprov.errors.NotFound" in result.stderr


def test_a_server_says_where_it_listens_once_bound_and_a_taken_port_refuses(
    tmp_path: Path,
) -> None:
    env = clean_env()
    with serving(env, tmp_path) as server:
        server.wait_until_ready(workers=1)
        started = "".join(server.lines)
        # What it did, then where it listens.
        assert "created key file" in started
        assert started.index("created key file") < started.index("listening on http://")
        taken = run(["serve"], env, tmp_path)
        assert taken.returncode == 1
        assert "the port is taken" in one_line_error(taken)
        assert "DESKPROV_PORT" in one_line_error(taken)
    assert server.logs.count("listening on") == 1 and "Traceback" not in server.logs


def test_workers_are_supervised_and_metrics_are_whole(tmp_path: Path) -> None:
    env = clean_env()
    admin_port = free_port()
    env.update(DESKPROV_ADMIN_PORT=str(admin_port), DESKPROV_LOG_FORMAT="json")
    phones = f"http://127.0.0.1:{env['DESKPROV_PORT']}"
    admin = f"http://127.0.0.1:{admin_port}"
    with serving(env, tmp_path, "--workers", "2") as server:
        server.wait_until_ready(workers=2)
        # The management side is on its own listener (see also tests/api/test_listeners.py).
        assert [status_of(phones + p) for p in ("/metrics", "/api/v1/users")] == [404, 404]
        assert [status_of(admin + p) for p in ("/metrics", "/api/v1/users")] == [200, 401]
        for _ in range(20):  # a new connection each: both workers answer some
            assert status_of(phones + "/healthz") == 200
        time.sleep(1.3)  # (each worker publishes its counts once a second)
        counted = {healthz_count(admin) for _ in range(6)}  # scrapes land on either worker
        assert len(counted) == 1 and counted.pop() >= 20

        second = run(["serve", "--workers", "2"], env, tmp_path)
        assert second.returncode == 1 and "the port is taken" in one_line_error(second)

        pids = {
            int(p) for p in re.findall(r"worker \d started \(pid (\d+)\)", "".join(server.lines))
        }
        assert len(pids) == 2
        victim = pids.pop()
        os.kill(victim, signal.SIGKILL)
        for _ in range(300):
            if sum("listening on" in line for line in list(server.lines)) >= 6:
                break
            time.sleep(0.1)
        assert status_of(phones + "/healthz") == 200
        assert healthz_count(admin) >= 21  # the dead worker's counts are kept
    logged = [json.loads(line) for line in server.logs.splitlines() if line.startswith("{")]
    assert len(logged) == len(server.logs.splitlines())  # every line is JSON
    restarted = [e for e in logged if "starting it again" in e["message"]]
    assert (
        len(restarted) == 1 and f"(pid {victim}) was killed by SIGKILL" in restarted[0]["message"]
    )
    assert server.returncode == 0


def healthz_count(admin: str) -> float:
    with urllib.request.urlopen(admin + "/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found = re.search(r'deskprov_requests_total\{endpoint="healthz",status="200"\} ([\d.]+)', text)
    return float(found.group(1)) if found else 0.0


def test_tls_is_served_and_a_renewed_certificate_taken(tmp_path: Path) -> None:
    authority = trustme.CA()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    first = authority.issue_cert("127.0.0.1", common_name="first")
    first.cert_chain_pems[0].write_to_path(str(cert))
    first.private_key_pem.write_to_path(str(key))
    env = {**clean_env(), "DESKPROV_TLS_CERT": str(cert), "DESKPROV_TLS_KEY": str(key)}
    client = ssl.create_default_context()
    authority.configure_trust(client)
    port = int(env["DESKPROV_PORT"])
    process = subprocess.Popen(
        [sys.executable, "-m", "deskprov", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert served_name(port, client, wait=30) == "first"
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=client) as ok:
            assert json.load(ok) == {"status": "ok"}
        assert run(["healthcheck"], env, tmp_path).returncode == 0
        renewed = authority.issue_cert("127.0.0.1", common_name="renewed")
        renewed.private_key_pem.write_to_path(str(key))  # (a moment with a mismatched pair)
        renewed.cert_chain_pems[0].write_to_path(str(cert))
        deadline = time.monotonic() + 10
        while served_name(port, client) != "renewed" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert served_name(port, client) == "renewed"
    finally:
        process.terminate()
        _, logs = process.communicate(timeout=20)
    assert "listening on https://127.0.0.1" in logs and "reloaded" in logs


def served_name(port: int, context: ssl.SSLContext, wait: float = 0) -> str:
    """The common name of the certificate the server presents (waiting up to ``wait`` s)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
            ):
                subject = dict(x[0] for x in tls.getpeercert()["subject"])  # type: ignore[index]
                return str(subject["commonName"])
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def test_keys_rotate_is_all_or_nothing_and_shows_progress(tmp_path: Path) -> None:
    env = clean_env()
    assert run(["demo"], env, tmp_path).returncode == 0
    settings = Settings(
        database_url=database_url(env, tmp_path), key_file=tmp_path / "deskprov.keys"
    )
    keys_before = settings.key_file.read_bytes()
    old = re.search(r"encryption: (e[0-9a-f]{4})", run(["keys", "list"], env, tmp_path).stdout)
    assert old is not None
    sealed = asyncio.run(sealed_with(settings, old.group(1)))
    assert sealed >= 2

    # The database fails in the middle of re-encrypting: nothing changes.
    asyncio.run(fail_updates_of_sip_users(settings.database_url, True))
    failed = run(["keys", "rotate"], env, tmp_path)
    assert failed.returncode == 1 and "simulated disk failure" in one_line_error(failed)
    assert settings.key_file.read_bytes() == keys_before
    assert asyncio.run(sealed_with(settings, old.group(1))) == sealed

    # The database does not answer at all: nothing changes either.
    gone = {**env, "DESKPROV_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x"}
    assert run(["keys", "rotate"], gone, tmp_path).returncode == 1
    assert settings.key_file.read_bytes() == keys_before

    # Working again, on a terminal: a progress bar, and every secret under the new key.
    asyncio.run(fail_updates_of_sip_users(settings.database_url, False))
    status, screen = run_on_terminal(["keys", "rotate"], env, tmp_path)
    assert status == 0, screen
    assert re.search(rf"re-encrypting stored secrets: 100%.*{sealed}/{sealed}", screen), screen
    assert asyncio.run(sealed_with(settings, old.group(1))) == 0


async def fail_updates_of_sip_users(url: str, fail: bool) -> None:
    """A trigger that makes the database refuse to update SIP users (or removes it)."""
    if databases.ON_POSTGRES:
        statements = (
            [
                "CREATE FUNCTION fail_update() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'simulated disk failure'; END $$",
                "CREATE TRIGGER fail_update BEFORE UPDATE ON sip_users "
                "FOR EACH ROW EXECUTE FUNCTION fail_update()",
            ]
            if fail
            else ["DROP TRIGGER fail_update ON sip_users", "DROP FUNCTION fail_update()"]
        )
    else:
        statements = (
            [
                "CREATE TRIGGER fail_update BEFORE UPDATE ON sip_users "
                "BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END"
            ]
            if fail
            else ["DROP TRIGGER fail_update"]
        )
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


def run_on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run deskprov with its standard error on a pseudo-terminal; (status, what it showed)."""
    main, other = pty.openpty()
    fcntl.ioctl(other, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    process = subprocess.Popen(
        [sys.executable, "-m", "deskprov", *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=other,
    )
    os.close(other)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return process.wait(timeout=60), shown.decode(errors="replace")


def test_a_lost_admin_key_is_replaced_from_the_command_line(tmp_path: Path) -> None:
    env = clean_env()
    created = json.loads(run(["org", "create", "Acme", "--json"], env, tmp_path).stdout)
    issued = run(
        ["org", "key", created["organisation_id"], "--role", "admin", "--json"], env, tmp_path
    )
    assert issued.returncode == 0, issued.stderr
    new = json.loads(issued.stdout)
    assert new["role"] == "admin" and new["api_key"] != created["api_key"]
    settings = Settings(
        database_url=database_url(env, tmp_path), key_file=tmp_path / "deskprov.keys"
    )

    async def who(key: str) -> tuple[str, str]:
        async with offline_deps(settings) as deps:
            actor = await authenticate(deps, key)
            return actor.org_id, actor.role.name

    assert asyncio.run(who(new["api_key"])) == (created["organisation_id"], "admin")


def test_demo_follows_the_port_and_survives_a_closed_pipe(tmp_path: Path) -> None:
    env = clean_env()
    shown = run(["demo", "--port", "9099"], env, tmp_path)
    assert shown.returncode == 0
    assert set(re.findall(r"^\w+: (http://[^/]+)/p/", shown.stdout, re.M)) == {
        "http://127.0.0.1:9099"
    }
    # `deskprov demo | head -1`: the reader is gone before demo writes; no traceback.
    process = subprocess.Popen(
        [sys.executable, "-m", "deskprov", "demo"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()
    _, errors = process.communicate(timeout=60)
    assert "Traceback" not in errors and "BrokenPipeError" not in errors, errors
