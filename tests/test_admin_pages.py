"""The admin pages in a real browser: Debian's Chromium, driven headless by Playwright, against a
real `deskprov serve`. The seed's walk through an account's settings, the organisation's pages,
bulk provisioning, lists past 500 rows, every page at 1280 px and 375 px (no page overflow,
axe-core finds nothing), and what a viewer sees.

Screenshots go to $DESKPROV_SCREENSHOTS when set (docs/admin/ holds the committed ones), else
to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.test_cli import clean_env, get, run, serving

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
YEALINK_UA = "Yealink SIP-T46S 66.86.0.15 {colons}"
PASSWORD = "Browser-Passw0rd-1"
DESK, PHONE = {"width": 1280, "height": 900}, {"width": 375, "height": 740}


class Site:
    """The server under test and its management API (for set-up and for checking what the
    pages did)."""

    def __init__(self, base: str, api_key: str) -> None:
        self.base = base
        self.api_key = api_key

    def api(self, method: str, path: str, body: Any = None, key: str | None = None) -> Any:
        request = urllib.request.Request(
            self.base + "/api/v1" + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {key or self.api_key}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.load(resp) if resp.status != 204 else None

    def account(self, name: str) -> str:
        """An account ready for phones: a domain, a list attached to it; its id."""
        pa = self.api("POST", "/provider-accounts", {"name": name, "provider": "whippy_phone"})[
            "id"
        ]
        prefix = re.sub(r"[^a-z0-9]", "", name.lower())
        domain = self.api(
            "POST", f"/provider-accounts/{pa}/sip-domains", {"name": name, "prefix": prefix}
        )
        listed = self.api("POST", f"/provider-accounts/{pa}/credential-lists", {"name": "Phones"})
        self.api(
            "POST",
            f"/provider-accounts/{pa}/credential-attachments",
            {"sip_domain_id": domain["id"], "credential_list_id": listed["id"]},
        )
        self.list_id = listed["id"]
        return pa

    def person(self, pa: str, name: str, email: str, username: str) -> str:
        """A user with a SIP user in the account; the user's id."""
        user = self.api("POST", "/users", {"name": name, "email": email})["id"]
        self.api(
            "POST",
            f"/provider-accounts/{pa}/sip-users",
            {
                "username": username,
                "password": PASSWORD,
                "credential_list_id": self.list_id,
                "user_id": user,
            },
        )
        return user


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("admin")
    env = clean_env()
    created = run(["org", "create", "Browser Org", "--json"], env, folder)
    assert created.returncode == 0, created.stderr
    with serving(env, folder) as server:
        site = Site(
            f"http://127.0.0.1:{env['DESKPROV_PORT']}", json.loads(created.stdout)["api_key"]
        )
        site.api("POST", "/users", {"name": "Alice Installer", "email": "alice@browser.example"})
        site.api("POST", "/teams", {"name": "Sales", "extension": "700"})
        site.api("POST", "/queues", {"name": "Support", "extension": "600"})
        site.api("POST", "/channels", {"name": "Front desk", "phone_number": "+14155550100"})
        yield site
    assert site.api_key not in server.logs and PASSWORD not in server.logs


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "these tests drive Debian's Chromium: apt-get install chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("DESKPROV_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def signed_in(browser: Browser, site: Site, key: str | None = None, viewport: Any = DESK) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(site.base + "/admin/")
    page.fill("input[name=api_key]", key or site.api_key)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(re.compile(r"/admin/accounts$"))
    return page


def row(page: Page, table: str, text: str) -> Any:
    return page.locator(f"table#{table} tbody tr", has_text=text)


def menu(page: Page, table: str, text: str, item: str) -> None:
    """Open a row's actions menu (⋮) and pick an item."""
    found = row(page, table, text)
    found.locator("details.menu > summary").click()
    found.locator(".menu-items").get_by_text(item, exact=True).click()


def test_signed_out_pages_ask_to_sign_in_and_the_cookie_is_strict(
    browser: Browser, site: Site
) -> None:
    page = browser.new_page()
    for path in ("/admin/accounts", "/admin/users", "/admin/accounts/pa_x/domains"):
        page.goto(site.base + path)
        expect(page).to_have_url(site.base + "/admin/")
        expect(page.locator("input[name=api_key]")).to_be_visible()
    # Signing in from another site's page is refused (no session yet, so no CSRF token).
    cross = page.request.post(
        site.base + "/admin/sign-in",
        form={"api_key": site.api_key},
        headers={"Origin": "http://evil.example"},
        max_redirects=0,
    )
    assert cross.status == 403 and not page.context.cookies()
    page.fill("input[name=api_key]", "dpk_not-a-real-key")
    page.click("button:has-text('Sign in')")
    expect(page.locator(".field-error")).to_have_text("That API key is not valid.")
    page.fill("input[name=api_key]", site.api_key)
    page.click("button:has-text('Sign in')")
    expect(page).to_have_url(site.base + "/admin/accounts")
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"
    assert site.api_key not in cookie["value"]
    # A form posted without the session's CSRF token changes nothing.
    refused = page.request.post(
        site.base + "/admin/users",
        form={"_action": "users.create", "name": "Forged", "email": "forged@example.com"},
    )
    assert refused.status == 403
    assert site.api("GET", "/users?email=forged@example.com")["items"] == []
    page.click("button:has-text('Sign out')")
    page.goto(site.base + "/admin/accounts")
    expect(page).to_have_url(site.base + "/admin/")
    page.context.close()


