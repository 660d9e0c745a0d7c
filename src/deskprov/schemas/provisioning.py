"""Provisioning URLs and their preview."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from deskprov.schemas.common import Body, Id, ListQuery, Name, Query, Text, Timestamp, View
from deskprov.schemas.phone_settings import TimeZone

Vendor = Literal["polycom", "yealink", "fanvil"]
TEN_YEARS = 10 * 366 * 24 * 3600


class ProvisioningUrlCreate(Body):
    user_id: Id
    vendor: Vendor
    mac: Annotated[Text, StringConstraints(max_length=20)] | None = Field(
        None, description="12 hex digits, any case or separators; binds the URL to one phone"
    )
    expires_in: Annotated[int, Field(ge=60, le=TEN_YEARS)] | None = Field(
        None, description="seconds until the URL stops working; absent = never"
    )
    label: Name | None = None
    timezone: TimeZone | None = Field(
        None, description="IANA time zone for this phone, instead of the account's"
    )


class ProvisioningUrlView(View):
    id: str
    url: str | None = Field(
        description="the URL to type into the phone; null for viewers, and when its signing "
        "key was retired (``url_unavailable`` says so)"
    )
    url_unavailable: Literal["signing_key_retired"] | None = Field(
        None, description="why ``url`` is null for a caller who may see it"
    )
    vendor: Vendor
    user_id: str
    mac: str | None
    expires_at: Timestamp | None
    revoked: bool
    revoked_at: Timestamp | None
    label: str | None
    timezone: str | None
    bind_before: Timestamp | None = Field(
        None,
        description="an unbound URL made by an installer works only if a phone claims it "
        "(its first fetch binds its MAC) before this",
    )
    created_at: Timestamp


class ProvisioningUrlQuery(ListQuery):
    user_id: Id | None = Field(None, description="only this user's URLs")


class PreviewQuery(Query):
    file: Annotated[Text, StringConstraints(min_length=1, max_length=64)]
    reveal: bool = False
    model: Annotated[Text, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="render for this model (default: the bound phone's, else the vendor's)"
    )


class DroppedKey(View):
    id: str
    extension: str
    label: str


class PreviewView(View):
    file: str
    content_type: str
    model: str
    content: str = Field(description="the exact file, passwords masked unless revealed")
    dropped_keys: list[DroppedKey] = Field(description="keys the model has no room for")
