"""SIP users: password rules, encryption at rest, reveal, domains."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from deskprov.db.engine import make_engine
from deskprov.db.models import Base
from deskprov.settings import Settings
from tests import databases
from tests.conftest import Api
from tests.factories import make_list, make_sip_user, make_user, sip_setup

PASSWORD = "Sup3rSecretPass"


async def test_sip_user_read_has_domains_never_password(api: Api) -> None:
    s = await sip_setup(api)
    sip_user = s["sip_user"]
    assert sip_user["id"].startswith("su_")
    assert sip_user["domains"] == [s["domain"]["domain"]]
    assert sip_user["sip_uri"] == f"sip:{sip_user['username']}@{s['domain']['domain']}"
    assert "password" not in sip_user
    listed = await api.get(f"/provider-accounts/{s['pa']}/sip-users")
    assert PASSWORD not in str(listed)


async def test_sip_user_without_attached_list_has_no_uri(api: Api) -> None:
    s = await sip_setup(api)
    lonely = await make_list(api, s["pa"])
    sip_user = await make_sip_user(api, s["pa"], lonely["id"])
    assert sip_user["domains"] == [] and sip_user["sip_uri"] is None


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("Short1a", "at least 12"),
        ("alllowercase123", "upper-case"),
        ("ALLUPPERCASE123", "lower-case"),
        ("NoDigitsAtAllHere", "digit"),
    ],
)
async def test_password_rules(api: Api, password: str, why: str) -> None:
    s = await sip_setup(api)
    err = await api.post(
        f"/provider-accounts/{s['pa']}/sip-users",
        {"username": "bob", "password": password, "credential_list_id": s["list"]["id"]},
        status=422,
    )
    assert why in err["error"]["fields"]["password"]


async def test_username_rules_and_uniqueness(api: Api) -> None:
    s = await sip_setup(api)
    path = f"/provider-accounts/{s['pa']}/sip-users"
    for bad in ("has space", "x" * 33, "ümlaut", ""):
        err = await api.post(
            path,
            {"username": bad, "password": PASSWORD, "credential_list_id": s["list"]["id"]},
            status=422,
        )
        assert "username" in err["error"]["fields"]
    err = await api.post(
        path,
        {
            "username": s["sip_user"]["username"],
            "password": PASSWORD,
            "credential_list_id": s["list"]["id"],
        },
        status=409,
    )
    assert err["error"]["fields"] == {"username": "already taken"}


async def test_reveal_password_is_admin_only_and_audited(api: Api) -> None:
    s = await sip_setup(api)
    path = f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}/reveal-password"
    assert await api.post(path, status=200) == {"password": PASSWORD}
    for role in ("viewer", "installer"):
        key = (await api.post("/api-keys", {"name": role, "role": role}))["key"]
        err = await api.as_key(key).post(path, status=403)
        assert err["error"]["code"] == "forbidden"
    events = (await api.get("/audit-events?limit=500"))["items"]
    reveals = [e for e in events if e["action"] == "sip_user.reveal_password"]
    assert len(reveals) == 1 and reveals[0]["target_id"] == s["sip_user"]["id"]
    assert PASSWORD not in str(events)


async def test_password_update(api: Api) -> None:
    s = await sip_setup(api)
    item = f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}"
    await api.patch(item, {"password": "AnotherPassw0rd"})
    assert await api.post(item + "/reveal-password", status=200) == {"password": "AnotherPassw0rd"}
    err = await api.patch(item, {"password": "weak"}, status=422)
    assert "password" in err["error"]["fields"]
    err = await api.patch(item, {"username": "renamed"}, status=422)
    assert err["error"]["fields"] == {"username": "unknown field"}
    user = await make_user(api)
    changed = await api.patch(item, {"user_id": user["id"], "channel_id": None})
    assert changed["user_id"] == user["id"]


async def test_database_file_holds_no_plain_password(api: Api, settings: Settings) -> None:
    s = await sip_setup(api)
    await api.patch(
        f"/provider-accounts/{s['pa']}/sip-users/{s['sip_user']['id']}",
        {"password": "Zebra-Lantern-42"},
    )
    secrets = ("Zebra-Lantern-42", PASSWORD, "f" * 32)
    # Every value of every table, as the database returns it.
    engine = make_engine(settings.database_url)
    async with engine.connect() as conn:
        sealed = (await conn.execute(text("SELECT password_sealed FROM sip_users"))).scalars().all()
        creds = (
            (await conn.execute(text("SELECT credentials_sealed FROM provider_accounts")))
            .scalars()
            .all()
        )
        dump = ""
        for table in Base.metadata.sorted_tables:
            dump += repr((await conn.execute(table.select())).all())
    await engine.dispose()
    assert sealed and all(v.startswith("v1.") for v in sealed)
    assert all(v is None or v.startswith("v1.") for v in creds) and any(creds)
    assert len(dump) > 1000
    for secret in secrets:
        assert secret not in dump, secret
    if databases.ON_POSTGRES:
        return
    # SQLite: also every byte of its files (free pages, the WAL), after a checkpoint.
    db_path = Path(settings.database_url.split("///", 1)[1])
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for file in db_path.parent.glob(db_path.name + "*"):
        raw = file.read_bytes()
        for secret in secrets:
            assert secret.encode() not in raw, (file, secret)
