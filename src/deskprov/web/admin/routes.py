"""The admin pages: sign-in, provider accounts, and each account's settings tabs.

Every change goes through the management API's own endpoint table (``web.api.ENDPOINTS``): a
form names the endpoint it stands for, is parsed into that endpoint's body model and calls the
same service, so the pages cannot drift from the API's rules, roles or audit trail. Every list
is a page of the API's own list (its cursor, search and sort).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from pydantic import ValidationError
from yarl import URL

from deskprov.appkeys import API_KEY_FAILURES, SETTINGS
from deskprov.domain.roles import Role
from deskprov.errors import AppError, Unauthorized
from deskprov.providers.base import TWILIO_EDGES, Provider, provider_for
from deskprov.schemas import account as acc
from deskprov.schemas.routing import RouteQuery
from deskprov.services.base import Scope
from deskprov.services.organisation import authenticate
from deskprov.services.sessions import end_session, session_actor, start_session
from deskprov.web.admin import bulk, org
from deskprov.web.admin import session as sessions
from deskprov.web.admin.pages import (
    ACTOR,
    BASE,
    FORM,
    HERE,
    NO_STORE,
    SESSION,
    actor,
    call,
    error_context,
    first,
    item_being_edited,
    listing,
    names,
    options,
    page,
    redirect,
    services,
)
from deskprov.web.api import client_address
from deskprov.web.errors import status_of
from deskprov.web.server import trust

log = logging.getLogger(__name__)
__all__ = ["BASE", "add_routes", "admin_middleware"]

VENDORS = ("polycom", "yealink", "fanvil")
EDGES = [(e, e) for e in TWILIO_EDGES]


@dataclass(frozen=True)
class Tab:
    slug: str
    title: str
    lists: str  # the API list the tab pages through
    actions: tuple[str, ...]  # the API endpoints this tab's forms may call
    write_role: Role = Role.admin  # who sees its forms (the services decide who may use them)
    read_role: Role = Role.viewer  # who sees the tab at all
    applies: Callable[[Provider], bool] = lambda p: p.supports_sip


def _crud(tag: str) -> tuple[str, ...]:
    return (f"{tag}.create", f"{tag}.update", f"{tag}.delete")


TABS = (
    Tab("domains", "Domains", "sip-domains.list", _crud("sip-domains")),
    Tab("credential-lists", "Credential lists", "credential-lists.list", _crud("credential-lists")),
    Tab(
        "attachments",
        "Credential attachments",
        "credential-attachments.list",
        _crud("credential-attachments"),
    ),
    Tab("sip-users", "SIP users", "sip-users.list", _crud("sip-users")),
    Tab("extensions", "Extensions", "sip-extensions.list", _crud("sip-extensions")),
    Tab(
        "provisioning",
        "Auto-provision",
        "provisioning-urls.list",
        ("provisioning-urls.create", "provisioning-urls.delete"),
        Role.installer,
    ),
    Tab("phones", "Phones", "phones.list", _crud("phones"), applies=lambda p: True),
    Tab(
        "numbers",
        "Number inventory",
        "number-inventory.list",
        ("number-inventory.create", "number-inventory.delete"),
        read_role=Role.admin,
        applies=lambda p: p.name == "whippy_phone",
    ),
    Tab(
        "phone-settings",
        "Phone settings",
        "",
        ("phone-settings.update", "phone-settings.rotate-admin-password"),
    ),
    Tab(
        "sync",
        "Provider sync",
        "",
        ("provider-sync.act",),
        read_role=Role.admin,
        applies=lambda p: p.hosts_sip,
    ),
)
TAB = {t.slug: t for t in TABS}
ACCOUNT_ACTIONS = ("provider-accounts.create", "provider-accounts.update")


# --- signing in ---------------------------------------------------------------------------
@web.middleware
async def admin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Pages need a session (else to the sign-in form); POSTs need the session's CSRF token."""
    cookie = request.cookies.get(sessions.COOKIE)
    session = None
    if cookie:
        try:
            request[ACTOR] = await session_actor(services(request).deps, cookie)
            session = request[SESSION] = sessions.Session(cookie)
            trust(request)
        except Unauthorized:
            pass
    public = request.path in (BASE, BASE + "/", BASE + "/sign-in") or request.path.startswith(
        BASE + "/static/"
    )
    if session is None and not public:
        return redirect(BASE + "/")
    if request.method == "POST":
        form = await request.post()
        request[FORM] = {k: v for k, v in form.items() if isinstance(v, str)}
        if session is not None and request.path != BASE + "/sign-in":
            token = request.headers.get("X-CSRF-Token") or request[FORM].get("_csrf")
            if not sessions.csrf_ok(session, token):
                return web.Response(status=403, text="The form has expired: reload the page.")
    try:
        return await handler(request)
    except AppError as exc:  # not a form's own error (those show on their page): e.g. 404
        return page(request, "error.html.j2", status_of(exc), message=exc.message)