def test_the_whole_seed_walk(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site)

    # Create provider account: the notice shows once, then is gone.
    page.fill("#create-account input[name=name]", "Main office")
    page.select_option("#create-account select[name=provider]", "whippy_phone")
    expect(page.locator("#create-account fieldset.credentials")).to_be_hidden()
    page.click("#create-account button")
    expect(page.locator(".flash")).to_have_text("Created.")
    page.reload()
    expect(page.locator(".flash")).to_have_count(0)
    row(page, "accounts", "Main office").locator("summary").click()
    page.screenshot(path=shots / "accounts.png")
    # Escape and a click elsewhere close the menu.
    page.keyboard.press("Escape")
    expect(page.locator("details.menu[open]")).to_have_count(0)
    menu(page, "accounts", "Main office", "Account settings")
    expect(page.locator("nav.tabs [aria-current=page]")).to_have_text("Domains")
    pa = page.url.split("/accounts/")[1].split("/")[0]
    expect(page.locator("table#domains .empty a")).to_have_attribute("href", "#add-domain")

    # Domains: the final domain shows while typing; a bad prefix is refused beside the field,
    # in our words, in the error colour, with the focus on it and the name kept.
    page.fill("#add-domain input[name=name]", "Office")
    page.type("#add-domain input[name=prefix]", "main")
    expect(page.locator("#final-domain")).to_have_text("main.sip.whippy.example")
    assert page.eval_on_selector(
        "#add-domain input[name=prefix]",
        "e => { e.value = 'Bad_Prefix'; return e.validity.patternMismatch }",
    ), "the prefix's pattern is checked by the browser (valid under the v flag)"
    page.eval_on_selector("#add-domain input[name=prefix]", "e => e.removeAttribute('pattern')")
    page.click("#add-domain button")
    bad = page.locator("#add-domain .field-error[data-for=prefix]")
    expect(bad).to_contain_text("lower-case letters, digits or hyphens")
    assert "String should" not in page.content()
    assert bad.evaluate("e => getComputedStyle(e).color") == "rgb(179, 38, 30)"
    expect(page.locator("#add-domain input[name=prefix]")).to_be_focused()
    expect(page.locator("#add-domain input[name=name]")).to_have_value("Office")
    expect(page.locator(".flash")).to_have_count(0)
    page.fill("#add-domain input[name=prefix]", "main")
    page.click("#add-domain button")
    expect(row(page, "domains", "main.sip.whippy.example")).to_have_count(1)
    menu(page, "domains", "main.sip.whippy.example", "Edit name")
    page.fill("#edit-domain input[name=name]", "Head office")
    page.click("#edit-domain button")
    expect(row(page, "domains", "main.sip.whippy.example").locator(".name")).to_have_text(
        "Head office"
    )
    copy = row(page, "domains", "main.sip.whippy.example").locator("button.copy")
    copy.click()
    expect(copy).to_have_attribute("data-copied", "main.sip.whippy.example")
    page.screenshot(path=shots / "domains.png", full_page=True)

    # Credential list, then the attachment between it and the domain (changed once).
    page.click("nav.tabs >> text=Credential lists")
    page.fill("#add-list input[name=name]", "Desk phones")
    page.click("#add-list button")
    page.fill("#add-list input[name=name]", "Spare list")
    page.click("#add-list button")
    expect(row(page, "credential-lists", "Desk phones")).to_have_count(1)
    page.click("nav.tabs >> text=Credential attachments")
    page.select_option(
        "#add-attachment select[name=sip_domain_id]", label="main.sip.whippy.example"
    )
    page.select_option("#add-attachment select[name=credential_list_id]", label="Spare list")
    page.click("#add-attachment button")
    menu(page, "attachments", "Spare list", "Change")
    # The picker searches: typing narrows the choices to what the server finds.
    page.fill("#edit-attachment input.pick-search >> nth=1", "desk")
    expect(
        page.locator(
            "#edit-attachment select[name=credential_list_id] option", has_text="Desk phones"
        )
    ).to_have_count(1)
    page.select_option("#edit-attachment select[name=credential_list_id]", label="Desk phones")
    page.click("#edit-attachment button")
    expect(row(page, "attachments", "Desk phones")).to_contain_text("main.sip.whippy.example")
    page.screenshot(path=shots / "attachments.png", full_page=True)

    # SIP user: a weak password is refused beside the field, then a good one.
    page.click("nav.tabs >> text=SIP users")
    form = page.locator("#add-sip-user")
    form.locator("input[name=username]").fill("alice")
    form.locator("input[name=password]").fill("weak")
    form.locator("select[name=credential_list_id]").select_option(label="Desk phones")
    form.locator("select[name=user_id]").select_option(label="Alice Installer")
    form.locator("select[name=channel_id]").select_option(label="Front desk")
    form.locator("button").click()
    expect(page.locator("#add-sip-user .field-error[data-for=password]")).to_contain_text(
        "at least 12"
    )
    expect(page.locator("#add-sip-user input[name=username]")).to_have_value("alice")
    expect(page.locator("#add-sip-user select[name=user_id] option:checked")).to_have_text(
        "Alice Installer"
    )
    page.locator("#add-sip-user input[name=password]").fill(PASSWORD)
    page.locator("#add-sip-user button").click()
    alice = row(page, "sip-users", "alice")
    expect(alice).to_contain_text("main.sip.whippy.example")
    expect(alice).to_contain_text("Front desk")
    expect(alice.locator("output.password")).not_to_contain_text(PASSWORD)
    assert PASSWORD not in page.content()
    # The eye reveals it (and the reveal is audited); the copy button copies it.
    alice.locator("button.reveal").click()
    expect(alice.locator("output.password")).to_have_text(PASSWORD)
    events = site.api("GET", "/audit-events?action=sip_user.reveal_password")["items"]
    assert len(events) == 1
    alice.locator("button.copy-password").click()
    expect(alice.locator("button.copy-password")).to_have_attribute("data-copied", PASSWORD)
    page.screenshot(path=shots / "sip-users.png", full_page=True)
    # Change password, list stays, channel cleared: the reason of a refusal shows on the
    # open form, not in a closed menu.
    menu(page, "sip-users", "alice", "Change password, list, user or channel")
    page.fill("#edit-sip-user input[name=password]", "short")
    page.click("#edit-sip-user button")
    expect(page.locator("#edit-sip-user .field-error[data-for=password]")).to_be_visible()
    page.fill("#edit-sip-user input[name=password]", "Changed-Passw0rd-2")
    page.select_option("#edit-sip-user select[name=channel_id]", "")
    page.click("#edit-sip-user button")
    expect(page.locator(".flash")).to_have_text("Saved.")
    expect(row(page, "sip-users", "alice")).not_to_contain_text("Front desk")
    sip_user_id = row(page, "sip-users", "alice").get_attribute("data-id")
    revealed = site.api("POST", f"/provider-accounts/{pa}/sip-users/{sip_user_id}/reveal-password")
    assert revealed["password"] == "Changed-Passw0rd-2"
    assert site.api("GET", f"/provider-accounts/{pa}/sip-users/{sip_user_id}")["channel_id"] is None

    # Extensions: every field, the target picker of the chosen kind; then an edit.
    page.click("nav.tabs >> text=Extensions")
    ext = page.locator("#add-extension")
    ext.locator("input[name=extension]").fill("101")
    ext.locator("input[name=label]").fill("Alice desk")
    ext.locator("select[name=subtype]").select_option("blind_transfer")
    ext.locator("input[name=position]").fill("2")
    ext.locator("select[name='target.type']").select_option("sip_user")
    expect(ext.locator("[data-target=phone_number]")).to_be_hidden()
    ext.locator("select[name='target.sip_user']").select_option(label="alice")
    ext.locator("button").click()
    expect(row(page, "extensions", "Alice desk")).to_contain_text("sip user: alice")
    ext = page.locator("#add-extension")
    ext.locator("input[name=extension]").fill("600")
    ext.locator("input[name=label]").fill("Support line")
    ext.locator("select[name=scope]").select_option("user")
    ext.locator("select[name=owner_id]").select_option(label="Alice Installer")
    ext.locator("select[name='target.type']").select_option("queue")
    ext.locator("select[name='target.queue']").select_option(label="Support")
    ext.locator("button").click()
    expect(row(page, "extensions", "Support line")).to_contain_text("Alice Installer")
    menu(page, "extensions", "Alice desk", "Edit")
    edit = page.locator("#edit-extension")
    expect(edit.locator("select[name='target.sip_user'] option:checked")).to_have_text("alice")
    edit.locator("input[name=label]").fill("Alice")
    edit.locator("input[name=position]").fill("")  # cleared: the next free key
    edit.locator("button").click()
    expect(row(page, "extensions", "101")).to_contain_text("next free")
    expect(row(page, "extensions", "101").locator("td[data-label=Label]")).to_have_text("Alice")
    page.screenshot(path=shots / "extensions.png", full_page=True)

    # Phones: buy from the area-code search; add one manually (a refusal keeps the ticks).
    site.api(
        "POST",
        f"/provider-accounts/{pa}/number-inventory",
        {"phone_numbers": ["+14155550401", "+14155550402"]},
    )
    page.click("nav.tabs >> text=Phones")
    page.fill("#search-numbers input[name=area_code]", "415")
    page.click("#search-numbers button")
    expect(page.locator("table#offers tbody tr")).to_have_count(2)
    row(page, "offers", "+14155550402").locator("button").click()
    expect(row(page, "phones", "+14155550402")).to_contain_text("bought")
    page.fill("#add-phone input[name=phone_number]", "+14155550999")
    page.fill("#add-phone input[name=sid]", "not a sid")
    page.check("#add-phone input[name='capabilities.sms']")
    page.click("#add-phone button")
    expect(page.locator("#add-phone .field-error")).to_have_count(1)
    expect(page.locator("#add-phone input[name='capabilities.sms']")).to_be_checked()
    expect(page.locator("#add-phone input[name=phone_number]")).to_have_value("+14155550999")
    page.fill("#add-phone input[name=sid]", "PN" + "a" * 32)
    page.click("#add-phone button")
    expect(row(page, "phones", "+14155550999")).to_contain_text("VOICE SMS")
    menu(page, "phones", "+14155550999", "Edit")
    page.check("#edit-phone input[name='capabilities.mms']")
    page.click("#edit-phone button")
    expect(row(page, "phones", "+14155550999")).to_contain_text("VOICE SMS MMS")
    page.screenshot(path=shots / "phones.png", full_page=True)

    # Auto-provision: pick a user and a phone type, Generate, copy the URL.
    page.click("nav.tabs >> text=Auto-provision")
    page.select_option("#generate-url select[name=user_id]", label="Alice Installer")
    page.select_option("#generate-url select[name=vendor]", "yealink")
    page.fill("#generate-url input[name=label]", "Reception T46S")
    page.click("#generate-url button")
    fresh = page.locator("table#urls tr.new")
    expect(fresh).to_contain_text("Reception T46S")
    expect(fresh.locator("td.state")).to_contain_text("never seen")
    url = fresh.locator("code.url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/p/[A-Za-z0-9_-]{54}/", url)
    fresh.locator("button.copy").click()
    expect(fresh.locator("button.copy")).to_have_attribute("data-copied", url)

    # A phone boots against it, then asks for a file deskprov does not serve (still served
    # its config); a second phone is refused, and says why.
    status, body = get(url + "805ec0aa0001.cfg", YEALINK_UA.format(colons="80:5e:c0:aa:00:01"))
    assert status == 200 and b"Changed-Passw0rd-2" in body and b"Alice" in body
    status, _ = get(url + "firmware.rom", YEALINK_UA.format(colons="80:5e:c0:aa:00:01"))
    assert status == 404
    page.reload()  # (reading devices writes what phones did first)
    state = page.locator("table#urls tr", has_text="Reception T46S").locator("td.state")
    expect(state).to_contain_text("served")
    expect(state).not_to_contain_text("failing")
    status, _ = get(url + "805ec0aa0002.cfg", YEALINK_UA.format(colons="80:5e:c0:aa:00:02"))
    assert status == 404
    page.goto(f"{site.base}/admin/devices?provider_account_id={pa}")
    expect(page.locator("tr[data-mac='805ec0aa0001'] td.state")).to_have_text(
        "served; last asked for firmware.rom, which deskprov does not serve"
    )
    expect(page.locator("tr[data-mac='805ec0aa0001']")).to_contain_text("Alice Installer")
    expect(page.locator("tr[data-mac='805ec0aa0001']")).to_contain_text("Reception T46S")
    expect(page.locator("tr[data-mac='805ec0aa0002'] td.state")).to_contain_text(
        "belongs to another phone"
    )
    page.screenshot(path=shots / "devices.png", full_page=True)

    # The printable install sheet, with a QR code of the URL.
    page.goto(f"{site.base}/admin/accounts/{pa}/provisioning")
    with page.context.expect_page() as opened:
        page.locator("table#urls tr.new, table#urls tr", has_text="Reception").locator(
            "text=Install sheet"
        ).first.click()
    sheet = opened.value
    expect(sheet.locator(".bigurl code")).to_have_text(url)
    expect(sheet.locator(".qr svg path")).to_have_count(1)
    sheet.screenshot(path=shots / "install-sheet.png", full_page=True)
    sheet.close()

    # An in-use delete is refused and names what still uses the item, with links.
    page.click("nav.tabs >> text=Credential lists")
    page.once("dialog", lambda dialog: dialog.accept())
    menu(page, "credential-lists", "Desk phones", "Delete")
    problem = page.locator("#problem")
    expect(problem).to_contain_text("still used by")
    expect(problem.locator("ul.dependents li")).to_have_count(2)
    expect(problem.locator("a", has_text="alice")).to_have_attribute(
        "href", re.compile(f"/admin/accounts/{pa}/sip-users#row-su_")
    )
    expect(problem).to_contain_text("Desk phones on main.sip.whippy.example")
    assert len(site.api("GET", f"/provider-accounts/{pa}/credential-lists")["items"]) == 2
    page.screenshot(path=shots / "in-use-delete.png", full_page=True)

    # Update an account from the actions menu; delete an empty one.
    site.api("POST", "/provider-accounts", {"name": "Spare account", "provider": "meta"})
    page.goto(site.base + "/admin/accounts")
    menu(page, "accounts", "Main office", "Update account")
    page.fill("#update-account input[name=name]", "Main office (HQ)")
    page.click("#update-account button")
    expect(row(page, "accounts", "Main office (HQ)")).to_have_count(1)
    menu(page, "accounts", "Spare account", "Account settings")
    expect(page.locator("nav.tabs [aria-current=page]")).to_have_text("Phones")  # a Meta account
    page.goto(page.url.rsplit("/", 1)[0] + "/edit")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button.danger")
    expect(page.locator(".flash")).to_have_text("Deleted.")
    expect(row(page, "accounts", "Spare account")).to_have_count(0)
    page.context.close()


