"""Every management service, built once per app from the same dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from deskprov.db.hot import hot_store
from deskprov.services.accounts import (
    CredentialAttachments,
    CredentialLists,
    ProviderAccounts,
    SipDomains,
    SipUsers,
)
from deskprov.services.base import Deps
from deskprov.services.device_log import DeviceLog
from deskprov.services.extensions import SipExtensions
from deskprov.services.names import Names
from deskprov.services.organisation import ApiKeys, Channels, Queues, Teams, Users
from deskprov.services.phone import PhoneService
from deskprov.services.phone_settings import PhoneSettingsService
from deskprov.services.phones import NumberInventory, Phones
from deskprov.services.provider_sync import ProviderSync
from deskprov.services.provisioning_urls import ProvisioningUrls
from deskprov.services.records import AuditEvents, Devices
from deskprov.services.refusals import RefusalLog
from deskprov.services.routing import Routing
from deskprov.services.routing.twilio import TwilioVoice
from deskprov.services.url_import import UrlImport
from deskprov.vendors.profile import load_profiles, templates_root
from deskprov.vendors.render import Renderer


@dataclass(frozen=True)
class Services:
    deps: Deps
    api_keys: ApiKeys
    users: Users
    channels: Channels
    teams: Teams
    queues: Queues
    provider_accounts: ProviderAccounts
    sip_domains: SipDomains
    credential_lists: CredentialLists
    credential_attachments: CredentialAttachments
    sip_users: SipUsers
    sip_extensions: SipExtensions
    phones: Phones
    number_inventory: NumberInventory
    provider_sync: ProviderSync
    devices: Devices
    audit_events: AuditEvents
    provisioning_urls: ProvisioningUrls
    phone_settings: PhoneSettingsService
    phone: PhoneService
    routing: Routing
    twilio_voice: TwilioVoice
    names: Names
    url_import: UrlImport

    @classmethod
    def build(cls, deps: Deps, renderer: Renderer | None = None) -> Services:
        device_log = DeviceLog(deps)
        phone_settings = PhoneSettingsService(deps)
        refusals = RefusalLog(deps)
        phone = PhoneService(
            deps,
            renderer or default_renderer(),
            hot_store(deps.db, deps.keyring.refresh),
            device_log,
            phone_settings,
            refusals,
        )
        provisioning_urls = ProvisioningUrls(deps)
        provisioning_urls.phone = phone
        devices = Devices(deps)
        devices.log = device_log
        audit_events = AuditEvents(deps)
        audit_events.log = refusals
        routing = Routing(deps)
        return cls(
            deps=deps,
            api_keys=ApiKeys(deps),
            users=Users(deps),
            channels=Channels(deps),
            teams=Teams(deps),
            queues=Queues(deps),
            provider_accounts=ProviderAccounts(deps),
            sip_domains=SipDomains(deps),
            credential_lists=CredentialLists(deps),
            credential_attachments=CredentialAttachments(deps),
            sip_users=SipUsers(deps),
            sip_extensions=SipExtensions(deps),
            phones=Phones(deps),
            number_inventory=NumberInventory(deps),
            provider_sync=ProviderSync(deps),
            devices=devices,
            audit_events=audit_events,
            provisioning_urls=provisioning_urls,
            phone_settings=phone_settings,
            phone=phone,
            routing=routing,
            twilio_voice=TwilioVoice(deps, routing),
            names=Names(deps),
            url_import=UrlImport(provisioning_urls),
        )


def default_renderer() -> Renderer:
    root = templates_root()
    return Renderer(root, load_profiles(root))