async def sign_in_form(request: web.Request) -> web.StreamResponse:
    if ACTOR in request:
        return redirect(BASE + "/accounts")
    return page(request, "sign_in.html.j2", signin_error="")


async def sign_in(request: web.Request) -> web.StreamResponse:
    # No session yet, so no CSRF token: a sign-in posted from another site is refused by origin.
    origin = request.headers.get("Origin")
    public = URL(request.config_dict[SETTINGS].public_url)
    ours = {f"{request.scheme}://{request.host}", f"{public.scheme}://{public.raw_authority}"}
    if origin is not None and origin not in ours:
        return web.Response(status=403, text="Sign in from this server's own page.")
    form = await request.post()
    key = str(form.get("api_key", "")).strip()
    try:  # (the key first: a valid one always signs in; see web.limits.KeyFailures)
        who = await authenticate(services(request).deps, key)
    except Unauthorized:
        wait = request.config_dict[API_KEY_FAILURES].failed(client_address(request), key)
        if wait is not None:
            message = "Too many failed sign-ins; wait and try again."
            return page(request, "sign_in.html.j2", 429, signin_error=message)
        return page(request, "sign_in.html.j2", 401, signin_error="That API key is not valid.")
    trust(request)
    response = redirect(BASE + "/accounts")
    response.set_cookie(
        sessions.COOKIE,
        await start_session(services(request).deps, who),
        max_age=sessions.LIFETIME,
        path=BASE,
        httponly=True,
        samesite="Strict",
        secure=_secure_cookie(request),
    )
    return response


def _secure_cookie(request: web.Request) -> bool:
    """On the phones' listener, the public URL says whether browsers use HTTPS (a TLS proxy in
    front is invisible here); a separate management listener is reached as it serves."""
    settings = request.config_dict[SETTINGS]
    return request.secure if settings.admin_separate else settings.public_url.startswith("https:")


async def sign_out(request: web.Request) -> web.StreamResponse:
    """Ends the session on the server at once (a copy of the cookie no longer works)."""
    session = request.get(SESSION)
    if session is not None:
        await end_session(services(request).deps, session.cookie)
    response = redirect(BASE + "/")
    response.del_cookie(sessions.COOKIE, path=BASE)
    return response


# --- provider accounts --------------------------------------------------------------------
async def accounts(request: web.Request) -> web.StreamResponse:
    return await _accounts_page(request)


async def _accounts_page(
    request: web.Request, status: int = 200, error: AppError | None = None
) -> web.Response:
    return page(
        request,
        "accounts.html.j2",
        status,
        accounts=await listing(request, "provider-accounts.list"),
        edges=EDGES,
        provider_for=provider_for,
        **await error_context(request, error),
    )


async def account_action(request: web.Request) -> web.StreamResponse:
    pa = request.match_info.get("pa")
    allowed = (*ACCOUNT_ACTIONS, "provider-accounts.delete") if pa else ACCOUNT_ACTIONS
    try:
        done, _ = await call(request, allowed, pa)
    except AppError as exc:
        if pa:
            return await _account_edit_page(request, status_of(exc), exc)
        return await _accounts_page(request, status_of(exc), exc)
    return redirect(BASE + "/accounts", done)


async def account_edit(request: web.Request) -> web.StreamResponse:
    return await _account_edit_page(request)


async def _account_edit_page(
    request: web.Request, status: int = 200, error: AppError | None = None
) -> web.Response:
    account = await services(request).provider_accounts.get(
        Scope(actor(request)), request.match_info["pa"]
    )
    return page(
        request,
        "account_edit.html.j2",
        status,
        account=account,
        edges=EDGES,
        **await error_context(request, error),
    )


# --- account settings tabs ----------------------------------------------------------------
async def account_home(request: web.Request) -> web.StreamResponse:
    """An account opens on its first tab that applies (a Meta account: Phones)."""
    pa = request.match_info["pa"]
    account = await services(request).provider_accounts.get(Scope(actor(request)), pa)
    tab = _tabs_for(provider_for(account.provider), actor(request).role)[0]
    return redirect(f"{BASE}/accounts/{pa}/{tab.slug}")


def _tabs_for(provider: Provider, role: Role) -> list[Tab]:
    return [t for t in TABS if t.applies(provider) and role >= t.read_role]


async def tab_page(request: web.Request) -> web.StreamResponse:
    return await _tab_page(request)