def test_organisation_pages(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site)
    # Users: add, edit; a duplicate email is refused on the field.
    page.goto(site.base + "/admin/users")
    page.fill("#add-user input[name=name]", "Bob Builder")
    page.fill("#add-user input[name=email]", "bob@browser.example")
    page.click("#add-user button")
    page.fill("#add-user input[name=name]", "Bob Again")
    page.fill("#add-user input[name=email]", "bob@browser.example")
    page.click("#add-user button")
    expect(page.locator("#add-user .field-error[data-for=email]")).to_have_text("already taken")
    menu(page, "users", "Bob Builder", "Edit")
    page.fill("#edit-user input[name=name]", "Bob Builder Jr")
    page.click("#edit-user button")
    expect(row(page, "users", "Bob Builder Jr")).to_contain_text("bob@browser.example")
    page.fill("form.search input[name=q]", "builder")
    page.click("form.search button")
    expect(page.locator("table#users tbody tr")).to_have_count(1)
    page.screenshot(path=shots / "users.png", full_page=True)

    # Teams and queues: members in order, taken out by unticking.
    page.goto(site.base + "/admin/queues")
    menu(page, "queues", "Support", "Edit, members")
    page.select_option("#edit-group select[name=strategy]", "sequential")
    page.select_option("#edit-group select[name=member_ids]", label="Alice Installer")
    page.click("#edit-group button[type=submit]")
    menu(page, "queues", "Support", "Edit, members")
    page.select_option("#edit-group select[name=member_ids]", label="Bob Builder Jr")
    page.click("#edit-group button[type=submit]")
    expect(row(page, "queues", "Support")).to_contain_text("Alice Installer, Bob Builder Jr")
    expect(row(page, "queues", "Support")).to_contain_text("one at a time, 20 s each")
    menu(page, "queues", "Support", "Edit, members")  # the order they ring in: Bob first
    expect(page.locator("#edit-group .move-up >> nth=0")).to_be_disabled()
    page.click("#edit-group button[aria-label='Move Bob Builder Jr up']")
    page.click("#edit-group button[type=submit]")
    expect(row(page, "queues", "Support")).to_contain_text("Bob Builder Jr, Alice Installer")
    menu(page, "queues", "Support", "Edit, members")
    page.uncheck("#edit-group input[type=checkbox][name=member_ids] >> nth=1")
    page.click("#edit-group button[type=submit]")
    (queue,) = site.api("GET", "/queues")["items"]
    assert [m for m in queue["member_ids"]] == [
        site.api("GET", "/users?email=bob@browser.example")["items"][0]["id"]
    ]
    page.screenshot(path=shots / "queues.png", full_page=True)

    # Channels: a route to the queue; a user in use is refused by name.
    page.goto(site.base + "/admin/channels")
    menu(page, "channels", "Front desk", "Edit")
    page.select_option("#edit-channel select[name='route.type']", "queue")
    page.select_option("#edit-channel select[name='route.queue']", label="Support")
    page.click("#edit-channel button")
    expect(row(page, "channels", "Front desk")).to_contain_text("queue: Support")
    page.screenshot(path=shots / "channels.png", full_page=True)
    page.goto(site.base + "/admin/queues")
    page.once("dialog", lambda dialog: dialog.accept())
    menu(page, "queues", "Support", "Delete")
    expect(page.locator("#problem a", has_text="Front desk")).to_have_attribute(
        "href", re.compile("/admin/channels\\?edit=ch_")
    )

    # API keys: the new key shows once; revoking it ends what used it.
    page.goto(site.base + "/admin/api-keys")
    page.fill("#add-key input[name=name]", "Field tablet")
    page.select_option("#add-key select[name=role]", "installer")
    page.click("#add-key button")
    key = page.locator("#new-key code").inner_text()
    assert key.startswith("dpk_") and site.api("GET", "/users", key=key)["items"]
    page.screenshot(path=shots / "api-keys.png", full_page=True)
    page.goto(site.base + "/admin/api-keys")
    assert key not in page.content()
    page.once("dialog", lambda dialog: dialog.accept())
    menu(page, "api-keys", "Field tablet", "Revoke")
    expect(page.locator(".flash")).to_have_text("Deleted.")
    with pytest.raises(urllib.error.HTTPError):
        site.api("GET", "/users", key=key)

    # Audit log: filtered by action kind and by target, newest first, names for ids.
    page.goto(site.base + "/admin/audit?action=queue")
    actions = page.locator("table#audit tbody tr td[data-label=Action]").all_inner_texts()
    assert actions and set(actions) <= {"queue.create", "queue.update"}
    page.locator("table#audit tbody tr >> nth=0").locator("td[data-label=Target] a").click()
    expect(page.locator("table#audit tbody tr td[data-label=Target]").first).to_contain_text(
        "Support"
    )
    page.screenshot(path=shots / "audit.png", full_page=True)
    page.context.close()


