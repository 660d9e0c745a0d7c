"""The command line as a user runs it: real processes, a real SQLite file, a real socket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def test_db_upgrade_org_create_and_serve(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    env["DESKPROV_PORT"] = str(free_port())
    upgraded = run(["db", "upgrade"], env, tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "deskprov.db").exists()

    created = run(["org", "create", "Acme", "--json"], env, tmp_path)
    assert created.returncode == 0, created.stderr
    out = json.loads(created.stdout)
    assert out["organisation_id"].startswith("org_") and out["api_key"].startswith("dpk_")
    assert (tmp_path / "deskprov.keys").stat().st_mode & 0o777 == 0o600
    assert out["api_key"] not in created.stderr

    server = subprocess.Popen(
        [sys.executable, "-m", "deskprov", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{env['DESKPROV_PORT']}"
        for _ in range(100):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as resp:
                    assert json.load(resp) == {"status": "ok"}
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not come up")
        request = urllib.request.Request(
            base + "/api/v1/users", headers={"Authorization": f"Bearer {out['api_key']}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp) == {"items": [], "next_cursor": None}
    finally:
        server.terminate()
        logs, _ = server.communicate(timeout=10)
    assert out["api_key"] not in logs
    assert "GET /api/v1/users" in logs


def test_org_name_is_checked(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPROV_")}
    result = run(["org", "create", " "], env, tmp_path)
    assert result.returncode == 2 and "1 to 100" in result.stderr
