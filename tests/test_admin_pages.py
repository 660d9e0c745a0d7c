"""The admin pages in a real browser: Debian's Chromium, driven headless by Playwright, against a
real `deskprov serve`. One walk through the seed's Accounts settings, step by step, then the
checks around it (sign-in, cookies, CSRF, roles).

Screenshots of each tab go to $DESKPROV_SCREENSHOTS when set (docs/admin/ holds the committed
ones), else to the test's temporary folder.
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
        # The people and groups keys point at live at the organisation level (API only).
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


def signed_in(browser: Browser, site: Site, key: str | None = None) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(site.base + "/admin/")
    page.fill("input[name=api_key]", key or site.api_key)
    page.click("text=Sign in >> nth=-1")
    expect(page).to_have_url(re.compile(r"/admin/accounts$"))
    return page


def row(page: Page, table: str, text: str) -> Any:
    return page.locator(f"table#{table} tbody tr", has_text=text)


def test_signed_out_pages_ask_to_sign_in_and_the_cookie_is_strict(
    browser: Browser, site: Site
) -> None:
    page = browser.new_page()
    for path in ("/admin/accounts", "/admin/accounts/pa_x/domains", "/admin/accounts/pa_x/edit"):
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
        site.base + "/admin/accounts",
        form={"_action": "provider-accounts.create", "name": "Forged", "provider": "meta"},
    )
    assert refused.status == 403
    assert all(a["name"] != "Forged" for a in site.api("GET", "/provider-accounts")["items"])
    page.click("button:has-text('Sign out')")
    page.goto(site.base + "/admin/accounts")
    expect(page).to_have_url(site.base + "/admin/")
    page.context.close()


def test_the_whole_seed_walk(browser: Browser, site: Site, shots: Path) -> None:
    page = signed_in(browser, site)

    # Create provider account; it shows with its actions menu.
    page.fill("#create-account input[name=name]", "Main office")
    page.select_option("#create-account select[name=provider]", "whippy_phone")
    expect(page.locator("#create-account fieldset.credentials")).to_be_hidden()
    page.click("text=Create provider account >> nth=-1")
    expect(page.locator(".flash")).to_have_text("Saved.")
    account = row(page, "accounts", "Main office")
    account.locator("summary").click()
    page.screenshot(path=shots / "accounts.png")
    account.locator("text=Account settings").click()
    expect(page.locator("nav.tabs [aria-current=page]")).to_have_text("Domains")
    pa = page.url.split("/accounts/")[1].split("/")[0]

    # Domains: the final domain shows while typing; a bad prefix is refused beside the field.
    page.fill("#add-domain input[name=name]", "Office")
    page.type("#add-domain input[name=prefix]", "main")
    expect(page.locator("#final-domain")).to_have_text("main.sip.whippy.example")
    page.eval_on_selector("#add-domain input[name=prefix]", "e => e.removeAttribute('pattern')")
    page.fill("#add-domain input[name=prefix]", "Bad_Prefix")
    page.click("text=Add domain >> nth=-1")
    expect(page.locator("#add-domain .field-error[data-for=prefix]")).to_be_visible()
    expect(page.locator("#add-domain input[name=name]")).to_have_value("Office")
    page.fill("#add-domain input[name=prefix]", "main")
    page.click("text=Add domain >> nth=-1")
    domain = row(page, "domains", "main.sip.whippy.example")
    expect(domain).to_have_count(1)
    domain.locator("summary", has_text="Edit name").click()
    domain.locator("input[name=name]").fill("Head office")
    domain.locator("text=Save name").click()
    expect(row(page, "domains", "main.sip.whippy.example").locator(".name")).to_have_text(
        "Head office"
    )
    copy = row(page, "domains", "main.sip.whippy.example").locator("button.copy")
    copy.click()
    expect(copy).to_have_attribute("data-copied", "main.sip.whippy.example")
    page.screenshot(path=shots / "domains.png", full_page=True)

    # Credential list, then the attachment between it and the domain.
    page.click("nav.tabs >> text=Credential lists")
    page.fill("#add-list input[name=name]", "Desk phones")
    page.click("text=Add credential list >> nth=-1")
    expect(row(page, "credential-lists", "Desk phones")).to_have_count(1)
    page.screenshot(path=shots / "credential-lists.png", full_page=True)
    page.click("nav.tabs >> text=Credential attachments")
    page.select_option(
        "#add-attachment select[name=sip_domain_id]", label="main.sip.whippy.example"
    )
    page.select_option("#add-attachment select[name=credential_list_id]", label="Desk phones")
    page.click("#add-attachment button")
    expect(row(page, "attachments", "Desk phones")).to_contain_text("main.sip.whippy.example")
    page.screenshot(path=shots / "attachments.png", full_page=True)

    # SIP user: a weak password is refused beside the field, then a good one.
    page.click("nav.tabs >> text=SIP users")
    form = page.locator("#add-sip-user")
    form.locator("input[name=username]").fill("alice")
    form.locator("input[name=password]").fill("weak")
    form.locator("select[name=credential_list_id]").select_option(label="Desk phones")
    form.locator("select[name=user_id]").select_option(label="Alice Installer")
    form.locator("button").click()
    expect(page.locator("#add-sip-user .field-error[data-for=password]")).to_be_visible()
    expect(page.locator("#add-sip-user input[name=username]")).to_have_value("alice")
    page.locator("#add-sip-user input[name=password]").fill(PASSWORD)
    page.locator("#add-sip-user select[name=credential_list_id]").select_option(label="Desk phones")
    page.locator("#add-sip-user select[name=user_id]").select_option(label="Alice Installer")
    page.locator("#add-sip-user button").click()
    alice = row(page, "sip-users", "alice")
    expect(alice).to_contain_text("main.sip.whippy.example")
    expect(alice.locator("output.password")).not_to_contain_text(PASSWORD)
    assert PASSWORD not in page.content()
    # The eye reveals it (and the reveal is audited); Copy password copies it.
    alice.locator("button.reveal").click()
    expect(alice.locator("output.password")).to_have_text(PASSWORD)
    events = site.api("GET", "/audit-events?limit=500")["items"]
    assert any(e["action"] == "sip_user.reveal_password" for e in events)
    alice.locator("button.copy-password").click()
    expect(alice.locator("button.copy-password")).to_have_attribute("data-copied", PASSWORD)
    alice.locator("button.copy", has_text="Copy domain").click()
    page.screenshot(path=shots / "sip-users.png", full_page=True)
    # Update password.
    alice.locator("summary", has_text="Update password").click()
    alice.locator("input[name=password]").fill("Changed-Passw0rd-2")
    alice.locator("text=Update password >> nth=-1").click()
    expect(page.locator(".flash")).to_have_text("Saved.")
    sip_user_id = row(page, "sip-users", "alice").get_attribute("data-id")
    revealed = site.api("POST", f"/provider-accounts/{pa}/sip-users/{sip_user_id}/reveal-password")
    assert revealed["password"] == "Changed-Passw0rd-2"

    # Extensions: every field, with the target picker of the chosen kind.
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
    page.screenshot(path=shots / "extensions.png", full_page=True)

    # Phones: buy from the area-code search; add one manually and edit it.
    site.api(
        "POST",
        f"/provider-accounts/{pa}/number-inventory",
        {"phone_numbers": ["+14155550401", "+14155550402"]},
    )
    page.click("nav.tabs >> text=Phones")
    page.fill("#search-numbers input[name=area_code]", "415")
    page.click("#search-numbers button")
    expect(page.locator("table#offers tbody tr")).to_have_count(2)
    row(page, "offers", "+14155550402").locator("text=Buy").click()
    expect(row(page, "phones", "+14155550402")).to_contain_text("bought")
    page.fill("#add-phone input[name=phone_number]", "+14155550999")
    page.fill("#add-phone input[name=sid]", "PN" + "a" * 32)
    page.click("text=Add number >> nth=-1")
    manual = row(page, "phones", "+14155550999")
    expect(manual).to_contain_text("VOICE")
    manual.locator("summary", has_text="Edit").click()
    manual.locator("input[name='capabilities.sms']").check()
    manual.locator("text=Save >> nth=-1").click()
    expect(row(page, "phones", "+14155550999")).to_contain_text("VOICE SMS")
    page.screenshot(path=shots / "phones.png", full_page=True)

    # Auto-provision: pick a user and a phone type, Generate, copy the URL.
    page.click("nav.tabs >> text=Auto-provision")
    page.select_option("#generate-url select[name=user_id]", label="Alice Installer")
    page.select_option("#generate-url select[name=vendor]", "yealink")
    page.fill("#generate-url input[name=label]", "Reception T46S")
    page.click("#generate-url button")
    fresh = page.locator("table#urls tr.new")
    expect(fresh).to_contain_text("Reception T46S")
    url = fresh.locator("code.url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/p/[A-Za-z0-9_-]{54}/", url)
    fresh.locator("button.copy").click()
    expect(fresh.locator("button.copy")).to_have_attribute("data-copied", url)

    # A phone boots against it; a second phone is refused; both show, with why.
    status, body = get(url + "805ec0aa0001.cfg", YEALINK_UA.format(colons="80:5e:c0:aa:00:01"))
    assert status == 200 and b"Changed-Passw0rd-2" in body and b"Alice desk" in body
    status, _ = get(url + "805ec0aa0002.cfg", YEALINK_UA.format(colons="80:5e:c0:aa:00:02"))
    assert status == 404
    page.wait_for_timeout(1200)  # device records are written behind the request (<= 1 s)
    page.reload()
    expect(page.locator("tr[data-mac='805ec0aa0001'] td.result")).to_have_text("ok")
    expect(page.locator("tr[data-mac='805ec0aa0001']")).to_contain_text("T46S")
    expect(page.locator("tr[data-mac='805ec0aa0001']")).to_contain_text("66.86.0.15")
    expect(page.locator("tr[data-mac='805ec0aa0002'] td.result")).to_have_text("refused:other_mac")
    page.screenshot(path=shots / "auto-provision.png", full_page=True)

    # The printable install sheet, with a QR code of the URL.
    with page.context.expect_page() as opened:
        page.locator("table#urls tr.new >> text=Install sheet").click()
    sheet = opened.value
    expect(sheet.locator(".bigurl code")).to_have_text(url)
    expect(sheet.locator(".qr svg path")).to_have_count(1)
    sheet.screenshot(path=shots / "install-sheet.png", full_page=True)
    sheet.close()

    # An in-use delete is refused and says what still uses the item; nothing is deleted.
    page.click("nav.tabs >> text=Credential lists")
    page.once("dialog", lambda dialog: dialog.accept())
    row(page, "credential-lists", "Desk phones").locator("button.danger").click()
    problem = row(page, "credential-lists", "Desk phones").locator(".problem")
    expect(problem).to_contain_text("still used by")
    expect(problem.locator("ul.dependents li")).to_have_count(2)
    expect(problem).to_contain_text("sip user")
    expect(problem).to_contain_text("credential attachment")
    assert len(site.api("GET", f"/provider-accounts/{pa}/credential-lists")["items"]) == 1
    page.screenshot(path=shots / "in-use-delete.png", full_page=True)

    # Update account from the actions menu.
    page.goto(site.base + "/admin/accounts")
    row(page, "accounts", "Main office").locator("summary").click()
    row(page, "accounts", "Main office").locator("text=Update account").click()
    page.fill("#update-account input[name=name]", "Main office (HQ)")
    page.click("#update-account button")
    expect(row(page, "accounts", "Main office (HQ)")).to_have_count(1)
    page.context.close()


def test_a_viewer_sees_no_eye_and_cannot_reveal(browser: Browser, site: Site) -> None:
    viewer = site.api("POST", "/api-keys", {"name": "Viewer", "role": "viewer"})["key"]
    account = site.api("POST", "/provider-accounts", {"name": "Viewed", "provider": "whippy_phone"})
    pa = account["id"]
    domain = site.api(
        "POST", f"/provider-accounts/{pa}/sip-domains", {"name": "V", "prefix": "viewed"}
    )
    listed = site.api("POST", f"/provider-accounts/{pa}/credential-lists", {"name": "L"})
    site.api(
        "POST",
        f"/provider-accounts/{pa}/credential-attachments",
        {"sip_domain_id": domain["id"], "credential_list_id": listed["id"]},
    )
    sip_user = site.api(
        "POST",
        f"/provider-accounts/{pa}/sip-users",
        {"username": "bob", "password": "Viewer-Passw0rd-3", "credential_list_id": listed["id"]},
    )
    page = signed_in(browser, site, viewer)
    expect(page.locator("#create-account")).to_have_count(0)
    page.goto(f"{site.base}/admin/accounts/{pa}/sip-users")
    expect(row(page, "sip-users", "bob")).to_have_count(1)
    expect(page.locator("button.reveal")).to_have_count(0)
    token = page.locator("meta[name=csrf-token]").get_attribute("content") or ""
    refused = page.request.post(
        f"{site.base}/admin/accounts/{pa}/sip-users/{sip_user['id']}/reveal",
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 403 and "Viewer-Passw0rd-3" not in refused.text()
    # No forms for a viewer; one posted anyway is refused by the service, as the API would.
    page.goto(f"{site.base}/admin/accounts/{pa}/domains")
    expect(page.locator("#add-domain")).to_have_count(0)
    expect(page.locator("button.danger")).to_have_count(0)
    forged = page.request.post(
        f"{site.base}/admin/accounts/{pa}/domains",
        form={"_csrf": token, "_action": "sip-domains.create", "name": "Nope", "prefix": "nope"},
    )
    assert forged.status == 403 and "admin role" in forged.text()
    assert len(site.api("GET", f"/provider-accounts/{pa}/sip-domains")["items"]) == 1
    page.context.close()
