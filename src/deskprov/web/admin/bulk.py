"""Many phones at once: the CSV import of provisioning URLs (a preview, then the URLs), install
sheets one at a time or as a printable batch, and CSV exports of phones, URLs and devices.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import segno
from aiohttp import web

from deskprov.errors import AppError, Conflict, Forbidden, Invalid
from deskprov.services.base import Scope
from deskprov.web.admin.pages import (
    BASE,
    ENDPOINT,
    FORM,
    NO_STORE,
    actor,
    page,
    services,
)
from deskprov.web.errors import status_of

IMPORT_ROWS = web.RequestKey("admin_import_rows", dict)
MAX_UPLOAD = 512 * 1024  # a CSV of 1,000 phones is ~80 KiB
SHEETS_MAX = 200

TabPage = Callable[..., Awaitable[web.Response]]


def _scope(request: web.Request) -> Scope:
    return Scope(actor(request), request.match_info["pa"])


async def _csv_text(request: web.Request) -> str:
    """The CSV from the file picked, else from the text box (the preview carries it on)."""
    form = await request.post()
    upload = form.get("file")
    if isinstance(upload, web.FileField):
        raw = upload.file.read(MAX_UPLOAD + 1)
        if raw:
            if len(raw) > MAX_UPLOAD:
                raise Invalid("the file is too large", fields={"csv": "at most 512 KiB"})
            try:
                return raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise Invalid("the file is not UTF-8 text", fields={"csv": "not UTF-8"}) from None
    text = str(form.get("csv", ""))
    if not text.strip():
        raise Invalid("pick a CSV file or paste its lines", fields={"csv": "required"})
    return text


def import_handler(tab_page: TabPage) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        """``preview`` shows what would happen, row by row; ``create`` makes the good rows'
        URLs and shows each row's outcome, with the batch of install sheets to print."""
        create = request[FORM].get("_step") == "create"
        try:
            text = await _csv_text(request)
            importer = services(request).url_import
            rows = await (importer.run if create else importer.check)(_scope(request), text)
        except AppError as exc:
            request[FORM]["_action"] = "provisioning-urls.import"
            return await tab_page(request, status_of(exc), exc)
        request[IMPORT_ROWS] = {"rows": rows, "created": create, "csv": text}
        return await tab_page(request)

    return handle


async def install_sheet(request: web.Request) -> web.StreamResponse:
    return await _sheets(request, [request.match_info["id"]])


async def install_sheets(request: web.Request) -> web.StreamResponse:
    """Several sheets on one page, one per printed page (``?id=...&id=...``)."""
    ids = request.query.getall("id", [])[:SHEETS_MAX]
    if not ids:
        raise Invalid("name the URLs to print", fields={"id": "required"})
    return await _sheets(request, ids)


async def _sheets(request: web.Request, ids: list[str]) -> web.StreamResponse:
    scope = _scope(request)
    sv = services(request)
    account = await sv.provider_accounts.get(Scope(actor(request)), scope.account_id or "")
    sheets = []
    for url_id in ids:
        url = await sv.provisioning_urls.get(scope, url_id)
        if url.url is None and url.url_unavailable:
            raise Conflict("this URL no longer works: its signing key was retired")
        if url.url is None:
            raise Forbidden("installers and admins see provisioning URLs; this key is a viewer")
        user = await sv.users.get(scope, url.user_id)
        qr = segno.make(url.url, error="m").svg_inline(scale=5, border=2)
        sheets.append({"url": url, "user": user, "qr": qr})
    return page(request, "sheet.html.j2", account=account, sheets=sheets)


# --- exports ------------------------------------------------------------------------------
EXPORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    # what: (the API list, its columns)
    "phones": (
        "phones.list",
        ("phone_number", "setup_type", "sid", "voice", "sms", "mms", "hosted"),
    ),
    "urls": (
        "provisioning-urls.list",
        ("id", "user_email", "vendor", "mac", "label", "url", "state", "expires_at", "created_at"),
    ),
    "devices": (
        "devices.list",
        (
            "mac",
            "vendor",
            "model",
            "firmware",
            "user_email",
            "provisioning_url_id",
            "first_seen",
            "last_seen",
            "last_ip",
            "last_file",
            "last_result",
        ),
    ),
}


async def _all(
    request: web.Request, name: str, pa: str | None, **filters: str
) -> AsyncIterator[Any]:
    """Every item of an API list, page after page (500 at a time)."""
    endpoint = ENDPOINT[name]
    assert endpoint.query is not None
    cursor: str | None = None
    while True:
        query = endpoint.query.model_validate(
            {"limit": "500", **filters, **({"cursor": cursor} if cursor else {})}
        )
        scope = Scope(actor(request), pa)
        result = await endpoint.call(services(request), scope, {"pa": pa or ""}, None, query)
        for item in result.items:
            yield item
        cursor = result.next_cursor
        if cursor is None:
            return


def _cells(what: str, item: Any, emails: dict[str, str]) -> dict[str, Any]:
    if what == "phones":
        caps = item.capabilities
        return {**item.model_dump(), "voice": caps.voice, "sms": caps.sms, "mms": caps.mms}
    values: dict[str, Any] = item.model_dump()
    values["user_email"] = emails.get(item.user_id or "", "")
    if what == "urls":
        values["url"] = item.url or ""
        values["state"] = (
            "revoked"
            if item.revoked
            else ("unavailable: signing key retired" if item.url_unavailable else "active")
        )
    return values


async def export(request: web.Request) -> web.StreamResponse:
    what = request.match_info["what"]
    if what not in EXPORTS:
        raise web.HTTPNotFound()
    name, columns = EXPORTS[what]
    pa = request.match_info.get("pa")
    filters = {"provider_account_id": pa} if what == "devices" and pa else {}
    items = [i async for i in _all(request, name, None if what == "devices" else pa, **filters)]
    user_ids = {str(i.user_id) for i in items if getattr(i, "user_id", None)}
    emails = {u.id: u.email for u in await _users(request, user_ids)}
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _safe(v) for k, v in _cells(what, item, emails).items()})
    return web.Response(
        body=out.getvalue().encode("utf-8"),
        content_type="text/csv",
        charset="utf-8",
        headers={
            **NO_STORE,
            "Content-Disposition": f'attachment; filename="deskprov-{what}.csv"',
        },
    )


async def _users(request: web.Request, ids: set[str]) -> list[Any]:
    if not ids:
        return []
    return [u async for u in _all(request, "users.list", None) if u.id in ids]


def _safe(value: Any) -> Any:
    """A spreadsheet runs a cell starting with = + - @ as a formula: such text gets a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") and not value[1:2].isdigit():
        return "'" + value
    return "" if value is None else value


def add_routes(r: web.UrlDispatcher, tab_page: TabPage) -> None:
    r.add_post("/accounts/{pa}/{tab:provisioning}/import", import_handler(tab_page))
    r.add_get("/accounts/{pa}/provisioning/sheets", install_sheets)
    r.add_get("/accounts/{pa}/provisioning/{id}/sheet", install_sheet)
    r.add_get("/accounts/{pa}/export/{what}.csv", export)
    r.add_get("/export/{what}.csv", export)


__all__ = ["BASE", "IMPORT_ROWS", "add_routes"]