def test_bulk_provisioning_from_a_csv(browser: Browser, site: Site, shots: Path) -> None:
    pa = site.account("Bulk site")
    site.person(pa, "Carol Field", "carol@browser.example", "carol")
    site.person(pa, "Dan Field", "dan@browser.example", "dan")
    site.api("POST", "/users", {"name": "Eve Nobody", "email": "eve@browser.example"})
    lines = [
        "MAC,Vendor,User email,Label,Timezone",
        "80:5e:c0:bb:00:01,yealink,carol@browser.example,Desk 1,Europe/Paris",
        "0004f2bb0002,Polycom,DAN@browser.example,Desk 2",
        "not-a-mac,yealink,carol@browser.example,",
        "80:5e:c0:bb:00:01,fanvil,dan@browser.example,Twice",
        "80:5e:c0:bb:00:05,nokia,nobody@browser.example,",
        "80:5e:c0:bb:00:06,yealink,eve@browser.example,",
    ]
    page = signed_in(browser, site, viewport=PHONE)  # designed for an installer's phone first
    page.goto(f"{site.base}/admin/accounts/{pa}/provisioning")
    page.fill("#import-text", "\n".join(lines))
    page.click("#import-form button")
    expect(page.locator("#import-result h2")).to_have_text("Preview: 2 of 6 row(s) ready")
    assert site.api("GET", f"/provider-accounts/{pa}/provisioning-urls")["items"] == []
    errors = {
        r.get_attribute("data-line"): r.locator("td.outcome").inner_text()
        for r in page.locator("table#import-rows tbody tr.bad").all()
    }
    assert "not a MAC address" in errors["4"]
    assert "also on line 2" in errors["5"]
    assert "no user with this email" in errors["6"] and "vendor" in errors["6"]
    assert "owns no SIP user" in errors["7"]
    page.screenshot(path=shots / "bulk-preview-phone.png", full_page=True)
    page.click("#import-create button")
    expect(page.locator("#import-result h2")).to_have_text("Imported: 2 URL(s) made")
    made = site.api("GET", f"/provider-accounts/{pa}/provisioning-urls")["items"]
    assert sorted((u["mac"], u["timezone"]) for u in made) == [
        ("0004f2bb0002", None),
        ("805ec0bb0001", "Europe/Paris"),
    ]
    # The batch of install sheets, one per printed page.
    with page.context.expect_page() as opened:
        page.click("#print-batch")
    sheets = opened.value
    expect(sheets.locator("article.install-sheet")).to_have_count(2)
    expect(sheets.locator("article.install-sheet .bigurl code").first).to_have_text(made[0]["url"])
    assert sheets.evaluate("document.documentElement.scrollWidth <= innerWidth")
    sheets.screenshot(path=shots / "install-sheets-phone.png", full_page=True)
    sheets.close()
    # A file that is not such a CSV is refused on the field, and nothing is made.
    page.fill("#import-text", "name,phone\nx,y")
    page.click("#import-form button")
    expect(page.locator("#import-form .field-error")).to_contain_text(
        "missing column(s): mac, vendor, user_email"
    )
    # CSV export of the URLs.
    with page.expect_download() as download:
        page.goto(f"{site.base}/admin/accounts/{pa}/provisioning")
        page.click("text=Export URLs (CSV)")
    text = Path(download.value.path()).read_text()
    assert text.splitlines()[0].startswith("id,user_email,vendor,mac,label,url")
    assert "carol@browser.example" in text and made[0]["url"] in text
    page.context.close()


