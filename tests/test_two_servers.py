"""Two `deskprov serve` processes on one database (PostgreSQL on the suite's PostgreSQL run,
one SQLite file otherwise), as a multi-instance install runs them behind a load balancer."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from tests.test_cli import DEMO_LINE, clean_env, free_port, get, run, serving

YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 {colons}"


class Instance:
    def __init__(self, env: dict[str, str], api_key: str) -> None:
        self.env = env  # also what a command run beside this server needs
        self.base = f"http://127.0.0.1:{env['DESKPROV_PORT']}"
        self.api_key = api_key

    def api(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + "/api/v1" + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer = resp.read()
            return json.loads(answer) if answer else None

    def fetch(self, url: str, mac: str) -> tuple[int, bytes]:
        colons = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        path = url.split("/p/", 1)[1]
        return get(f"{self.base}/p/{path}{mac}.cfg", YEALINK_UA.format(colons=colons))


@contextmanager
def two_servers(tmp_path: Path) -> Iterator[tuple[Instance, Instance, dict[str, str]]]:
    env = clean_env()
    demo = run(["demo"], env, tmp_path)
    assert demo.returncode == 0, demo.stderr
    api_key = re.search(r"(dpk_\S+)", demo.stdout).group(1)  # type: ignore[union-attr]
    other = {**env, "DESKPROV_PORT": str(free_port())}
    with ExitStack() as stack:
        stack.enter_context(serving(env, tmp_path))
        stack.enter_context(serving(other, tmp_path))
        yield Instance(env, api_key), Instance(other, api_key), dict(DEMO_LINE.findall(demo.stdout))


def test_changes_through_one_are_served_by_the_other_on_the_next_fetch(tmp_path: Path) -> None:
    """A password change, a key, phone settings, the phones' admin password, a binding and a
    revocation (key retirement: PostgreSQL only, test_postgres_phone_path.py)."""
    with two_servers(tmp_path) as (a, b, urls):
        mac = "805ec0000002"
        status, body = b.fetch(urls["yealink"], mac)
        assert status == 200 and b"account.1.password = Demo-Passw0rd-Alice" in body

        account = a.api("GET", "/provider-accounts")["items"][0]["id"]
        sip_users = a.api("GET", f"/provider-accounts/{account}/sip-users")["items"]
        alice = next(u for u in sip_users if u["username"] == "alice")
        a.api(
            "PATCH",
            f"/provider-accounts/{account}/sip-users/{alice['id']}",
            {"password": "Other-Instance-9"},
        )
        status, body = b.fetch(urls["yealink"], mac)
        assert status == 200 and b"account.1.password = Other-Instance-9" in body

        # A key added through B shows on A's next fetch.
        a_body = a.fetch(urls["yealink"], mac)[1]
        assert b"Lobby-Key" not in a_body
        b.api(
            "POST",
            f"/provider-accounts/{account}/sip-extensions",
            {
                "extension": "555",
                "label": "Lobby-Key",
                "subtype": "start_new_call",
                "scope": "provider_account",
                "type": "memory_key",
                "target": {"type": "phone_number", "value": "+14155550155"},
            },
        )
        assert b"Lobby-Key" in a.fetch(urls["yealink"], mac)[1]

        # Phone settings and the phones' admin password, changed through A, on B's next fetch.
        settings = f"/provider-accounts/{account}/phone-settings"
        a.api("PATCH", settings, {"ntp_servers": ["ntp.other-instance.example"]})
        body = b.fetch(urls["yealink"], mac)[1]
        assert b"local_time.ntp_server1 = ntp.other-instance.example" in body
        a.api("POST", settings + "/rotate-admin-password")
        password = a.api("POST", settings + "/reveal-admin-password")["password"]
        line = f"static.security.user_password = admin:{password}".encode()
        assert line not in body and line in b.fetch(urls["yealink"], mac)[1]

        # A binding: B keeps a new URL's state unbound (a fetch without a MAC), a phone binds
        # it through A, and B refuses any other phone at once; then a revocation through A.
        user = a.api("GET", "/users")["items"][0]["id"]
        new = a.api(
            "POST",
            f"/provider-accounts/{account}/provisioning-urls",
            {"user_id": user, "vendor": "yealink"},
        )
        assert get(new["url"].replace(a.base, b.base) + "y000000000066.cfg", "Yealink")[0] == 200
        assert a.fetch(new["url"], "805ec0000077")[0] == 200
        assert b.fetch(new["url"], "805ec0000078")[0] == 404
        assert b.fetch(new["url"], "805ec0000077")[0] == 200
        a.api("DELETE", f"/provider-accounts/{account}/provisioning-urls/{new['id']}")
        assert b.fetch(new["url"], "805ec0000077")[0] == 404


def test_phones_racing_for_one_unbound_url_bind_exactly_one_mac(tmp_path: Path) -> None:
    with two_servers(tmp_path) as (a, b, _):
        account = a.api("GET", "/provider-accounts")["items"][0]["id"]
        user = a.api("GET", "/users")["items"][0]["id"]
        created = a.api(
            "POST",
            f"/provider-accounts/{account}/provisioning-urls",
            {"user_id": user, "vendor": "yealink"},
        )
        macs = [f"805ec0aa{i:04x}" for i in range(24)]
        start = threading.Barrier(len(macs))
        results: dict[str, int] = {}

        def phone(index: int, mac: str) -> None:
            server = (a, b)[index % 2]
            start.wait()
            results[mac] = server.fetch(created["url"], mac)[0]

        threads = [threading.Thread(target=phone, args=pair) for pair in enumerate(macs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        winners = [mac for mac, status in results.items() if status == 200]
        assert len(results) == len(macs) and len(winners) == 1, results
        assert set(results.values()) == {200, 404}
        bound = a.api("GET", f"/provider-accounts/{account}/provisioning-urls/{created['id']}")
        assert bound["mac"] == winners[0]
        # Both servers agree afterwards: the winner is served, everyone else is refused.
        assert b.fetch(created["url"], winners[0])[0] == 200
        loser = next(mac for mac in macs if mac != winners[0])
        assert a.fetch(created["url"], loser)[0] == 404
