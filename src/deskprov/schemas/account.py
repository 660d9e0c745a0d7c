"""Resources inside a provider account: SIP domains, credential lists and attachments, SIP users,
SIP extensions, phones, number inventory and available numbers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from deskprov.domain import rules
from deskprov.schemas.common import (
    E164,
    Body,
    Extension,
    Id,
    ListQuery,
    Name,
    Query,
    Text,
    Timestamp,
    View,
    not_blank,
)

Prefix = Annotated[
    str,
    StringConstraints(pattern=rules.DOMAIN_PREFIX.pattern),
    Field(description="1-63 of a-z0-9-, not starting or ending with -", examples=["acme"]),
]
SipUsername = Annotated[str, StringConstraints(pattern=rules.SIP_USERNAME.pattern)]


def _no_outer_space(value: str) -> str:
    if value != value.strip():
        raise ValueError("must not start or end with white space")
    return value


Password = Annotated[
    Text,
    Field(
        min_length=rules.PASSWORD_MIN,
        max_length=rules.PASSWORD_MAX,
        description="at least 12 characters with an upper-case letter, a lower-case letter "
        "and a digit, not starting or ending with white space; write-only",
    ),
    AfterValidator(_no_outer_space),
]
Label = Annotated[Text, StringConstraints(min_length=1, max_length=32), AfterValidator(not_blank)]


class SipDomainCreate(Body):
    name: Name
    prefix: Prefix


class SipDomainUpdate(Body):
    name: Name | None = None


ProviderSid = Annotated[
    str | None, Field(description="the object's SID at the provider (twilio); null for others")
]


class SipDomainView(View):
    id: str
    name: str
    prefix: str
    domain: str
    provider_sid: ProviderSid
    created_at: Timestamp


class CredentialListCreate(Body):
    name: Name


class CredentialListUpdate(Body):
    name: Name | None = None


class CredentialListView(View):
    id: str
    name: str
    sip_user_count: int
    provider_sid: ProviderSid
    created_at: Timestamp


class CredentialAttachmentCreate(Body):
    sip_domain_id: Id
    credential_list_id: Id


class CredentialAttachmentUpdate(Body):
    sip_domain_id: Id | None = None
    credential_list_id: Id | None = None


class CredentialAttachmentView(View):
    id: str
    sip_domain_id: str
    credential_list_id: str
    created_at: Timestamp


class SipUserCreate(Body):
    username: SipUsername
    password: Password
    credential_list_id: Id
    channel_id: Id | None = None
    user_id: Id | None = None


class SipUserUpdate(Body):
    password: Password | None = None
    credential_list_id: Id | None = None
    channel_id: Id | None = None
    user_id: Id | None = None


class RegistrationView(View):
    contact: str
    user_agent: str | None
    expires_at: Timestamp | None


RegistrarState = Annotated[
    Literal["ok", "unreachable"] | None,
    Field(
        description="on reads of whippy_phone SIP users: whether deskprov's registrar (Kamailio) "
        "was asked (ok) or could not be (unreachable); null on writes and other providers"
    ),
]


class SipUserView(View):
    id: str
    username: str
    credential_list_id: str
    channel_id: str | None
    user_id: str | None
    domains: list[str]
    sip_uri: str | None
    provider_sid: ProviderSid
    password_unknown: bool = Field(
        description="imported from the provider, which never tells passwords: set one"
    )
    created_at: Timestamp
    registrations: list[RegistrationView] = Field(
        default_factory=list, description="contacts registered for this SIP user, any domain"
    )
    registrar: RegistrarState = None


class RevealedPassword(View):
    password: str


class PhoneNumberTarget(Body):
    type: Literal["phone_number"]
    value: E164


class ResourceTarget(Body):
    type: Literal["channel", "agent", "sip_user", "team", "queue"] = Field(
        description="agent is a user id"
    )
    id: Id


Target = Annotated[PhoneNumberTarget | ResourceTarget, Field(discriminator="type")]
Subtype = Literal["blind_transfer", "start_new_call"]
Scope = Literal["provider_account", "user"]
Position = Annotated[int, Field(ge=1, le=99, description="the key's place on the phone")]


class SipExtensionCreate(Body):
    extension: Extension
    label: Label
    subtype: Subtype
    scope: Scope
    type: Literal["memory_key"]
    target: Target
    owner_id: Id | None = Field(None, description="user id; required when scope is user")
    position: Position | None = None


class SipExtensionUpdate(Body):
    extension: Extension | None = None
    label: Label | None = None
    subtype: Subtype | None = None
    scope: Scope | None = None
    type: Literal["memory_key"] | None = None
    target: Target | None = None
    owner_id: Id | None = None
    position: Position | None = None


class PhoneNumberTargetView(View):
    type: Literal["phone_number"]
    value: str


class ResourceTargetView(View):
    type: Literal["channel", "agent", "sip_user", "team", "queue"]
    id: str


TargetView = Annotated[PhoneNumberTargetView | ResourceTargetView, Field(discriminator="type")]


class SipExtensionView(View):
    id: str
    extension: str
    label: str
    subtype: Subtype
    scope: Scope
    type: Literal["memory_key"]
    target: TargetView
    owner_id: str | None
    position: int | None
    created_at: Timestamp


class Capabilities(Body):
    sms: bool = False
    mms: bool = False
    voice: bool = False


class CapabilitiesView(View):
    sms: bool
    mms: bool
    voice: bool


class PhoneCreate(Body):
    setup_type: Literal["bought", "manual"]
    phone_number: E164
    sid: Annotated[Text, StringConstraints(min_length=1, max_length=64)] | None = None
    capabilities: Capabilities | None = None
    hosted: bool = False


class PhoneUpdate(Body):
    sid: Annotated[Text, StringConstraints(min_length=1, max_length=64)] | None = None
    capabilities: Capabilities | None = None
    hosted: bool | None = None


class PhoneView(View):
    id: str
    setup_type: Literal["bought", "manual"]
    phone_number: str
    sid: str | None
    capabilities: CapabilitiesView
    hosted: bool
    created_at: Timestamp


class SipUserQuery(ListQuery):
    user_id: Id | None = Field(None, description="only SIP users of this owner")
    credential_list_id: Id | None = Field(None, description="only SIP users in this list")


class AvailableNumbersQuery(Query):
    area_code: str = Field(pattern=rules.AREA_CODE.pattern, description="three digits")


class AvailableNumber(View):
    phone_number: str
    capabilities: CapabilitiesView
    locality: str | None
    region: str | None


class AvailableNumbers(View):
    items: list[AvailableNumber]


class InventoryCreate(Body):
    phone_numbers: list[E164] = Field(min_length=1, max_length=500)


class InventoryNumberView(View):
    id: str
    phone_number: str
    assigned: bool
    phone_id: str | None
    created_at: Timestamp


class InventoryCreated(View):
    items: list[InventoryNumberView]


class ProviderSyncAction(Body):
    repair: bool = Field(False, description="make the provider match deskprov")
    import_: bool = Field(
        False,
        alias="import",
        description="take in what exists only at the provider (credentials without a password)",
    )


class DriftItem(View):
    type: str
    id: str | None = None
    provider_sid: str | None = None
    detail: str


class ProviderSyncReport(View):
    checked_at: Timestamp
    missing_at_provider: list[DriftItem]
    unknown_at_provider: list[DriftItem]
    different: list[DriftItem]
    done: list[DriftItem] = Field(
        default_factory=list, description="what a repair or an import did (POST only)"
    )
