"""The management API: endpoints declared once, served by aiohttp and described by OpenAPI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from deskprov.appkeys import API_KEY_FAILURES, CLIENTS, SERVICES
from deskprov.domain.roles import Actor
from deskprov.errors import RateLimited, Unauthorized
from deskprov.schemas import account as acc
from deskprov.schemas import organisation as org
from deskprov.schemas import phone_settings as ps
from deskprov.schemas import provisioning as prov
from deskprov.schemas import routing
from deskprov.schemas.common import ListQuery, Page
from deskprov.services.base import Collection, Scope
from deskprov.services.organisation import authenticate
from deskprov.services.registry import Services
from deskprov.web.request import read_body, read_query
from deskprov.web.server import trust

PREFIX = "/api/v1"
ACTOR = web.RequestKey("actor", Actor)

Call = Callable[[Services, Scope, dict[str, str], Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # below PREFIX, aiohttp syntax: /users/{id}
    name: str
    summary: str
    call: Call
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200


def collection_endpoints(
    tag: str,
    path: str,
    pick: Callable[[Services], Collection[Any, Any]],
    view: type[BaseModel],
    create: type[BaseModel] | None = None,
    update: type[BaseModel] | None = None,
    created: type[BaseModel] | None = None,
    deletable: bool = True,
    query: type[BaseModel] = ListQuery,
) -> list[Endpoint]:
    """The list/create/read/update/delete endpoints of one collection."""
    item = path + "/{id}"
    label = tag.rstrip("s").replace("-", " ")
    endpoints = [
        Endpoint(
            "GET",
            path,
            f"{tag}.list",
            f"List {tag.replace('-', ' ')}",
            lambda sv, sc, p, b, q: pick(sv).list(sc, q),
            tag,
            query=query,
            response=Page[view],  # type: ignore[valid-type]
        ),
        Endpoint(
            "GET",
            item,
            f"{tag}.get",
            f"Read a {label}",
            lambda sv, sc, p, b, q: pick(sv).get(sc, p["id"]),
            tag,
            response=view,
        ),
    ]
    if create is not None:
        endpoints.append(
            Endpoint(
                "POST",
                path,
                f"{tag}.create",
                f"Create a {label}",
                lambda sv, sc, p, b, q: pick(sv).create(sc, b),  # type: ignore[attr-defined]
                tag,
                body=create,
                response=created or view,
                status=201,
            )
        )
    if update is not None:
        endpoints.append(
            Endpoint(
                "PATCH",
                item,
                f"{tag}.update",
                f"Change a {label}",
                lambda sv, sc, p, b, q: pick(sv).update(sc, p["id"], b),  # type: ignore[attr-defined]
                tag,
                body=update,
                response=view,
            )
        )
    if deletable:
        endpoints.append(
            Endpoint(
                "DELETE",
                item,
                f"{tag}.delete",
                f"Delete a {label}",
                lambda sv, sc, p, b, q: pick(sv).delete(sc, p["id"]),
                tag,
                status=204,
            )
        )
    return endpoints


ACCOUNT = "/provider-accounts/{pa}"

ENDPOINTS: list[Endpoint] = [
    *collection_endpoints(
        "api-keys",
        "/api-keys",
        lambda s: s.api_keys,
        org.ApiKeyView,
        org.ApiKeyCreate,
        org.ApiKeyUpdate,
        created=org.ApiKeyCreated,
    ),
    *collection_endpoints(
        "users",
        "/users",
        lambda s: s.users,
        org.UserView,
        org.UserCreate,
        org.UserUpdate,
        query=org.UserQuery,
    ),
    *collection_endpoints(
        "channels",
        "/channels",
        lambda s: s.channels,
        org.ChannelView,
        org.ChannelCreate,
        org.ChannelUpdate,
    ),
    *collection_endpoints(
        "teams", "/teams", lambda s: s.teams, org.GroupView, org.GroupCreate, org.GroupUpdate
    ),
    *collection_endpoints(
        "queues", "/queues", lambda s: s.queues, org.QueueView, org.QueueCreate, org.QueueUpdate
    ),
    *collection_endpoints(
        "provider-accounts",
        "/provider-accounts",
        lambda s: s.provider_accounts,
        org.ProviderAccountView,
        org.ProviderAccountCreate,
        org.ProviderAccountUpdate,
    ),
    *collection_endpoints(
        "sip-domains",
        ACCOUNT + "/sip-domains",
        lambda s: s.sip_domains,
        acc.SipDomainView,
        acc.SipDomainCreate,
        acc.SipDomainUpdate,
    ),
    *collection_endpoints(
        "credential-lists",
        ACCOUNT + "/credential-lists",
        lambda s: s.credential_lists,
        acc.CredentialListView,
        acc.CredentialListCreate,
        acc.CredentialListUpdate,
    ),
    *collection_endpoints(
        "credential-attachments",
        ACCOUNT + "/credential-attachments",
        lambda s: s.credential_attachments,
        acc.CredentialAttachmentView,
        acc.CredentialAttachmentCreate,
        acc.CredentialAttachmentUpdate,
    ),
    *collection_endpoints(
        "sip-users",
        ACCOUNT + "/sip-users",
        lambda s: s.sip_users,
        acc.SipUserView,
        acc.SipUserCreate,
        acc.SipUserUpdate,
        query=acc.SipUserQuery,
    ),
    Endpoint(
        "POST",
        ACCOUNT + "/sip-users/{id}/reveal-password",
        "sip-users.reveal-password",
        "Reveal a SIP user's password (admin only, audited)",
        lambda sv, sc, p, b, q: sv.sip_users.reveal_password(sc, p["id"]),
        "sip-users",
        response=acc.RevealedPassword,
    ),
    *collection_endpoints(
        "sip-extensions",
        ACCOUNT + "/sip-extensions",
        lambda s: s.sip_extensions,
        acc.SipExtensionView,
        acc.SipExtensionCreate,
        acc.SipExtensionUpdate,
    ),
    *collection_endpoints(
        "phones",
        ACCOUNT + "/phones",
        lambda s: s.phones,
        acc.PhoneView,
        acc.PhoneCreate,
        acc.PhoneUpdate,
    ),
    Endpoint(
        "GET",
        ACCOUNT + "/available-phone-numbers",
        "available-phone-numbers.list",
        "Search the provider for numbers to buy",
        lambda sv, sc, p, b, q: sv.phones.available(sc, q),
        "phones",
        query=acc.AvailableNumbersQuery,
        response=acc.AvailableNumbers,
    ),
    *collection_endpoints(
        "number-inventory",
        ACCOUNT + "/number-inventory",
        lambda s: s.number_inventory,
        acc.InventoryNumberView,
        acc.InventoryCreate,
        created=acc.InventoryCreated,
    ),
    Endpoint(
        "GET",
        ACCOUNT + "/provider-sync",
        "provider-sync.report",
        "Compare deskprov's SIP objects with the provider's (admin only)",
        lambda sv, sc, p, b, q: sv.provider_sync.report(sc),
        "provider-sync",
        response=acc.ProviderSyncReport,
    ),
    Endpoint(
        "POST",
        ACCOUNT + "/provider-sync",
        "provider-sync.act",
        "Make the provider match deskprov (repair) or take in what only it has (import)",
        lambda sv, sc, p, b, q: sv.provider_sync.act(sc, b),
        "provider-sync",
        body=acc.ProviderSyncAction,
        response=acc.ProviderSyncReport,
    ),
    *collection_endpoints(
        "provisioning-urls",
        ACCOUNT + "/provisioning-urls",
        lambda s: s.provisioning_urls,
        prov.ProvisioningUrlView,
        prov.ProvisioningUrlCreate,
        query=prov.ProvisioningUrlQuery,
    ),
    Endpoint(
        "GET",
        ACCOUNT + "/provisioning-urls/{id}/preview",
        "provisioning-urls.preview",
        "The exact file a phone would get (passwords masked unless reveal=true, admin, audited)",
        lambda sv, sc, p, b, q: sv.provisioning_urls.preview(sc, p["id"], q),
        "provisioning-urls",
        query=prov.PreviewQuery,
        response=prov.PreviewView,
    ),
    Endpoint(
        "GET",
        ACCOUNT + "/routes/{dialled}",
        "routes.get",
        "What a call from a SIP user (from=) to an extension, SIP username or number reaches",
        lambda sv, sc, p, b, q: sv.routing.route(sc, p["dialled"], q),
        "routes",
        query=routing.RouteQuery,
        response=routing.RouteView,
    ),
    Endpoint(
        "GET",
        ACCOUNT + "/phone-settings",
        "phone-settings.get",
        "Read the phone settings of a provider account (defaults when none were set)",
        lambda sv, sc, p, b, q: sv.phone_settings.read(sc),
        "phone-settings",
        response=ps.PhoneSettingsView,
    ),
    Endpoint(
        "PATCH",
        ACCOUNT + "/phone-settings",
        "phone-settings.update",
        "Change phone settings (null puts a field back to its default); phones get them on "
        "their next fetch",
        lambda sv, sc, p, b, q: sv.phone_settings.change(sc, b),
        "phone-settings",
        body=ps.PhoneSettingsUpdate,
        response=ps.PhoneSettingsView,
    ),
    Endpoint(
        "POST",
        ACCOUNT + "/phone-settings/reveal-admin-password",
        "phone-settings.reveal-admin-password",
        "Reveal the phones' admin password (admin only, audited; generated on first use)",
        lambda sv, sc, p, b, q: sv.phone_settings.reveal_admin_password(sc),
        "phone-settings",
        response=ps.AdminPassword,
    ),
    Endpoint(
        "POST",
        ACCOUNT + "/phone-settings/rotate-admin-password",
        "phone-settings.rotate-admin-password",
        "Give the phones a new admin password (admin only, audited)",
        lambda sv, sc, p, b, q: sv.phone_settings.rotate_admin_password(sc),
        "phone-settings",
        response=ps.PhoneSettingsView,
    ),
    *collection_endpoints(
        "devices",
        "/devices",
        lambda s: s.devices,
        org.DeviceView,
        deletable=False,
        query=org.DeviceQuery,
    ),
    *collection_endpoints(
        "audit-events",
        "/audit-events",
        lambda s: s.audit_events,
        org.AuditEventView,
        deletable=False,
        query=org.AuditQuery,
    ),
]


def _handler(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        actor: Actor = request[ACTOR]
        params = dict(request.match_info)
        scope = Scope(actor=actor, account_id=params.get("pa"))
        body = await read_body(request, endpoint.body) if endpoint.body else None
        query = read_query(request, endpoint.query or _NoQuery)
        result = await endpoint.call(request.config_dict[SERVICES], scope, params, body, query)
        if endpoint.status == 204:
            return web.Response(status=204)
        response = web.json_response(result.model_dump(mode="json"), status=endpoint.status)
        if endpoint.status == 201:
            new_id = getattr(result, "id", None)
            response.headers["Location"] = f"{request.path}/{new_id}" if new_id else request.path
        return response

    handle.__name__ = endpoint.name
    return handle


class _NoQuery(BaseModel):
    model_config = {"extra": "forbid"}


def client_address(request: web.Request) -> str:
    return request.config_dict[CLIENTS].of(request)


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Bearer API keys for the management API. The key is checked first: a valid one always
    passes; failures are limited per address and per key prefix (``KeyFailures``)."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    try:
        if scheme.lower() != "bearer" or not key:
            raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
        request[ACTOR] = await authenticate(request.config_dict[SERVICES].deps, key)
    except Unauthorized:
        wait = request.config_dict[API_KEY_FAILURES].failed(client_address(request), key)
        if wait is not None:
            raise RateLimited("too many failed API-key attempts", wait) from None
        raise
    trust(request)
    return await handler(request)


def add_routes(api_app: web.Application) -> None:
    """On the management API's own application, mounted at ``PREFIX``."""
    for endpoint in ENDPOINTS:
        api_app.router.add_route(
            endpoint.method, endpoint.path, _handler(endpoint), name=endpoint.name
        )
