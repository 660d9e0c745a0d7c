"""Finding 1: after `keys rotate` and `keys retire <old signing kid>` (SECURITY.md's own
procedure) every read that built the URL of a provisioning URL signed with the old key answered
500, for good. Such a URL now reads with ``url: null`` and why, still lists, its preview says
why, it can be revoked, and the admin pages show it."""

from __future__ import annotations

from typing import Any

from deskprov.security import keyring
from deskprov.settings import Settings
from tests.factories import make_url, sip_setup
from tests.security.conftest import YEALINK_UA, sign_in, start, token_of


async def test_a_url_whose_signing_key_is_retired_reads_lists_previews_and_revokes(
    settings: Settings, aiohttp_client: Any
) -> None:
    keyring.create(settings.key_file)
    seconds = [0.0]
    keys = keyring.LiveKeys(settings.key_file, clock=lambda: seconds[0])
    api = await start(settings, aiohttp_client, keyring=keys)  # keyed from a real key file
    s = await sip_setup(api)
    pa = s["pa"]
    old = await make_url(api, pa, s["user"]["id"], "yealink")
    base = f"/provider-accounts/{pa}/provisioning-urls"

    with keyring.locked(settings.key_file):  # what `keys rotate` then `keys retire` do
        rotated = keyring.load(settings.key_file).rotated()
        keyring.write(settings.key_file, rotated)
        keyring.write(settings.key_file, rotated.retired(rotated.signing[1].kid))
    seconds[0] += keyring.LiveKeys.CHECK_EVERY  # (running servers look once a second)
    new = await make_url(api, pa, s["user"]["id"], "yealink")

    listed = {u["id"]: u for u in (await api.get(base))["items"]}
    assert listed[old["id"]]["url"] is None
    assert listed[old["id"]]["url_unavailable"] == "signing_key_retired"
    assert (
        listed[new["id"]]["url"].startswith("http") and listed[new["id"]]["url_unavailable"] is None
    )
    read = await api.get(f"{base}/{old['id']}")
    assert read["url"] is None and read["url_unavailable"] == "signing_key_retired"
    preview = await api.get(f"{base}/{old['id']}/preview?file=805ec0d57d72.cfg", status=409)
    assert "retired" in preview["error"]["message"]

    # The admin Auto-provision tab shows it, and says why it no longer works.
    await sign_in(api)
    tab = await api.client.get(f"/admin/accounts/{pa}/provisioning")
    assert tab.status == 200 and "signing key was retired" in await tab.text()
    sheet = await api.client.get(f"/admin/accounts/{pa}/provisioning/{old['id']}/sheet")
    assert sheet.status == 409
    sheets = f"/admin/accounts/{pa}/provisioning/sheets?id={new['id']}&id={old['id']}"
    assert (await api.client.get(sheets)).status == 409
    exported = await (await api.client.get(f"/admin/accounts/{pa}/export/urls.csv")).text()
    (old_row,) = [line for line in exported.splitlines() if line.startswith(old["id"])]
    assert "unavailable: signing key retired" in old_row and "/p/" not in old_row

    # Phones holding it are refused like any dead URL; it can still be revoked.
    phone = await api.client.get(
        f"/p/{token_of(old)}/805ec0d57d72.cfg", headers={"User-Agent": YEALINK_UA}
    )
    assert phone.status == 404 and await phone.read() == b""
    await api.delete(f"{base}/{old['id']}")
    assert (await api.get(f"{base}/{old['id']}"))["revoked"] is True