def test_lists_page_past_500_rows_and_pickers_search(browser: Browser, site: Site) -> None:
    pa = site.account("Big site")
    numbers = [f"+1415556{n:04d}" for n in range(520)]
    site.api("POST", f"/provider-accounts/{pa}/number-inventory", {"phone_numbers": numbers[:500]})
    site.api("POST", f"/provider-accounts/{pa}/number-inventory", {"phone_numbers": numbers[500:]})
    page = signed_in(browser, site)
    page.goto(f"{site.base}/admin/accounts/{pa}/numbers")
    seen: list[str] = []
    while True:
        seen += page.locator("table#inventory tbody td[data-label=Number]").all_inner_texts()
        nxt = page.locator("nav.pager a[rel=next]")
        if nxt.count() == 0:
            break
        with page.expect_navigation():  # (read on: not the page being left, nor a blank one)
            nxt.click()
    assert seen == numbers
    # Sorted backwards, the last one made is first; a search finds one past 500.
    page.goto(f"{site.base}/admin/accounts/{pa}/numbers")
    page.click("table#inventory th >> text=Number")
    page.click("table#inventory th >> text=Number")
    expect(page.locator("table#inventory tbody tr").first).to_contain_text(numbers[-1])
    page.fill("form.search input[name=q]", "5560510")
    page.click("form.search button")
    expect(page.locator("table#inventory tbody tr")).to_have_count(1)
    page.context.close()


