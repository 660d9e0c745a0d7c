"""The admin pages: sign-in, provider accounts, and each account's settings tabs.

Every change goes through the management API's own endpoint table (``web.api.ENDPOINTS``): a
form names the endpoint it stands for, is parsed into that endpoint's body model and calls the
same service, so the pages cannot drift from the API's rules, roles or audit trail.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import segno
from aiohttp import web
from pydantic import ValidationError
from yarl import URL

from deskprov.appkeys import API_KEY_FAILURES, SERVICES, SETTINGS
from deskprov.domain.roles import Actor, Role
from deskprov.errors import AppError, Conflict, Forbidden, InUse, Unauthorized
from deskprov.providers.base import TWILIO_EDGES, provider_for
from deskprov.schemas import account as acc
from deskprov.schemas.common import PageQuery
from deskprov.schemas.routing import RouteQuery
from deskprov.services.base import Scope
from deskprov.services.organisation import authenticate
from deskprov.services.registry import Services
from deskprov.services.sessions import end_session, session_actor, start_session
from deskprov.web.admin import session as sessions
from deskprov.web.admin.forms import parse
from deskprov.web.api import ENDPOINTS, Endpoint, client_address
from deskprov.web.errors import status_of
from deskprov.web.server import trust

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
BASE = "/admin"
ACTOR = web.RequestKey("admin_actor", Actor)
SESSION = web.RequestKey("admin_session", sessions.Session)
FORM = web.RequestKey("admin_form", dict)
ENDPOINT = {e.name: e for e in ENDPOINTS}
ALL = PageQuery(limit=500)
PROVIDERS = ("twilio", "meta", "whippy_phone")
VENDORS = ("polycom", "yealink", "fanvil")
EDGES = [(e, e) for e in TWILIO_EDGES]


@dataclass(frozen=True)
class Tab:
    slug: str
    title: str
    actions: tuple[str, ...]  # the API endpoints this tab's forms may call
    write_role: Role = Role.admin  # who sees its forms (the services decide who may use them)


TABS = (
    Tab("domains", "Domains", ("sip-domains.create", "sip-domains.update", "sip-domains.delete")),
    Tab(
        "credential-lists",
        "Credential lists",
        ("credential-lists.create", "credential-lists.update", "credential-lists.delete"),
    ),
    Tab(
        "attachments",
        "Credential attachments",
        ("credential-attachments.create", "credential-attachments.delete"),
    ),
    Tab("sip-users", "SIP users", ("sip-users.create", "sip-users.update", "sip-users.delete")),
    Tab("extensions", "Extensions", ("sip-extensions.create", "sip-extensions.delete")),
    Tab(
        "provisioning",
        "Auto-provision",
        ("provisioning-urls.create", "provisioning-urls.delete"),
        Role.installer,
    ),
    Tab("phones", "Phones", ("phones.create", "phones.update", "phones.delete")),
)
TAB = {t.slug: t for t in TABS}
ACCOUNT_ACTIONS = ("provider-accounts.create", "provider-accounts.update")
DONE = {"create": "Created.", "update": "Saved.", "delete": "Deleted."}

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def options(items: list[Any], value: str = "id", text: str = "name") -> list[tuple[str, str]]:
    """(value, text) pairs for a select, from service views."""
    return [(getattr(i, value), getattr(i, text)) for i in items]


templates.globals["options"] = options


def page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    session = request.get(SESSION)
    actor = request.get(ACTOR)
    context.setdefault("flash", request.query.get("done", ""))
    text = templates.get_template(name).render(
        base=BASE,
        actor=actor,
        is_admin=actor is not None and actor.role >= Role.admin,
        csrf=sessions.csrf_token(session) if session else "",
        **context,
    )
    return web.Response(text=text, status=status, content_type="text/html", headers=NO_STORE)


# Pages hold secrets and act for a session: never cached, never framed, only our own scripts.
NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # (no-referrer would make browsers send Origin: null)
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}


def redirect(location: str) -> web.Response:
    """After a form: see the page again (303, so a reload does not post twice)."""
    return web.Response(status=303, headers={**NO_STORE, "Location": location})


def services(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


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
    return page(request, "sign_in.html.j2", error="")


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
        actor = await authenticate(services(request).deps, key)
    except Unauthorized:
        wait = request.config_dict[API_KEY_FAILURES].failed(client_address(request), key)
        if wait is not None:
            message = "Too many failed sign-ins; wait and try again."
            return page(request, "sign_in.html.j2", 429, error=message)
        return page(request, "sign_in.html.j2", 401, error="That API key is not valid.")
    trust(request)
    response = redirect(BASE + "/accounts")
    response.set_cookie(
        sessions.COOKIE,
        await start_session(services(request).deps, actor),
        max_age=sessions.LIFETIME,
        path=BASE,
        httponly=True,
        samesite="Strict",
        secure=request.config_dict[SETTINGS].public_url.startswith("https:"),
    )
    return response


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
    scope = Scope(request[ACTOR])
    listed = await services(request).provider_accounts.list(scope, ALL)
    return page(
        request,
        "accounts.html.j2",
        status,
        accounts=listed.items,
        providers=PROVIDERS,
        edges=EDGES,
        **_error_context(request, error),
    )


async def account_action(request: web.Request) -> web.StreamResponse:
    pa = request.match_info.get("pa")
    try:
        await _call(request, ACCOUNT_ACTIONS, pa)
    except AppError as exc:
        if pa:
            return await _account_edit_page(request, status_of(exc), exc)
        return await _accounts_page(request, status_of(exc), exc)
    return redirect(BASE + "/accounts?" + urlencode({"done": "Saved."}))


async def account_edit(request: web.Request) -> web.StreamResponse:
    return await _account_edit_page(request)


async def _account_edit_page(
    request: web.Request, status: int = 200, error: AppError | None = None
) -> web.Response:
    account = await services(request).provider_accounts.get(
        Scope(request[ACTOR]), request.match_info["pa"]
    )
    return page(
        request,
        "account_edit.html.j2",
        status,
        account=account,
        edges=EDGES,
        **_error_context(request, error),
    )


# --- account settings tabs ----------------------------------------------------------------
async def tab_page(request: web.Request) -> web.StreamResponse:
    return await _tab_page(request)


async def tab_action(request: web.Request) -> web.StreamResponse:
    tab = _tab(request)
    try:
        done = await _call(request, tab.actions, request.match_info["pa"])
    except AppError as exc:
        return await _tab_page(request, status_of(exc), exc)
    return redirect(f"{request.path}?{urlencode(done)}")


async def reveal_password(request: web.Request) -> web.StreamResponse:
    """For the eye icon: JSON, admin only, audited by the service like the API's reveal."""
    scope = Scope(request[ACTOR], request.match_info["pa"])
    try:
        revealed = await services(request).sip_users.reveal_password(
            scope, request.match_info["id"]
        )
    except AppError as exc:
        return web.json_response({"error": exc.message}, status=status_of(exc), headers=NO_STORE)
    return web.json_response({"password": revealed.password}, headers=NO_STORE)


