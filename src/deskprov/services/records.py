"""Read-only records: the devices that fetched configs, and the audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import AuditEvent, Device, ProvisioningUrl
from deskprov.schemas import organisation as schema
from deskprov.schemas.common import Page, PageQuery
from deskprov.services import registrations
from deskprov.services.base import Collection, Scope, iso
from deskprov.services.device_log import DeviceLog
from deskprov.services.refusals import RefusalLog


class Devices(Collection[Device, schema.DeviceView]):
    kind = "device"
    model = Device
    sortable = ("mac", "last_seen", "last_result")
    filters = ("provisioning_url_id", "user_id")
    log: DeviceLog  # set by the registry: notes not yet written are written before a read

    async def decorate(
        self, scope: Scope, views: list[schema.DeviceView]
    ) -> list[schema.DeviceView]:
        return await registrations.for_devices(self.deps, views)

    def searched(self, text: str) -> list[Any]:
        """A MAC as typed: any case, with or without separators."""
        digits = "".join(c for c in text.lower() if c not in ":-. ")
        return [Device.mac.contains(digits, autoescape=True)] if digits else [true()]

    def sort_columns(self) -> dict[str, Any]:
        return {**super().sort_columns(), "first_seen": Device.created_at}

    def filtered(self, scope: Scope, query: PageQuery) -> list[Any]:
        where = super().filtered(scope, query)
        account_id = getattr(query, "provider_account_id", None)
        if account_id is not None:
            where.append(
                Device.provisioning_url_id.in_(
                    select(ProvisioningUrl.id).where(ProvisioningUrl.account_id == account_id)
                )
            )
        return where

    async def of_urls(self, scope: Scope, url_ids: list[str]) -> dict[str, list[schema.DeviceView]]:
        """The phones that used each of these URLs (for a page of URLs: one read)."""
        scope.actor.require(self.read_role)
        await self.log.flush()
        found: dict[str, list[schema.DeviceView]] = {u: [] for u in url_ids}
        async with self.deps.db.read() as s:
            rows = await s.scalars(
                select(Device)
                .where(Device.org_id == scope.actor.org_id, Device.provisioning_url_id.in_(url_ids))
                .order_by(Device.last_seen.desc())
            )
            views = [await self.view(s, row) for row in rows.all()]
        for view in await self.decorate(scope, views):
            found[str(view.provisioning_url_id)].append(view)
        return found

    async def list(self, scope: Scope, page: PageQuery) -> Page[schema.DeviceView]:
        await self.log.flush()
        return await super().list(scope, page)

    async def get(self, scope: Scope, row_id: str) -> schema.DeviceView:
        await self.log.flush()
        return await super().get(scope, row_id)

    async def view(self, s: AsyncSession, row: Device) -> schema.DeviceView:
        return schema.DeviceView(
            id=row.id,
            mac=row.mac,
            vendor=row.vendor,
            model=row.model,
            firmware=row.firmware,
            user_id=row.user_id,
            provisioning_url_id=row.provisioning_url_id,
            first_seen=iso(row.created_at),
            last_seen=iso(row.last_seen),
            last_ip=row.last_ip,
            last_file=row.last_file,
            last_result=row.last_result,
        )


class AuditEvents(Collection[AuditEvent, schema.AuditEventView]):
    kind = "audit_event"
    model = AuditEvent
    log: RefusalLog  # set by the registry: refusals counted but not yet written come first
    searchable = ("action", "actor", "target_id")
    filters = ("actor", "target_type", "target_id")

    def sort_columns(self) -> dict[str, Any]:
        return {"at": AuditEvent.created_at}

    def filtered(self, scope: Scope, query: PageQuery) -> list[Any]:
        """``action`` names one action, or with no dot every action of a kind."""
        where = super().filtered(scope, query)
        action = getattr(query, "action", None)
        if action is not None:
            where.append(
                AuditEvent.action == action
                if "." in action
                else AuditEvent.action.startswith(action + ".", autoescape=True)
            )
        return where

    async def list(self, scope: Scope, page: PageQuery) -> Page[schema.AuditEventView]:
        await self.log.flush()
        return await super().list(scope, page)

    async def get(self, scope: Scope, row_id: str) -> schema.AuditEventView:
        await self.log.flush()
        return await super().get(scope, row_id)

    async def view(self, s: AsyncSession, row: AuditEvent) -> schema.AuditEventView:
        return schema.AuditEventView(
            id=row.id,
            at=iso(row.created_at),
            actor=row.actor,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            detail=row.detail,
        )
