"""The command line as a user runs it: real processes, a real SQLite file, a real socket."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from deskprov import cli
from tests import databases


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deskprov", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment of a fresh install: SQLite in the working folder by default; on
    PostgreSQL runs of the suite, a new migrated database of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    env["DESKPROV_PORT"] = str(free_port())
    if databases.ON_POSTGRES:
        env["DESKPROV_DATABASE_URL"] = databases.fresh_url(databases.TEMPLATE, Path())
    return env


def database_url(env: dict[str, str], cwd: Path) -> str:
    """The database a command run by ``run(..., env, cwd)`` uses."""
    return env.get("DESKPROV_DATABASE_URL") or f"sqlite+aiosqlite:///{cwd / 'deskprov.db'}"


def wait_for(base: str) -> None:
    for _ in range(100):
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                assert json.load(resp) == {"status": "ok"}
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


class Served:
    """A `deskprov serve` process: ``lines`` fill as it prints; ``logs`` holds all it printed
    once it has stopped."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.logs = ""
        self.returncode: int | None = None
        self.pid = 0

    def wait_until_ready(self, workers: int) -> None:
        for _ in range(200):
            if sum("listening on" in line for line in list(self.lines)) >= workers:
                return
            time.sleep(0.05)
        raise AssertionError(f"not all {workers} workers came up: {self.lines}")