def test_devices_refresh_themselves(browser: Browser, site: Site) -> None:
    pa = site.account("Live site")
    user = site.person(pa, "Liv Live", "liv@browser.example", "liv")
    url = site.api(
        "POST", f"/provider-accounts/{pa}/provisioning-urls", {"user_id": user, "vendor": "yealink"}
    )["url"]
    page = signed_in(browser, site, viewport=PHONE)
    page.goto(f"{site.base}/admin/devices?provider_account_id={pa}&every=2")
    expect(page.locator("table#devices .empty")).to_be_visible()
    status, _ = get(url + "805ec0cc0001.cfg", YEALINK_UA.format(colons="80:5e:c0:cc:00:01"))
    assert status == 200
    expect(page.locator("tr[data-mac='805ec0cc0001'] td.state")).to_have_text(
        "served its config", timeout=6000
    )
    # Times in the reader's zone (the page's script), with UTC kept in the tooltip.
    stamp = page.locator("tr[data-mac='805ec0cc0001'] time")
    assert stamp.get_attribute("title") and "UTC" not in stamp.inner_text()
    page.context.close()


def test_phone_settings_tab(browser: Browser, site: Site, shots: Path) -> None:
    pa = site.account("Settings site")
    page = signed_in(browser, site)
    page.goto(f"{site.base}/admin/accounts/{pa}/phone-settings")
    form = page.locator("#phone-settings")
    form.locator("input[name=timezone]").fill("Mars/Olympus")
    form.locator("textarea[name=ntp_servers]").fill("ntp1.example.com\nntp2.example.com")
    form.locator("textarea[name=firmware]").fill("T46S https://fw.example.com/T46S.rom")
    form.locator("select[name=srtp]").select_option("required")
    form.locator("button").click()
    expect(page.locator("#phone-settings .field-error[data-for=timezone]")).to_contain_text(
        "IANA time zone"
    )
    expect(page.locator("#phone-settings select[name=srtp] option:checked")).to_have_text(
        "required"
    )
    page.fill("#phone-settings input[name=timezone]", "Europe/Paris")
    page.click("#phone-settings button")
    expect(page.locator(".flash")).to_have_text("Saved.")
    stored = site.api("GET", f"/provider-accounts/{pa}/phone-settings")
    assert (stored["timezone"], stored["srtp"]) == ("Europe/Paris", "required")
    assert stored["ntp_servers"] == ["ntp1.example.com", "ntp2.example.com"]
    assert stored["firmware"] == {"T46S": "https://fw.example.com/T46S.rom"}
    # The phones' admin password: revealed by the eye (audited), then rotated.
    page.click("button.reveal")
    first = page.locator(".secret output.password")
    expect(first).not_to_have_text("••••••••••••")
    shown = first.inner_text()
    api_pw = site.api("POST", f"/provider-accounts/{pa}/phone-settings/reveal-admin-password")
    assert api_pw["password"] == shown
    page.screenshot(path=shots / "phone-settings.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#rotate-admin-password button")
    expect(page.locator(".flash")).to_have_text("Done.")
    api_pw = site.api("POST", f"/provider-accounts/{pa}/phone-settings/reveal-admin-password")
    assert api_pw["password"] != shown
    page.context.close()