async def tab_action(request: web.Request) -> web.StreamResponse:
    tab = _tab(request)
    try:
        done, result = await call(request, tab.actions, request.match_info["pa"])
    except AppError as exc:
        return await _tab_page(request, status_of(exc), exc)
    if tab.slug == "sync":  # the report after a repair or an import, with what it did
        return await _tab_page(request, report=result, done=done)
    query = {"new": result.id} if tab.slug == "provisioning" and hasattr(result, "id") else {}
    return redirect(f"{request.path}?{urlencode(query)}" if query else request.path, done)


async def reveal_password(request: web.Request) -> web.StreamResponse:
    """For the eye icon: JSON, admin only, audited by the service like the API's reveal (a SIP
    user's password, or the phones' admin password)."""
    scope = Scope(actor(request), request.match_info["pa"])
    try:
        if "id" in request.match_info:
            sv = services(request)
            password = (
                await sv.sip_users.reveal_password(scope, request.match_info["id"])
            ).password
        else:
            password = (
                await services(request).phone_settings.reveal_admin_password(scope)
            ).password
    except AppError as exc:
        return web.json_response({"error": exc.message}, status=status_of(exc), headers=NO_STORE)
    return web.json_response({"password": password}, headers=NO_STORE)


def _tab(request: web.Request) -> Tab:
    tab = TAB.get(request.match_info["tab"])
    if tab is None:
        raise web.HTTPNotFound()
    return tab


async def _tab_page(
    request: web.Request,
    status: int = 200,
    error: AppError | None = None,
    **extra: Any,
) -> web.Response:
    tab = _tab(request)
    pa = request.match_info["pa"]
    account = await services(request).provider_accounts.get(Scope(actor(request)), pa)
    provider = provider_for(account.provider)
    tabs = _tabs_for(provider, actor(request).role)
    if tab not in tabs:
        raise web.HTTPNotFound(text="this account has no such tab")
    context = await error_context(request, error)
    data: dict[str, Any] = {}
    try:
        data = await LOADERS[tab.slug](request, pa, context)
    except AppError as exc:
        context["error"] = context["error"] or exc.message
        status = status if status != 200 else status_of(exc)
    data.update(extra)
    return page(
        request,
        "account.html.j2",
        status,
        account=account,
        provider=provider,
        tab=tab,
        tabs=tabs,
        can_write=actor(request).role >= tab.write_role,
        suffix=provider.domain_for("", request.config_dict[SETTINGS].whippy_sip_suffix),
        new_url=request.query.get("new", ""),
        data=data,
        **context,
    )


Loader = Callable[[web.Request, str, dict[str, Any]], Awaitable[dict[str, Any]]]


async def _domains(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": await listing(request, "sip-domains.list", pa),
        "editing": await item_being_edited(request, "sip-domains", pa, context),
    }


async def _lists(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": await listing(request, "credential-lists.list", pa),
        "editing": await item_being_edited(request, "credential-lists", pa, context),
    }


async def _attachments(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "credential-attachments.list", pa)
    editing = await item_being_edited(request, "credential-attachments", pa, context)
    rows = [*found.items, *([editing] if editing else [])]
    refs = [("sip_domain", a.sip_domain_id) for a in rows]
    refs += [("credential_list", a.credential_list_id) for a in rows]
    return {
        "list": found,
        "editing": editing,
        "names": await names(request, refs),
        "domains": await first(request, "sip-domains.list", pa),
        "lists": await first(request, "credential-lists.list", pa),
    }


async def _sip_users(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "sip-users.list", pa)
    editing = await item_being_edited(request, "sip-users", pa, context)
    rows = [*found.items, *([editing] if editing else [])]
    refs = [("credential_list", s.credential_list_id) for s in rows]
    refs += [("user", s.user_id) for s in rows] + [("channel", s.channel_id) for s in rows]
    return {
        "list": found,
        "editing": editing,
        "names": await names(request, refs),
        "lists": await first(request, "credential-lists.list", pa),
        "users": await first(request, "users.list"),
        "channels": await first(request, "channels.list"),
    }


async def _extensions(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "sip-extensions.list", pa)
    editing = await item_being_edited(request, "sip-extensions", pa, context)
    rows = [*found.items, *([editing] if editing else [])]
    refs: list[tuple[str, str | None]] = [("user", e.owner_id) for e in rows]
    refs += [(e.target.type, getattr(e.target, "id", None)) for e in rows]
    sip_users = await first(request, "sip-users.list", pa)
    goes_to, _ = await services(request).routing.goes_to(
        Scope(actor(request), pa), [e.extension for e in found.items], []
    )
    return {
        "list": found,
        "editing": editing,
        "names": await names(request, refs),
        "goes_to": goes_to,
        "choices": {
            "sip_user": options(sip_users, text="username"),
            "sip_user_names": options(sip_users, "username", "username"),
            "agent": options(await first(request, "users.list")),
            "channel": options(await first(request, "channels.list")),
            "team": options(await first(request, "teams.list")),
            "queue": options(await first(request, "queues.list")),
        },
        **await _where(request, pa),
    }