@contextmanager
def serving(env: dict[str, str], cwd: Path, *args: str) -> Iterator[Served]:
    served = Served()
    server = subprocess.Popen(
        [sys.executable, "-m", "deskprov", "serve", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    served.pid = server.pid
    # Read what it prints as it goes: a full pipe would block the server's logging.
    lines = served.lines
    reader = threading.Thread(target=lambda: lines.extend(iter(server.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        wait_for(f"http://127.0.0.1:{env['DESKPROV_PORT']}")
        yield served
    finally:
        server.terminate()
        server.wait(timeout=20)
        reader.join(timeout=20)
        server.stdout.close()  # type: ignore[union-attr]
        served.logs = "".join(lines)
        served.returncode = server.returncode


def get(url: str, user_agent: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"User-Agent": user_agent})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_db_upgrade_org_create_and_serve(tmp_path: Path) -> None:
    env = clean_env()
    upgraded = run(["db", "upgrade"], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout == "database is up to date\n"
    if not databases.ON_POSTGRES:
        assert (tmp_path / "deskprov.db").exists()

    created = run(["org", "create", "Acme", "--json"], env, tmp_path)
    assert created.returncode == 0, created.stderr
    out = json.loads(created.stdout)
    assert out["organisation_id"].startswith("org_") and out["api_key"].startswith("dpk_")
    assert (tmp_path / "deskprov.keys").stat().st_mode & 0o777 == 0o600
    assert out["api_key"] not in created.stderr

    with serving(env, tmp_path) as server:
        request = urllib.request.Request(
            f"http://127.0.0.1:{env['DESKPROV_PORT']}/api/v1/users",
            headers={"Authorization": f"Bearer {out['api_key']}"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp) == {"items": [], "next_cursor": None}
    assert out["api_key"] not in server.logs
    assert "GET /api/v1/users" in server.logs


def test_org_name_is_checked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    result = run(["org", "create", " "], env, tmp_path)
    assert result.returncode == 2 and "1 to 100" in result.stderr


DEMO_LINE = re.compile(r"^(polycom|yealink|fanvil): (\S+)$", re.M)
CURL_LINE = re.compile(r"curl -s -A '([^']+)' (.+)$", re.M)


def test_demo_serves_every_vendor_and_logs_no_secret(tmp_path: Path) -> None:
    env = clean_env()
    demo = run(["demo"], env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    urls = dict(DEMO_LINE.findall(demo.stdout))
    assert set(urls) == {"polycom", "yealink", "fanvil"}
    curls = CURL_LINE.findall(demo.stdout)
    assert len(curls) == 3
    api_key = re.search(r"(dpk_\S+)", demo.stdout).group(1)  # type: ignore[union-attr]
    again = run(["demo"], env, tmp_path)  # reuses the organisation
    assert dict(DEMO_LINE.findall(again.stdout)) == urls and "dpk_" not in again.stdout

    with serving(env, tmp_path) as server:
        for user_agent, targets in curls:
            for target in re.findall(r"'([^']+)'", targets):
                status, body = get(target, user_agent)
                assert status == 200, target
                assert (
                    b"Demo-Passw0rd-Alice" in body
                    or b"[PHONE_MAC_ADDRESS]" in body
                    or (b"features.enhanced_dss_keys.enable" in body)
                )
        status, _ = get(urls["yealink"] + "805ec0000002.boot", curls[1][0])
        assert status == 404
        # The ETag step, as printed: fetch, then ask again with the tag given.
        step = "\n".join(line.strip() for line in demo.stdout.splitlines() if "etag" in line)
        again = subprocess.run(["sh", "-c", step], capture_output=True, text=True, timeout=30)
        assert again.stdout == "304\n", (step, again.stderr)
    assert "/p/<token>/" in server.logs
    assert "Demo-Passw0rd" not in server.logs and api_key not in server.logs
    for url in urls.values():
        assert url.split("/p/")[1].rstrip("/") not in server.logs


def test_route_shows_where_a_call_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (the commands are the same code; a process start costs seconds here)."""
    env = clean_env()
    for name in [n for n in os.environ if n.startswith("DESKPROV_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv(
        "DESKPROV_DATABASE_URL",
        env.get("DESKPROV_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'deskprov.db'}"),
    )
    monkeypatch.setenv("DESKPROV_KEY_FILE", str(tmp_path / "deskprov.keys"))
    assert cli.main(["demo"]) == 0
    account = re.search(r"deskprov route (pa_\S+) ", capsys.readouterr().out).group(1)  # type: ignore[union-attr]
    assert cli.main(["route", account, "600", "--from", "alice", "--json"]) == 0
    decision = json.loads(capsys.readouterr().out)
    assert (decision["kind"], decision["strategy"], decision["ring_seconds"]) == (
        "extension",
        "sequential",
        20,
    )
    assert [t["value"] for t in decision["targets"]] == [
        "sip:alice@demo.sip.whippy.example",
        "sip:bob@demo.sip.whippy.example",
    ]
    assert cli.main(["route", account, "4155550123", "--from", "alice"]) == 0
    text = capsys.readouterr().out
    assert "4155550123: pstn" in text and "caller ID: +14155550100" in text
    assert cli.main(["route", "pa_nothere", "600"]) == 1
    assert "no provider account pa_nothere" in capsys.readouterr().err


def test_keys_rotate_and_retire_without_restarting_the_server(tmp_path: Path) -> None:
    env = clean_env()
    demo = run(["demo"], env, tmp_path)
    urls = dict(DEMO_LINE.findall(demo.stdout))
    api_key = re.search(r"(dpk_\S+)", demo.stdout).group(1)  # type: ignore[union-attr]
    before = run(["keys", "list"], env, tmp_path).stdout
    old_signing = re.search(r"signing: (s[0-9a-f]{4})", before).group(1)  # type: ignore[union-attr]
    old_sealing = re.search(r"encryption: (e[0-9a-f]{4})", before).group(1)  # type: ignore[union-attr]
    ua = "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:02"
    old_url = urls["yealink"] + "805ec0000002.cfg"

    with serving(env, tmp_path):
        # (no fetch before the rotation: the render would be cached, and the point is that this
        # server, started with the old keys, opens secrets re-sealed under the new one)
        rotated = run(["keys", "rotate"], env, tmp_path)
        assert rotated.returncode == 0, rotated.stderr
        assert re.search(r"; [2-9] stored secret\(s\) re-encrypted", rotated.stdout), rotated.stdout
        after = run(["keys", "list"], env, tmp_path).stdout
        new_signing = after.split("signing: ")[1][:5]
        assert re.search(rf"signing: s[0-9a-f]{{4}}, {old_signing}", after)
        assert (tmp_path / "deskprov.keys").stat().st_mode & 0o777 == 0o600
        # Nothing is sealed with the old key any more, so it can go at once...
        retire_sealing = run(["keys", "retire", old_sealing], env, tmp_path)
        assert retire_sealing.returncode == 0, retire_sealing.stderr
        # ...and the running server, never restarted, opens the re-encrypted password and
        # still verifies the URL signed with the old signing key.
        status, body = get(old_url, ua)
        assert status == 200 and b"account.1.password = Demo-Passw0rd-Alice" in body
        # New URLs are signed with the new key.
        base = f"http://127.0.0.1:{env['DESKPROV_PORT']}/api/v1"
        headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        accounts = _json(urllib.request.Request(base + "/provider-accounts", headers=headers))
        account = accounts["items"][0]["id"]
        user = _json(urllib.request.Request(base + "/users", headers=headers))["items"][0]["id"]
        created = _json(
            urllib.request.Request(
                f"{base}/provider-accounts/{account}/provisioning-urls",
                data=json.dumps({"user_id": user, "vendor": "yealink"}).encode(),
                headers=headers,
            )
        )
        assert signing_kid_of(created["url"]) == new_signing
        assert signing_kid_of(urls["yealink"]) == old_signing

        retire_current = run(["keys", "retire", new_signing], env, tmp_path)
        assert retire_current.returncode == 1 and "current key" in retire_current.stderr
        assert run(["keys", "retire", old_signing], env, tmp_path).returncode == 0
        time.sleep(1.2)  # servers look at the key file once a second
        assert get(old_url, ua)[0] == 404  # retired: gone, also from the server's caches
        assert get(created["url"] + "805ec0000002.cfg", ua)[0] == 200


def _json(request: urllib.request.Request) -> Any:
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def signing_kid_of(url: str) -> str:
    """The id of the key a URL's token names (bytes 1-2 of the token, see security/tokens.py)."""
    token = url.split("/p/", 1)[1].rstrip("/")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return f"s{int.from_bytes(raw[1:3], 'big'):04x}"
