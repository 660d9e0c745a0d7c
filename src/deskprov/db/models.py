"""Tables. Every row carries its organisation so that every query can be scoped to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(32)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, nullable=False)


class Organisation(Timestamped, Base):
    __tablename__ = "organisations"
    name: Mapped[str] = mapped_column(String(100))
    # Bumped by every change to the organisation's data: rendered configs depend on it.
    data_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OrgOwned(Timestamped):
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organisations.id"), index=True)


class ApiKey(OrgOwned, Base):
    __tablename__ = "api_keys"
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)


class AdminSession(Base):
    """A signed-in admin page session; the cookie holds a random secret, this its digest.
    Signing out deletes the row, and so does deleting the API key that signed in."""

    __tablename__ = "admin_sessions"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    org_id: Mapped[str] = mapped_column(ID, ForeignKey("organisations.id"), index=True)
    key_id: Mapped[str] = mapped_column(
        ID, ForeignKey("api_keys.id", ondelete="CASCADE"), index=True
    )


class User(OrgOwned, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))


class Channel(OrgOwned, Base):
    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_route", "route_type", "route_ref"),)
    name: Mapped[str] = mapped_column(String(100))
    phone_number: Mapped[str | None] = mapped_column(String(16))
    # Where calls to the channel's number go: a sip_user, agent, team or queue (None: nowhere).
    route_type: Mapped[str | None] = mapped_column(String(16))
    route_ref: Mapped[str | None] = mapped_column(String(32))


class Team(OrgOwned, Base):
    __tablename__ = "teams"
    name: Mapped[str] = mapped_column(String(100))
    extension: Mapped[str | None] = mapped_column(String(16))


class Queue(OrgOwned, Base):
    __tablename__ = "queues"
    name: Mapped[str] = mapped_column(String(100))
    extension: Mapped[str | None] = mapped_column(String(16))
    strategy: Mapped[str] = mapped_column(String(16), default="ring_all", server_default="ring_all")
    ring_seconds: Mapped[int] = mapped_column(Integer, default=20, server_default="20")


class TeamMember(Base):
    """A user in a team; ``position`` keeps the order the members were given in."""

    __tablename__ = "team_members"
    team_id: Mapped[str] = mapped_column(ID, ForeignKey("teams.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class QueueMember(Base):
    """A user in a queue; ``position`` is the order a sequential queue rings them in."""

    __tablename__ = "queue_members"
    queue_id: Mapped[str] = mapped_column(ID, ForeignKey("queues.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class ProviderAccount(OrgOwned, Base):
    __tablename__ = "provider_accounts"
    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(16))
    credentials_sealed: Mapped[str | None] = mapped_column(Text)
    # twilio: the edge location phones register through (None: Twilio's global address).
    edge: Mapped[str | None] = mapped_column(String(32))


class AccountOwned(OrgOwned):
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("provider_accounts.id"), index=True)


class AtProvider:
    """A row that also exists at a provider that hosts SIP objects (twilio): its SID there.
    None for providers whose SIP objects live only in deskprov, and for a row the provider
    does not have yet (``provider-sync`` reports and repairs those)."""

    provider_sid: Mapped[str | None] = mapped_column(String(34))


class SipDomain(AtProvider, AccountOwned, Base):
    __tablename__ = "sip_domains"
    # A final domain (<prefix>.sip.twilio.com) is one name in the provider's namespace.
    __table_args__ = (
        UniqueConstraint("provider", "prefix"),
        UniqueConstraint("account_id", "provider_sid"),
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(63))
    provider: Mapped[str] = mapped_column(String(16))


class CredentialList(AtProvider, AccountOwned, Base):
    __tablename__ = "credential_lists"
    __table_args__ = (UniqueConstraint("account_id", "provider_sid"),)
    name: Mapped[str] = mapped_column(String(100))


class CredentialAttachment(AccountOwned, Base):
    __tablename__ = "credential_attachments"
    __table_args__ = (UniqueConstraint("sip_domain_id", "credential_list_id"),)
    sip_domain_id: Mapped[str] = mapped_column(ID, ForeignKey("sip_domains.id"), index=True)
    credential_list_id: Mapped[str] = mapped_column(
        ID, ForeignKey("credential_lists.id"), index=True
    )


class SipUser(AtProvider, AccountOwned, Base):
    __tablename__ = "sip_users"
    __table_args__ = (
        UniqueConstraint("account_id", "username"),
        UniqueConstraint("account_id", "provider_sid"),
    )
    username: Mapped[str] = mapped_column(String(32))
    # None only for a credential imported from the provider, which never reveals passwords.
    password_sealed: Mapped[str | None] = mapped_column(Text)
    credential_list_id: Mapped[str] = mapped_column(
        ID, ForeignKey("credential_lists.id"), index=True
    )
    channel_id: Mapped[str | None] = mapped_column(ID, ForeignKey("channels.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"), index=True)


class SipExtension(AccountOwned, Base):
    __tablename__ = "sip_extensions"
    __table_args__ = (
        UniqueConstraint("account_id", "extension"),
        Index("ix_sip_extensions_target", "target_type", "target_ref"),
    )
    extension: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str] = mapped_column(String(24))
    scope: Mapped[str] = mapped_column(String(24))
    type: Mapped[str] = mapped_column(String(24))
    # target_ref is the E.164 number for phone_number targets, else the target's id.
    target_type: Mapped[str] = mapped_column(String(16))
    target_ref: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"), index=True)
    position: Mapped[int | None] = mapped_column(Integer)


class ProviderPhone(AccountOwned, Base):
    __tablename__ = "provider_phones"
    __table_args__ = (UniqueConstraint("org_id", "phone_number"),)
    setup_type: Mapped[str] = mapped_column(String(16))
    phone_number: Mapped[str] = mapped_column(String(16))
    sid: Mapped[str | None] = mapped_column(String(64))
    sms: Mapped[bool] = mapped_column(Boolean, default=False)
    mms: Mapped[bool] = mapped_column(Boolean, default=False)
    voice: Mapped[bool] = mapped_column(Boolean, default=False)
    hosted: Mapped[bool] = mapped_column(Boolean, default=False)


class InventoryNumber(AccountOwned, Base):
    __tablename__ = "number_inventory"
    __table_args__ = (UniqueConstraint("account_id", "phone_number"),)
    phone_number: Mapped[str] = mapped_column(String(16))
    phone_id: Mapped[str | None] = mapped_column(ID, ForeignKey("provider_phones.id"))


class ProvisioningUrl(AccountOwned, Base):
    __tablename__ = "provisioning_urls"
    user_id: Mapped[str] = mapped_column(ID, ForeignKey("users.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(12))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    label: Mapped[str | None] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(16))
    # An IANA zone for a phone in another zone than its account's phone settings say.
    timezone: Mapped[str | None] = mapped_column(String(64))
    # An unbound URL an installer made works only if a phone claims it before this moment.
    bind_before: Mapped[datetime | None] = mapped_column(DateTime)


class PhoneSettings(AccountOwned, Base):
    """What every phone of a provider account is set to besides its lines and keys. No row:
    the defaults. The phones' admin password is generated on first use and sealed."""

    __tablename__ = "phone_settings"
    __table_args__ = (UniqueConstraint("account_id"),)
    timezone: Mapped[str | None] = mapped_column(String(64))
    ntp_servers: Mapped[list[str] | None] = mapped_column(JSON)
    language: Mapped[str | None] = mapped_column(String(35))
    voicemail_number: Mapped[str | None] = mapped_column(String(16))
    transport: Mapped[str | None] = mapped_column(String(8))
    srtp: Mapped[str | None] = mapped_column(String(16))
    poll_minutes: Mapped[int | None] = mapped_column(Integer)
    nat_keepalive_seconds: Mapped[int | None] = mapped_column(Integer)
    firmware: Mapped[dict[str, str] | None] = mapped_column(JSON)
    admin_password_sealed: Mapped[str | None] = mapped_column(Text)


