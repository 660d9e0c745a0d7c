"""The command line as a user runs it: real processes, a real SQLite file, a real socket."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    env["DESKPROV_PORT"] = str(free_port())
    return env


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
    """A `deskprov serve` process; ``logs`` holds what it printed once it has stopped."""

    def __init__(self) -> None:
        self.logs = ""
        self.returncode: int | None = None


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
    try:
        wait_for(f"http://127.0.0.1:{env['DESKPROV_PORT']}")
        yield served
    finally:
        server.terminate()
        served.logs, _ = server.communicate(timeout=20)
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
    assert "/p/<token>/" in server.logs
    assert "Demo-Passw0rd" not in server.logs and api_key not in server.logs
    for url in urls.values():
        assert url.split("/p/")[1].rstrip("/") not in server.logs


def test_keys_rotate_keeps_old_urls_and_retire_ends_them(tmp_path: Path) -> None:
    env = clean_env()
    urls = dict(DEMO_LINE.findall(run(["demo"], env, tmp_path).stdout))
    before = run(["keys", "list"], env, tmp_path).stdout
    old_kid = re.search(r"signing: (s[0-9a-f]{4})", before).group(1)  # type: ignore[union-attr]
    assert run(["keys", "rotate"], env, tmp_path).returncode == 0
    after = run(["keys", "list"], env, tmp_path).stdout
    assert re.search(rf"signing: s[0-9a-f]{{4}}, {old_kid}", after)
    assert (tmp_path / "deskprov.keys").stat().st_mode & 0o777 == 0o600
    retire_current = run(["keys", "retire", after.split("signing: ")[1][:5]], env, tmp_path)
    assert retire_current.returncode == 1 and "current key" in retire_current.stderr

    ua = "Fanvil X4U 2.12.1 0c383e000003"
    with serving(env, tmp_path):
        assert get(urls["fanvil"] + "0c383e000003.cfg", ua)[0] == 200  # old key still verifies
    assert run(["keys", "retire", old_kid], env, tmp_path).returncode == 0
    with serving(env, tmp_path):
        assert get(urls["fanvil"] + "0c383e000003.cfg", ua)[0] == 404  # retired: gone