def all_pages(site: Site, pa: str) -> list[str]:
    tabs = ("domains", "credential-lists", "attachments", "sip-users", "extensions")
    tabs += ("provisioning", "phones", "numbers", "phone-settings")
    return [
        "/admin/",
        *(
            f"/admin/{p}"
            for p in (
                "accounts",
                "users",
                "channels",
                "teams",
                "queues",
                "devices",
                "api-keys",
                "audit",
            )
        ),
        *(f"/admin/accounts/{pa}/{t}" for t in tabs),
        f"/admin/accounts/{pa}/edit",
        f"/admin/channels?edit={site.api('GET', '/channels')['items'][0]['id']}",
        f"/admin/accounts/{pa}/extensions?dialled=600",
    ]


def test_every_page_fits_a_phone_and_a_desk_and_axe_finds_nothing(
    browser: Browser, site: Site, shots: Path
) -> None:
    pa = site.account("Look site")
    user = site.person(pa, "Lou Look", "lou@browser.example", "lou")
    site.api(
        "POST",
        f"/provider-accounts/{pa}/provisioning-urls",
        {"user_id": user, "vendor": "polycom", "label": "A rather long label for the lobby phone"},
    )
    axe = Axe()
    found: dict[str, Any] = {}
    for name, viewport in (("desk", DESK), ("phone", PHONE)):
        page = signed_in(browser, site, viewport=viewport)
        for path in all_pages(site, pa):
            page.goto(site.base + path)
            over = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert over <= 0, f"{path} at {viewport['width']} px overflows by {over} px"
            # axe-core on every page at the desk; at the phone, where the layout differs most
            # (tables become cards).
            if name == "desk" or path.endswith(("/sip-users", "/provisioning", "/devices")):
                results = axe.run(page)
                if results.violations_count:
                    found[f"{name} {path}"] = [
                        (v["id"], [n["target"] for n in v["nodes"]][:3])
                        for v in results.response["violations"]
                    ]
        page.goto(f"{site.base}/admin/accounts/{pa}/provisioning")
        page.screenshot(path=shots / f"auto-provision-{name}.png", full_page=True)
        page.context.close()
    # The sign-in page, signed out.
    page = browser.new_page(viewport=PHONE)
    page.goto(site.base + "/admin/")
    results = axe.run(page)
    if results.violations_count:
        found["sign-in"] = [v["id"] for v in results.response["violations"]]
    page.close()
    assert not found, found


