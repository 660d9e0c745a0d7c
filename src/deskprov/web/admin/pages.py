"""What every admin page shares: rendering, the flash notice, running a form as its API
endpoint, lists paged through the API's own list endpoints, and names for ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from deskprov.appkeys import SERVICES
from deskprov.domain.roles import Actor, Role
from deskprov.errors import AppError, InUse
from deskprov.services.base import Scope
from deskprov.services.names import Named
from deskprov.services.registry import Services
from deskprov.web.admin import session as sessions
from deskprov.web.admin.forms import parse
from deskprov.web.api import ENDPOINTS, Endpoint
from deskprov.web.request import read_query

HERE = Path(__file__).parent
BASE = "/admin"
ACTOR = web.RequestKey("admin_actor", Actor)
SESSION = web.RequestKey("admin_session", sessions.Session)
FORM = web.RequestKey("admin_form", dict)
ENDPOINT = {e.name: e for e in ENDPOINTS}
FLASH = "deskprov_flash"
DONE = {
    "create": "Created.",
    "update": "Saved.",
    "delete": "Deleted.",
    "act": "Done.",
}
PAGE_SIZE = 50

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

# What a phone's last request says about its provisioning, in words an installer can act on.
REFUSALS = {
    "revoked": "its URL was revoked",
    "expired": "its URL has expired",
    "wrong_vendor": "its URL is for another phone type",
    "other_mac": "its URL belongs to another phone (bound to another MAC)",
    "mac_mismatch": "the MAC in the file name is not the phone's own",
    "no_mac": "it did not say its MAC",
}


def device_state(device: Any) -> tuple[str, str]:
    """(css class, words): served its config, failing and why, or never seen."""
    if device is None:
        return "never", "never seen: no phone has used this URL yet"
    result = device.last_result or ""
    if result in ("ok", "not_modified", "uploaded"):
        return "ok", "served its config"
    if result == "not_served":  # firmware, licences, extras: asked for after the config
        return "ok", f"served; last asked for {device.last_file}, which deskprov does not serve"
    if result.startswith("refused:"):
        reason = result.removeprefix("refused:")
        return "bad", "failing: " + REFUSALS.get(reason, reason.replace("_", " "))
    return "bad", result or "unknown"


def when(moment: str | None) -> str:
    """An ISO time as people read it (the page's script shows it in the reader's zone)."""
    if not moment:
        return "—"
    return moment.replace("T", " ")[:16] + " UTC"


templates.globals["device_state"] = device_state
templates.filters["when"] = when

# Pages hold secrets and act for a session: never cached, never framed, only our own scripts.
NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # (no-referrer would make browsers send Origin: null)
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
}


def services(request: web.Request) -> Services:
    return request.config_dict[SERVICES]


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    """A page; a notice left by the last redirect shows once (then its cookie is gone)."""
    session = request.get(SESSION)
    who = request.get(ACTOR)
    flash = request.cookies.get(FLASH, "") if status == 200 else ""
    context.setdefault("error", "")
    text = templates.get_template(name).render(
        base=BASE,
        here=request.path,
        actor=who,
        is_admin=who is not None and who.role >= Role.admin,
        csrf=sessions.csrf_token(session) if session else "",
        flash=flash if flash in DONE.values() else "",
        **context,
    )
    response = web.Response(text=text, status=status, content_type="text/html", headers=NO_STORE)
    if FLASH in request.cookies:
        response.del_cookie(FLASH, path=BASE)
    return response


def redirect(location: str, done: str = "") -> web.Response:
    """After a form: see the page again (303, so a reload does not post twice), with a notice
    for the next page only."""
    response = web.Response(status=303, headers={**NO_STORE, "Location": location})
    if done:
        response.set_cookie(FLASH, done, max_age=60, path=BASE, httponly=True, samesite="Strict")
    return response


async def call(request: web.Request, allowed: tuple[str, ...], pa: str | None) -> tuple[str, Any]:
    """Run the API endpoint a form names, with the form as its body: (notice, result)."""
    form = await request.post()
    name = str(form.get("_action", ""))
    if name not in allowed:
        raise web.HTTPBadRequest(text="unknown action")
    endpoint: Endpoint = ENDPOINT[name]
    body = parse(form, endpoint.body) if endpoint.body else None
    params = {"pa": pa or "", "id": str(form.get("_id", ""))}
    result = await endpoint.call(services(request), Scope(actor(request), pa), params, body, None)
    return DONE.get(name.rsplit(".", 1)[1], "Done."), result


# --- lists --------------------------------------------------------------------------------
@dataclass
class Listing:
    """One page of a list as the API serves it, and links to its neighbours and other sorts."""

    path: str
    query: dict[str, str]
    items: list[Any] = field(default_factory=list)
    next_cursor: str | None = None
    error: str = ""

    @property
    def q(self) -> str:
        return self.query.get("q", "")

    @property
    def sort(self) -> str:
        return self.query.get("sort", "")

    @property
    def paged(self) -> bool:
        return "cursor" in self.query

    def link(self, **changes: str | None) -> str:
        """This list's address with some parameters changed (a new search or sort starts
        again at its first page)."""
        query = dict(self.query)
        if "cursor" not in changes:
            query.pop("cursor", None)
        for key, value in changes.items():
            if value:
                query[key] = value
            else:
                query.pop(key, None)
        return self.path + ("?" + urlencode(query) if query else "")

    def sorted_by(self, key: str) -> str:
        """``ascending``/``descending`` when the list is sorted by ``key``, else ``none``."""
        if self.sort == key:
            return "ascending"
        return "descending" if self.sort == "-" + key else "none"

    def sort_link(self, key: str) -> str:
        return self.link(sort=("-" + key) if self.sort == key else key)


LIST_PARAMS = ("q", "sort", "cursor")


async def listing(request: web.Request, name: str, pa: str | None = None, **fixed: str) -> Listing:
    """A page of the API list ``name`` for the page's ``?q=&sort=&cursor=`` and the filters
    in ``fixed``; a bad query (an old cursor) is said on the list rather than failing the page."""
    endpoint = ENDPOINT[name]
    mine = {k: request.query[k] for k in LIST_PARAMS if request.query.get(k)}
    found = Listing(request.path, mine)
    try:
        query = _query(endpoint, {**mine, **fixed, "limit": str(PAGE_SIZE)})
        result = await endpoint.call(
            services(request), Scope(actor(request), pa), {"pa": pa or ""}, None, query
        )
    except AppError as exc:
        found.error = "; ".join([exc.message, *(exc.fields or {}).values()])
        return found
    found.items, found.next_cursor = list(result.items), result.next_cursor
    return found


def _query(endpoint: Endpoint, values: dict[str, str]) -> Any:
    """The endpoint's own query model, read as the API reads a query string."""
    assert endpoint.query is not None

    class _Request:  # read_query needs only .query
        query = values

    return read_query(_Request(), endpoint.query)  # type: ignore[arg-type]


