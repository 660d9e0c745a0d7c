"""Organisation settings: users, channels (and their route), teams and queues (and their
members), API keys, every device of the organisation, the audit log; and the pickers' search.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from deskprov.domain.roles import Role
from deskprov.errors import AppError, NotFound
from deskprov.web.admin.pages import (
    BASE,
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
)
from deskprov.web.errors import status_of

Loader = Callable[[web.Request, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class OrgPage:
    slug: str
    title: str
    tag: str  # the API collection it shows
    read_role: Role = Role.viewer
    write_role: Role = Role.admin
    writes: bool = True


PAGES = (
    OrgPage("users", "Users", "users"),
    OrgPage("channels", "Channels", "channels"),
    OrgPage("teams", "Teams", "teams"),
    OrgPage("queues", "Queues", "queues"),
    OrgPage("devices", "Devices", "devices", writes=False),
    OrgPage("api-keys", "API keys", "api-keys", read_role=Role.admin),
    OrgPage("audit", "Audit log", "audit-events", read_role=Role.installer, writes=False),
)
PAGE = {p.slug: p for p in PAGES}


def _page_of(request: web.Request) -> OrgPage:
    found = PAGE.get(request.match_info["page"])
    if found is None or actor(request).role < found.read_role:
        raise NotFound("there is no such page for this key")
    return found


async def org_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


async def org_action(request: web.Request) -> web.StreamResponse:
    here = _page_of(request)
    if not here.writes:
        raise web.HTTPMethodNotAllowed("POST", ["GET"])
    actions = tuple(f"{here.tag}.{verb}" for verb in ("create", "update", "delete"))
    try:
        done, result = await call(request, actions, None)
    except AppError as exc:
        return await _render(request, status_of(exc), exc)
    if here.slug == "api-keys" and hasattr(result, "key"):  # shown once, on this answer only
        return await _render(request, created_key=result)
    return redirect(request.path, done)


async def _render(
    request: web.Request, status: int = 200, error: AppError | None = None, **extra: Any
) -> web.Response:
    here = _page_of(request)
    context = await error_context(request, error)
    data = await LOADERS[here.slug](request, context)
    data.update(extra)
    return page(
        request,
        f"org_{here.slug}.html.j2",
        status,
        current=here,
        pages=[p for p in PAGES if actor(request).role >= p.read_role],
        can_write=actor(request).role >= here.write_role,
        data=data,
        **context,
    )


async def _users(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": await listing(request, "users.list"),
        "editing": await item_being_edited(request, "users", None, context),
    }


async def _choices(request: web.Request) -> dict[str, Any]:
    """First choices of the pickers a channel's route needs."""
    return {
        "sip_user": await sip_user_choices(request, ""),
        "agent": options(await first(request, "users.list")),
        "team": options(await first(request, "teams.list")),
        "queue": options(await first(request, "queues.list")),
    }


async def sip_user_choices(request: web.Request, text: str) -> list[tuple[str, str]]:
    """SIP users of every account that has them, as (id, "username (account)")."""
    found: list[tuple[str, str]] = []
    for account in await first(request, "provider-accounts.list"):
        filters = {"q": text} if text else {}
        listed = await first(request, "sip-users.list", account.id, **filters)  # [] without SIP
        found += [(s.id, f"{s.username} ({account.name})") for s in listed[:20]]
    return found[:50]


