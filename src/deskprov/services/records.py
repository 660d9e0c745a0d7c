"""Read-only records: the devices that fetched configs, and the audit trail."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import AuditEvent, Device
from deskprov.schemas import organisation as schema
from deskprov.schemas.common import Page, PageQuery
from deskprov.services import registrations
from deskprov.services.base import Collection, Scope, iso
from deskprov.services.device_log import DeviceLog
from deskprov.services.refusals import RefusalLog


class Devices(Collection[Device, schema.DeviceView]):
    kind = "device"
    model = Device
    log: DeviceLog  # set by the registry: notes not yet written are written before a read

    async def decorate(
        self, scope: Scope, views: list[schema.DeviceView]
    ) -> list[schema.DeviceView]:
        return await registrations.for_devices(self.deps, views)

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