def test_a_viewer_sees_no_forms_and_cannot_reveal(browser: Browser, site: Site) -> None:
    viewer = site.api("POST", "/api-keys", {"name": "Viewer", "role": "viewer"})["key"]
    pa = site.account("Viewed")
    site.person(pa, "Vic Viewed", "vic@browser.example", "bob")
    sip_user = site.api("GET", f"/provider-accounts/{pa}/sip-users?q=bob")["items"][0]
    page = signed_in(browser, site, viewer)
    for path in all_pages(site, pa):
        if path.endswith("/numbers") or "api-keys" in path or "audit" in path:
            continue  # not a viewer's (admin, installer) pages
        page.goto(site.base + path)
        assert page.locator("main form[method=post]").count() == 0, path
        assert page.locator("button.danger, button.reveal").count() == 0, path
    page.goto(f"{site.base}/admin/api-keys")
    expect(page.locator("h1")).to_have_text("That did not work")
    token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    refused = page.request.post(
        f"{site.base}/admin/accounts/{pa}/sip-users/{sip_user['id']}/reveal",
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 403 and PASSWORD not in refused.text()
    # A form posted anyway is refused by the service, as the API would.
    forged = page.request.post(
        f"{site.base}/admin/accounts/{pa}/domains",
        form={"_csrf": token, "_action": "sip-domains.create", "name": "Nope", "prefix": "nope"},
    )
    assert forged.status == 403 and "admin role" in forged.text()
    assert len(site.api("GET", f"/provider-accounts/{pa}/sip-domains")["items"]) == 1
    page.context.close()