async def install_sheet(request: web.Request) -> web.StreamResponse:
    scope = Scope(request[ACTOR], request.match_info["pa"])
    sv = services(request)
    url = await sv.provisioning_urls.get(scope, request.match_info["id"])
    if url.url is None and url.url_unavailable:
        raise Conflict("this URL no longer works: its signing key was retired")
    if url.url is None:
        raise Forbidden("installers and admins see provisioning URLs; this key is a viewer")
    user = await sv.users.get(scope, url.user_id)
    account = await sv.provider_accounts.get(scope, request.match_info["pa"])
    qr = segno.make(url.url, error="m").svg_inline(scale=5, border=2)
    return page(request, "sheet.html.j2", url=url, user=user, account=account, qr=qr)


def _tab(request: web.Request) -> Tab:
    tab = TAB.get(request.match_info["tab"])
    if tab is None:
        raise web.HTTPNotFound()
    return tab


async def _call(request: web.Request, allowed: tuple[str, ...], pa: str | None) -> dict[str, str]:
    """Run the API endpoint a form names, with the form as its body; the notice to show."""
    form = await request.post()
    name = str(form.get("_action", ""))
    if name not in allowed:
        raise web.HTTPBadRequest(text="unknown action")
    endpoint: Endpoint = ENDPOINT[name]
    body = parse(form, endpoint.body) if endpoint.body else None
    params = {"pa": pa or "", "id": str(form.get("_id", ""))}
    result = await endpoint.call(services(request), Scope(request[ACTOR], pa), params, body, None)
    done = {"done": DONE[name.rsplit(".", 1)[1]]}
    if name == "provisioning-urls.create":
        done["new"] = result.id
    return done


def _error_context(request: web.Request, error: AppError | None) -> dict[str, Any]:
    """What the page shows of a refused form: the message, each field's problem next to the
    field, what still uses an item, and the values typed (never a password)."""
    form = request.get(FORM, {})
    typed = {k: v for k, v in form.items() if "password" not in k}
    return {
        "error": error.message if error else "",
        "errors": dict(error.fields or {}) if error else {},
        "dependents": error.dependents if isinstance(error, InUse) else [],
        "failed_action": str(form.get("_action", "")) if error else "",
        "failed_id": str(form.get("_id", "")) if error else "",
        "typed": typed if error else {},
    }