class Device(OrgOwned, Base):
    __tablename__ = "devices"
    __table_args__ = (UniqueConstraint("org_id", "mac"),)
    mac: Mapped[str] = mapped_column(String(12))
    vendor: Mapped[str | None] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(64))
    firmware: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(ID, ForeignKey("users.id"))
    provisioning_url_id: Mapped[str | None] = mapped_column(ID, ForeignKey("provisioning_urls.id"))
    last_seen: Mapped[datetime] = mapped_column(DateTime)
    last_ip: Mapped[str | None] = mapped_column(String(64))
    last_file: Mapped[str | None] = mapped_column(String(255))
    last_result: Mapped[str | None] = mapped_column(String(64))


class DeviceUpload(OrgOwned, Base):
    """A file a phone PUT (Polycom logs and overrides): kept, never served back."""

    __tablename__ = "device_uploads"
    __table_args__ = (UniqueConstraint("org_id", "mac", "filename"),)
    mac: Mapped[str] = mapped_column(String(12))
    filename: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class PendingChange(AccountOwned, Base):
    """A change deskprov has started at a provider and not yet committed here: written before
    the provider is called, deleted in the transaction that commits the change. One left behind
    (a crash, or an undo that failed) is what ``provider-sync`` reports as interrupted."""

    __tablename__ = "provider_pending_changes"
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    # What its repair needs that no row of ours holds (the number a buy was for, the SID a
    # release was for); never a secret.
    detail: Mapped[dict[str, str] | None] = mapped_column(JSON)


class AuditEvent(OrgOwned, Base):
    __tablename__ = "audit_events"
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