async def _where(request: web.Request, pa: str) -> dict[str, Any]:
    """The "where does this go?" box: the route API's answer for ?dialled=&from=."""
    dialled, caller = request.query.get("dialled", ""), request.query.get("from", "")
    found: dict[str, Any] = {"dialled": dialled, "caller": caller, "route": None, "route_error": ""}
    if not dialled:
        return found
    try:
        query = RouteQuery.model_validate({"from": caller} if caller else {})
        found["route"] = await services(request).routing.route(
            Scope(actor(request), pa), dialled, query
        )
    except ValidationError:
        found["route_error"] = "That is not a SIP username."
    except AppError as exc:
        found["route_error"] = "; ".join([exc.message, *exc.fields.values()])
    return found


async def _provisioning(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "provisioning-urls.list", pa)
    scope = Scope(actor(request), pa)
    devices = await services(request).devices.of_urls(scope, [u.id for u in found.items])
    return {
        "list": found,
        "devices": devices,
        "names": await names(request, [("user", u.user_id) for u in found.items]),
        "users": await first(request, "users.list"),
        "vendors": VENDORS,
        "import_rows": extra_rows(request),
    }


def extra_rows(request: web.Request) -> Any:
    return request.get(bulk.IMPORT_ROWS)


async def _phones(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "phones.list", pa)
    _, inbound = await services(request).routing.goes_to(
        Scope(actor(request), pa), [], [p.phone_number for p in found.items]
    )
    data: dict[str, Any] = {
        "list": found,
        "inbound": inbound,  # where a call from outside goes (its channel's route)
        "editing": await item_being_edited(request, "phones", pa, context),
        "offers": None,
        "offers_error": "",
    }
    area_code = request.query.get("area_code")
    data["area_code"] = area_code or ""
    if area_code:  # the provider's answer, or its failure, shown in place
        try:
            query = acc.AvailableNumbersQuery.model_validate({"area_code": area_code})
            scope = Scope(actor(request), pa)
            data["offers"] = (await services(request).phones.available(scope, query)).items
        except ValidationError:
            data["offers_error"] = "An area code is three digits."
        except AppError as exc:
            data["offers_error"] = exc.message
    return data


async def _numbers(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"list": await listing(request, "number-inventory.list", pa)}


async def _sync(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    """The report is asked for (it calls the provider), not loaded with the tab."""
    if request.method == "GET" and request.query.get("check"):
        try:
            return {
                "report": await services(request).provider_sync.report(Scope(actor(request), pa))
            }
        except AppError as exc:
            return {"report": None, "report_error": exc.message}
    return {"report": None}


async def _phone_settings(request: web.Request, pa: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"settings": await services(request).phone_settings.read(Scope(actor(request), pa))}


LOADERS: dict[str, Loader] = {
    "domains": _domains,
    "credential-lists": _lists,
    "attachments": _attachments,
    "sip-users": _sip_users,
    "extensions": _extensions,
    "provisioning": _provisioning,
    "phones": _phones,
    "numbers": _numbers,
    "sync": _sync,
    "phone-settings": _phone_settings,
}


def add_routes(admin_app: web.Application) -> None:
    """On the admin pages' own application, mounted at ``BASE``."""
    r = admin_app.router
    r.add_get("", sign_in_form)
    r.add_get("/", sign_in_form)
    r.add_post("/sign-in", sign_in)
    r.add_post("/sign-out", sign_out)
    r.add_get("/accounts", accounts)
    r.add_post("/accounts", account_action)
    r.add_get("/accounts/{pa}", account_home)
    r.add_get("/accounts/{pa}/edit", account_edit)
    r.add_post("/accounts/{pa}/edit", account_action)
    r.add_post("/accounts/{pa}/sip-users/{id}/reveal", reveal_password)
    r.add_post("/accounts/{pa}/phone-settings/reveal", reveal_password)
    bulk.add_routes(r, tab_page=_tab_page)  # (before the tabs: /provisioning/import)
    r.add_get("/accounts/{pa}/{tab}", tab_page)
    r.add_post("/accounts/{pa}/{tab}", tab_action)
    org.add_routes(r)
    r.add_static("/static/", HERE / "static")
