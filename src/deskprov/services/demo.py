"""``deskprov demo``: an organisation with one phone of each vendor ready to fetch its files."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from deskprov.db.models import Organisation, ProvisioningUrl
from deskprov.domain.roles import Actor, Role
from deskprov.schemas import account as acc
from deskprov.schemas import organisation as org
from deskprov.schemas import provisioning as prov
from deskprov.services.base import Scope
from deskprov.services.organisation import create_organisation
from deskprov.services.registry import Services

DEMO_NAME = "deskprov demo"
SIP_PREFIX = "demo"  # its whippy_phone domain: demo.sip.<DESKPROV_WHIPPY_SIP_SUFFIX>

# What each vendor's phone sends: a user agent and the files of its boot sequence.
PHONES = {
    "polycom": (
        "FileTransport PolycomVVX-VVX_400-UA/6.4.3.5018 Type/Application",
        "0004f2000001",
        ["0004f2000001.cfg", "0004f2000001-deskprov.cfg"],
    ),
    "yealink": (
        "Yealink SIP-T46S 66.86.0.15 80:5e:c0:00:00:02",
        "805ec0000002",
        ["y000000000066.cfg", "805ec0000002.cfg"],
    ),
    "fanvil": ("Fanvil X4U 2.12.1 0c383e000003", "0c383e000003", ["0c383e000003.cfg"]),
}


@dataclass(frozen=True)
class DemoUrl:
    vendor: str
    url: str
    user_agent: str
    files: list[str]

    def curl(self) -> str:
        urls = " ".join(f"'{self.url}{name}'" for name in self.files)
        return f"curl -s -A '{self.user_agent}' {urls}"

    def revalidate(self) -> list[str]:
        """Shell lines: fetch the last file for its ETag, then ask again with it (304)."""
        url, agent = f"'{self.url}{self.files[-1]}'", f"-A '{self.user_agent}'"
        pick = "awk 'tolower($1) == \"etag:\" {print $2}' | tr -d '\\r'"
        return [
            f"etag=$(curl -s -o /dev/null -D - {agent} {url} | {pick})",
            f"curl -s -o /dev/null -w '%{{http_code}}\\n' {agent} "
            f'-H "If-None-Match: $etag" {url}',
        ]


@dataclass(frozen=True)
class Demo:
    organisation_id: str
    api_key: str | None  # only when the organisation was created now
    urls: list[DemoUrl]
    account_id: str | None = None


async def demo(services: Services) -> Demo:
    deps = services.deps
    async with deps.db.read() as s:
        org_id = await s.scalar(select(Organisation.id).where(Organisation.name == DEMO_NAME))
    api_key = None
    if org_id is None:
        created = await create_organisation(deps, DEMO_NAME)
        org_id, api_key = created.organisation_id, created.api_key
        await _populate(services, Actor(org_id=org_id, key_id="cli", role=Role.admin))
    actor = Actor(org_id=org_id, key_id="cli", role=Role.admin)
    async with deps.db.read() as s:
        rows = (
            await s.scalars(
                select(ProvisioningUrl)
                .where(ProvisioningUrl.org_id == org_id, ProvisioningUrl.revoked_at.is_(None))
                .order_by(ProvisioningUrl.created_at)
            )
        ).all()
    urls = []
    for row in rows:
        view = await services.provisioning_urls.get(Scope(actor, row.account_id), row.id)
        agent, _, files = PHONES[row.vendor]
        assert view.url is not None
        urls.append(DemoUrl(row.vendor, view.url, agent, files))
    return Demo(org_id, api_key, urls, rows[0].account_id if rows else None)


async def _populate(sv: Services, actor: Actor) -> None:
    top = Scope(actor)
    alice = await sv.users.create(
        top, org.UserCreate(name="Alice Example", email="alice@demo.example")
    )
    bob = await sv.users.create(top, org.UserCreate(name="Bob Example", email="bob@demo.example"))
    queue = await sv.queues.create(
        top,
        org.QueueCreate(
            name="Support", extension="600", member_ids=[alice.id, bob.id], strategy="sequential"
        ),
    )
    team = await sv.teams.create(
        top, org.GroupCreate(name="Sales", extension="700", member_ids=[bob.id])
    )
    channel = await sv.channels.create(
        top,
        org.ChannelCreate(
            name="Front desk",
            phone_number="+14155550100",
            route=org.ChannelRoute(type="queue", id=queue.id),
        ),
    )
    account = await sv.provider_accounts.create(
        top, org.ProviderAccountCreate(name="Demo account", provider="whippy_phone")
    )
    scope = Scope(actor, account.id)
    # The front desk's number, bought from the account's inventory: calls to it ring Support,
    # and it is the caller ID of calls out.
    await sv.number_inventory.create(scope, acc.InventoryCreate(phone_numbers=["+14155550100"]))
    await sv.phones.create(scope, acc.PhoneCreate(setup_type="bought", phone_number="+14155550100"))
    domain = await sv.sip_domains.create(
        scope, acc.SipDomainCreate(name="Office", prefix=SIP_PREFIX)
    )
    cred_list = await sv.credential_lists.create(
        scope, acc.CredentialListCreate(name="Desk phones")
    )
    await sv.credential_attachments.create(
        scope,
        acc.CredentialAttachmentCreate(sip_domain_id=domain.id, credential_list_id=cred_list.id),
    )
    alice_sip = await sv.sip_users.create(
        scope,
        acc.SipUserCreate(
            username="alice",
            password="Demo-Passw0rd-Alice",
            credential_list_id=cred_list.id,
            user_id=alice.id,
        ),
    )
    await sv.sip_users.create(
        scope,
        acc.SipUserCreate(
            username="bob",
            password="Demo-Passw0rd-Bob",
            credential_list_id=cred_list.id,
            user_id=bob.id,
            channel_id=channel.id,
        ),
    )
    keys: list[tuple[str, str, str, acc.PhoneNumberTarget | acc.ResourceTarget]] = [
        ("101", "Alice", "start_new_call", acc.ResourceTarget(type="sip_user", id=alice_sip.id)),
        ("102", "Bob", "start_new_call", acc.ResourceTarget(type="agent", id=bob.id)),
        ("600", "Support", "blind_transfer", acc.ResourceTarget(type="queue", id=queue.id)),
        ("700", "Sales", "start_new_call", acc.ResourceTarget(type="team", id=team.id)),
        ("800", "Front desk", "blind_transfer", acc.ResourceTarget(type="channel", id=channel.id)),
        (
            "900",
            "Mobile",
            "start_new_call",
            acc.PhoneNumberTarget(type="phone_number", value="+14155550199"),
        ),
    ]
    for position, (extension, label, subtype, target) in enumerate(keys, 1):
        await sv.sip_extensions.create(
            scope,
            acc.SipExtensionCreate(
                extension=extension,
                label=label,
                subtype=subtype,  # type: ignore[arg-type]
                scope="provider_account",
                type="memory_key",
                target=target,
                position=position,
            ),
        )
    await sv.sip_extensions.create(
        scope,
        acc.SipExtensionCreate(
            extension="901",
            label="Alice's own",
            subtype="start_new_call",
            scope="user",
            type="memory_key",
            owner_id=alice.id,
            target=acc.PhoneNumberTarget(type="phone_number", value="+14155550198"),
        ),
    )
    for vendor in PHONES:
        await sv.provisioning_urls.create(
            scope,
            prov.ProvisioningUrlCreate(
                user_id=alice.id,
                vendor=vendor,  # type: ignore[arg-type]
                label=f"Demo {vendor}",
            ),
        )