async def _tab_page(
    request: web.Request, status: int = 200, error: AppError | None = None
) -> web.Response:
    tab = _tab(request)
    pa = request.match_info["pa"]
    sv = services(request)
    top = Scope(request[ACTOR])
    scope = Scope(request[ACTOR], pa)
    account = await sv.provider_accounts.get(top, pa)
    provider = provider_for(account.provider)
    data: dict[str, Any] = {}
    try:
        data = await LOADERS[tab.slug](sv, scope, request)
    except AppError as exc:  # e.g. a provider without SIP, a viewer on a secret-only list
        error = error or exc
        status = status if status != 200 else status_of(exc)
    return page(
        request,
        "account.html.j2",
        status,
        account=account,
        provider=provider,
        tab=tab,
        tabs=TABS,
        can_write=request[ACTOR].role >= tab.write_role,
        suffix=provider.domain_for("", request.config_dict[SETTINGS].whippy_sip_suffix),
        new_url=request.query.get("new", ""),
        data=data,
        **_error_context(request, error),
    )


# What each tab shows, loaded through the services (names for the ids the rows hold).
async def _domains(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    return {"domains": (await sv.sip_domains.list(scope, ALL)).items}


async def _lists(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    return {"lists": (await sv.credential_lists.list(scope, ALL)).items}


async def _attachments(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    return {
        "attachments": (await sv.credential_attachments.list(scope, ALL)).items,
        **await _domains(sv, scope, request),
        **await _lists(sv, scope, request),
    }


async def _people(sv: Services, scope: Scope) -> dict[str, Any]:
    top = Scope(scope.actor)
    return {
        "users": (await sv.users.list(top, ALL)).items,
        "channels": (await sv.channels.list(top, ALL)).items,
    }


async def _sip_users(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    return {
        "sip_users": (await sv.sip_users.list(scope, ALL)).items,
        **await _lists(sv, scope, request),
        **await _people(sv, scope),
    }


async def _extensions(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    top = Scope(scope.actor)
    return {
        "extensions": (await sv.sip_extensions.list(scope, ALL)).items,
        "sip_users": (await sv.sip_users.list(scope, ALL)).items,
        "teams": (await sv.teams.list(top, ALL)).items,
        "queues": (await sv.queues.list(top, ALL)).items,
        **await _people(sv, scope),
        **await _where(sv, scope, request),
    }


async def _where(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    """The "where does this go?" box: the route API's answer for ?dialled=&from=."""
    dialled, caller = request.query.get("dialled", ""), request.query.get("from", "")
    found: dict[str, Any] = {"dialled": dialled, "caller": caller, "route": None, "route_error": ""}
    if not dialled:
        return found
    try:
        query = RouteQuery.model_validate({"from": caller} if caller else {})
        found["route"] = await sv.routing.route(scope, dialled, query)
    except ValidationError:
        found["route_error"] = "That is not a SIP username."
    except AppError as exc:
        found["route_error"] = "; ".join([exc.message, *exc.fields.values()])
    return found


async def _provisioning(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    urls = (await sv.provisioning_urls.list(scope, ALL)).items
    ids = {u.id for u in urls}
    devices = [
        d
        for d in (await sv.devices.list(Scope(scope.actor), ALL)).items
        if d.provisioning_url_id in ids
    ]
    return {
        "urls": urls,
        "devices": devices,
        "vendors": VENDORS,
        **await _people(sv, scope),
    }


async def _phones(sv: Services, scope: Scope, request: web.Request) -> dict[str, Any]:
    data: dict[str, Any] = {"phones": (await sv.phones.list(scope, ALL)).items, "offers": None}
    area_code = request.query.get("area_code")
    data["area_code"] = area_code or ""
    if area_code:
        query = acc.AvailableNumbersQuery.model_validate({"area_code": area_code})
        data["offers"] = (await sv.phones.available(scope, query)).items
    return data


LOADERS: dict[str, Callable[[Services, Scope, web.Request], Awaitable[dict[str, Any]]]] = {
    "domains": _domains,
    "credential-lists": _lists,
    "attachments": _attachments,
    "sip-users": _sip_users,
    "extensions": _extensions,
    "provisioning": _provisioning,
    "phones": _phones,
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
    r.add_get("/accounts/{pa}/edit", account_edit)
    r.add_post("/accounts/{pa}/edit", account_action)
    r.add_post("/accounts/{pa}/sip-users/{id}/reveal", reveal_password)
    r.add_get("/accounts/{pa}/provisioning/{id}/sheet", install_sheet)
    r.add_get("/accounts/{pa}/{tab}", tab_page)
    r.add_post("/accounts/{pa}/{tab}", tab_action)
    r.add_static("/static/", HERE / "static")