async def first(
    request: web.Request, name: str, pa: str | None = None, **filters: str
) -> list[Any]:
    """The first page of a list (for a picker's first choices; typing searches the rest)."""
    endpoint = ENDPOINT[name]
    query = _query(endpoint, {"limit": str(PAGE_SIZE), **filters})
    try:
        result = await endpoint.call(
            services(request), Scope(actor(request), pa), {"pa": pa or ""}, None, query
        )
    except AppError:
        return []
    return list(result.items)


async def item_being_edited(
    request: web.Request, tag: str, pa: str | None, context: dict[str, Any]
) -> Any:
    """The item whose edit form is open: ``?edit=<id>``, or the one a refused update was for."""
    row_id = request.query.get("edit", "")
    if context["failed_action"] == f"{tag}.update":
        row_id = context["failed_id"]
    if not row_id:
        return None
    try:
        return await ENDPOINT[f"{tag}.get"].call(
            services(request), Scope(actor(request), pa), {"pa": pa or "", "id": row_id}, None, None
        )
    except AppError:
        return None


async def names(request: web.Request, refs: list[tuple[str, str | None]]) -> dict[str, Named]:
    return await services(request).names.of(actor(request), refs)


# --- a refused form -----------------------------------------------------------------------
async def error_context(request: web.Request, error: AppError | None) -> dict[str, Any]:
    """What the page shows of a refused form: the message, each field's problem next to the
    field, what still uses an item (by name, with a link), and what was typed and ticked
    (never a password)."""
    form = request.get(FORM, {})
    members: list[str] = []
    if error is not None and request.method == "POST":
        members = [
            v for v in (await request.post()).getall("member_ids", []) if isinstance(v, str) and v
        ]
    typed = {k: v for k, v in form.items() if "password" not in k and "auth_token" not in k}
    dependents: list[dict[str, str]] = []
    if isinstance(error, InUse):
        named = await names(request, [(d.type, d.id) for d in error.dependents])
        for d in error.dependents:
            n = named.get(d.id)
            dependents.append(
                {
                    "type": d.type.replace("_", " "),
                    "name": n.name if n else d.id,
                    "href": href_of(d.type, d.id, n.account_id if n else None),
                }
            )
    return {
        "error": error.message if error else "",
        "errors": dict(error.fields or {}) if error else {},
        "dependents": dependents,
        "failed_action": str(form.get("_action", "")) if error else "",
        "failed_id": str(form.get("_id", "")) if error else "",
        "typed": typed if error else {},
        "ticked": set(form) if error else set(),
        "typed_members": members,
    }


# Where each kind of item is shown (the edit form opens with ?edit=<id>).
WHERE = {
    "user": "users",
    "agent": "users",
    "channel": "channels",
    "team": "teams",
    "queue": "queues",
    "api_key": "api-keys",
}
WHERE_IN_ACCOUNT = {
    "sip_user": "sip-users",
    "sip_extension": "extensions",
    "provisioning_url": "provisioning",
    "credential_attachment": "attachments",
    "sip_domain": "domains",
    "credential_list": "credential-lists",
    "provider_phone": "phones",
}


def href_of(kind: str, row_id: str, account_id: str | None) -> str:
    if kind in WHERE:
        return f"{BASE}/{WHERE[kind]}?edit={row_id}#edit"
    if kind in WHERE_IN_ACCOUNT and account_id:
        return f"{BASE}/accounts/{account_id}/{WHERE_IN_ACCOUNT[kind]}#row-{row_id}"
    return ""