async def _channels(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    found = await listing(request, "channels.list")
    editing = await item_being_edited(request, "channels", None, context)
    rows = [*found.items, *([editing] if editing else [])]
    refs = [(c.route.type, c.route.id) for c in rows if c.route]
    return {
        "list": found,
        "editing": editing,
        "names": await names(request, refs),
        "choices": await _choices(request),
    }


async def _groups(request: web.Request, context: dict[str, Any], tag: str) -> dict[str, Any]:
    found = await listing(request, f"{tag}.list")
    editing = await item_being_edited(request, tag, None, context)
    rows = [*found.items, *([editing] if editing else [])]
    refs: list[tuple[str, str | None]] = [("user", m) for g in rows for m in g.member_ids]
    return {
        "list": found,
        "editing": editing,
        "names": await names(request, refs),
        "users": await first(request, "users.list"),
    }


async def _teams(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    return await _groups(request, context, "teams")


async def _queues(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    return await _groups(request, context, "queues")


async def _api_keys(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "list": await listing(request, "api-keys.list"),
        "editing": await item_being_edited(request, "api-keys", None, context),
        "created_key": None,
    }


async def _devices(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    fixed = {
        k: request.query[k] for k in ("provider_account_id", "user_id") if request.query.get(k)
    }
    found = await listing(request, "devices.list", **fixed)
    for key, value in fixed.items():
        found.query[key] = value
    refs: list[tuple[str, str | None]] = [("user", d.user_id) for d in found.items]
    refs += [("provisioning_url", d.provisioning_url_id) for d in found.items]
    refs += [("provider_account", v) for k, v in fixed.items() if k == "provider_account_id"]
    every = request.query.get("every", "")
    seconds = min(max(int(every), 2), 300) if every.isdigit() else 15
    return {"list": found, "names": await names(request, refs), "fixed": fixed, "every": seconds}


AUDIT_FILTERS = ("actor", "action", "target_type", "target_id")


async def _audit(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    fixed = {k: request.query[k].strip() for k in AUDIT_FILTERS if request.query.get(k, "").strip()}
    if not request.query.get("sort"):
        fixed["sort"] = "-at"  # newest first unless asked otherwise
    found = await listing(request, "audit-events.list", **fixed)
    for key, value in fixed.items():
        found.query.setdefault(key, value)
    refs = [(e.target_type, e.target_id) for e in found.items]
    refs += [("api_key", e.actor) for e in found.items if e.actor.startswith("ak_")]
    return {"list": found, "names": await names(request, refs), "fixed": fixed}


LOADERS: dict[str, Loader] = {
    "users": _users,
    "channels": _channels,
    "teams": _teams,
    "queues": _queues,
    "api-keys": _api_keys,
    "devices": _devices,
    "audit": _audit,
}


# --- pickers ------------------------------------------------------------------------------
PICKS: dict[str, tuple[str, str, bool]] = {
    # kind: (API list, the field shown, whether it lives in an account)
    "users": ("users.list", "name", False),
    "channels": ("channels.list", "name", False),
    "teams": ("teams.list", "name", False),
    "queues": ("queues.list", "name", False),
    "credential-lists": ("credential-lists.list", "name", True),
    "sip-domains": ("sip-domains.list", "domain", True),
}


async def pick(request: web.Request) -> web.StreamResponse:
    """A picker's search: ``[{"id", "text"}]`` for what matches ``?q=`` (20 at most)."""
    kind, text = request.match_info["kind"], request.query.get("q", "").strip()[:100]
    pa = request.query.get("pa") or None
    try:
        if kind == "sip-users":
            if pa is None:
                return web.json_response(
                    [{"id": i, "text": t} for i, t in await sip_user_choices(request, text)]
                )
            found = await first(request, "sip-users.list", pa, **({"q": text} if text else {}))
            return web.json_response([{"id": s.id, "text": s.username} for s in found[:20]])
        if kind not in PICKS:
            raise web.HTTPNotFound()
        name, shown, in_account = PICKS[kind]
        filters = {"q": text} if text else {}
        found = await first(request, name, pa if in_account else None, **filters)
    except AppError as exc:
        return web.json_response({"error": exc.message}, status=status_of(exc))
    label = "email" if kind == "users" else None
    return web.json_response(
        [
            {
                "id": i.id,
                "text": getattr(i, shown) + (f" <{getattr(i, label)}>" if label else ""),
            }
            for i in found[:20]
        ]
    )


def add_routes(r: web.UrlDispatcher) -> None:
    r.add_get("/pick/{kind}", pick)
    r.add_get("/{page}", org_page)
    r.add_post("/{page}", org_action)


__all__ = ["BASE", "add_routes"]
