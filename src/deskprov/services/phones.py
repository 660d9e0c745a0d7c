"""Provider phone numbers: bought through the provider's market or added by hand, and the number
inventory that ``whippy_phone`` accounts sell from."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import InventoryNumber, ProviderAccount, ProviderPhone
from deskprov.domain.roles import Role
from deskprov.errors import Conflict, Dependent, Invalid, Unsupported
from deskprov.providers.base import BoughtNumber, NumberMarket, NumberOffer
from deskprov.providers.twilio import TwilioMarket
from deskprov.schemas import account as schema
from deskprov.services.accounts import ProviderAccounts
from deskprov.services.base import Collection, Scope, changed, iso


class InventoryMarket:
    """A ``whippy_phone`` account sells the numbers of its own inventory."""

    def __init__(self, s: AsyncSession, account: ProviderAccount) -> None:
        self._s = s
        self._account = account

    async def search(self, area_code: str) -> list[NumberOffer]:
        rows = await self._s.scalars(
            select(InventoryNumber)
            .where(
                InventoryNumber.account_id == self._account.id,
                InventoryNumber.phone_id.is_(None),
                InventoryNumber.phone_number.startswith(f"+1{area_code}"),
            )
            .order_by(InventoryNumber.phone_number)
        )
        return [NumberOffer(r.phone_number, sms=True, mms=True, voice=True) for r in rows]

    async def buy(self, phone_number: str) -> BoughtNumber:
        row = await self._s.scalar(
            select(InventoryNumber).where(
                InventoryNumber.account_id == self._account.id,
                InventoryNumber.phone_number == phone_number,
                InventoryNumber.phone_id.is_(None),
            )
        )
        if row is None:
            raise Invalid(
                "the number is not available in this account's number inventory",
                fields={"phone_number": "not available"},
            )
        return BoughtNumber(sid="PN" + secrets.token_hex(16), sms=True, mms=True, voice=True)


def offer_view(offer: NumberOffer) -> schema.AvailableNumber:
    return schema.AvailableNumber(
        phone_number=offer.phone_number,
        capabilities=schema.CapabilitiesView(sms=offer.sms, mms=offer.mms, voice=offer.voice),
        locality=offer.locality,
        region=offer.region,
    )


class Phones(Collection[ProviderPhone, schema.PhoneView]):
    kind = "provider_phone"
    model = ProviderPhone
    in_account = True

    async def view(self, s: AsyncSession, row: ProviderPhone) -> schema.PhoneView:
        return schema.PhoneView(
            id=row.id,
            setup_type=row.setup_type,
            phone_number=row.phone_number,
            sid=row.sid,
            capabilities=schema.CapabilitiesView(sms=row.sms, mms=row.mms, voice=row.voice),
            hosted=row.hosted,
            created_at=iso(row.created_at),
        )

    def market(self, s: AsyncSession, account: ProviderAccount) -> NumberMarket:
        provider = self.provider(account)
        if not provider.sells_numbers:
            raise Unsupported(f"{account.provider} accounts take manually added phones only")
        if account.provider == "whippy_phone":
            return InventoryMarket(s, account)
        credentials = ProviderAccounts(self.deps).credentials(account)
        if not credentials:
            raise Invalid(
                "the provider account has no credentials to call Twilio with",
                fields={"credentials": "required"},
            )
        return TwilioMarket(
            self.deps.http,
            self.deps.settings.twilio_api_url,
            credentials["account_sid"],
            credentials["auth_token"],
        )

    async def available(
        self, scope: Scope, query: schema.AvailableNumbersQuery
    ) -> schema.AvailableNumbers:
        scope.actor.require(self.read_role)
        async with self.deps.db.read() as s:
            account = await self.account(s, scope)
            offers = await self.market(s, account).search(query.area_code)
        return schema.AvailableNumbers(items=[offer_view(o) for o in offers])

    async def create(self, scope: Scope, body: schema.PhoneCreate) -> schema.PhoneView:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            account = await self.account(s, scope)
            await self.check_unique(s, scope, body.phone_number)
            caps = body.capabilities or schema.Capabilities()
            values: dict[str, Any] = {
                "setup_type": body.setup_type,
                "phone_number": body.phone_number,
                "hosted": body.hosted,
                "sms": caps.sms,
                "mms": caps.mms,
                "voice": caps.voice,
            }
            if body.setup_type == "manual":
                values["sid"] = self.checked_sid(account, body.sid)
            else:
                for field in ("sid", "capabilities"):
                    if field in body.model_fields_set:
                        raise Invalid(
                            "a bought phone's SID and capabilities come from the provider",
                            fields={field: "filled by the provider for bought phones"},
                        )
                # The provider is called last, once every local rule has passed.
                bought = await self.market(s, account).buy(body.phone_number)
                values.update(sid=bought.sid, sms=bought.sms, mms=bought.mms, voice=bought.voice)
            row = self.new_row(scope, **values)
            s.add(row)
            await self.flush(s)
            if body.setup_type == "bought" and account.provider == "whippy_phone":
                await self.assign(s, account, row)
            await self.audit(
                s,
                scope,
                "create",
                row.id,
                setup_type=row.setup_type,
                phone_number=row.phone_number,
            )
            return await self.view(s, row)

    async def assign(self, s: AsyncSession, account: ProviderAccount, row: ProviderPhone) -> None:
        number = await s.scalar(
            select(InventoryNumber).where(
                InventoryNumber.account_id == account.id,
                InventoryNumber.phone_number == row.phone_number,
            )
        )
        assert number is not None
        number.phone_id = row.id

    def checked_sid(self, account: ProviderAccount, sid: str | None) -> str:
        if sid is None:
            raise Invalid("a manual phone needs its SID", fields={"sid": "required"})
        problem = self.provider(account).sid_problem(sid)
        if problem:
            raise Invalid("the SID does not fit the provider's format", fields={"sid": problem})
        return sid

    async def check_unique(self, s: AsyncSession, scope: Scope, phone_number: str) -> None:
        taken = await s.scalar(
            select(ProviderPhone.id).where(
                ProviderPhone.org_id == scope.actor.org_id,
                ProviderPhone.phone_number == phone_number,
            )
        )
        if taken:
            raise Conflict(
                "this phone number is already in the organisation",
                fields={"phone_number": "already taken"},
            )

    async def update(self, scope: Scope, row_id: str, body: schema.PhoneUpdate) -> schema.PhoneView:
        scope.actor.require(self.write_role)
        fields = changed(body)
        async with self.deps.db.write() as s:
            row = await self.load(s, scope, row_id)
            if row.setup_type != "manual":
                raise Conflict("only manually added phones can be edited")
            account = await self.account(s, scope)
            for name, value in fields.items():
                if value is None:
                    raise Invalid(f"{name} cannot be null", fields={name: "required"})
            if body.sid is not None:
                row.sid = self.checked_sid(account, body.sid)
            if body.capabilities is not None:
                row.sms, row.mms, row.voice = (
                    body.capabilities.sms,
                    body.capabilities.mms,
                    body.capabilities.voice,
                )
            if body.hosted is not None:
                row.hosted = body.hosted
            await self.audit(s, scope, "update", row.id, fields=sorted(fields))
            return await self.view(s, row)

    async def release(self, s: AsyncSession, row: ProviderPhone) -> None:
        """A bought whippy_phone number goes back to the inventory."""
        number = await s.scalar(select(InventoryNumber).where(InventoryNumber.phone_id == row.id))
        if number is not None:
            number.phone_id = None
            await s.flush()


class NumberInventory(Collection[InventoryNumber, schema.InventoryNumberView]):
    kind = "inventory_number"
    model = InventoryNumber
    in_account = True
    read_role = Role.admin

    async def account(self, s: AsyncSession, scope: Scope) -> ProviderAccount:
        account = await super().account(s, scope)
        if account.provider != "whippy_phone":
            raise Unsupported("only whippy_phone accounts keep a number inventory")
        return account

    async def view(self, s: AsyncSession, row: InventoryNumber) -> schema.InventoryNumberView:
        return schema.InventoryNumberView(
            id=row.id,
            phone_number=row.phone_number,
            assigned=row.phone_id is not None,
            phone_id=row.phone_id,
            created_at=iso(row.created_at),
        )

    async def create(self, scope: Scope, body: schema.InventoryCreate) -> schema.InventoryCreated:
        scope.actor.require(self.write_role)
        async with self.deps.db.write() as s:
            await self.account(s, scope)
            existing = set(
                (
                    await s.scalars(
                        select(InventoryNumber.phone_number).where(
                            InventoryNumber.account_id == scope.account_id,
                            InventoryNumber.phone_number.in_(body.phone_numbers),
                        )
                    )
                ).all()
            )
            problems = {
                f"phone_numbers.{i}": "already in the inventory"
                for i, n in enumerate(body.phone_numbers)
                if n in existing
            }
            problems.update(
                {
                    f"phone_numbers.{i}": "listed twice"
                    for i, n in enumerate(body.phone_numbers)
                    if n in body.phone_numbers[:i]
                }
            )
            if problems:
                raise Conflict("some numbers are already in the inventory", fields=problems)
            rows = [self.new_row(scope, phone_number=n) for n in body.phone_numbers]
            s.add_all(rows)
            await self.flush(s)
            await self.audit(s, scope, "create", None, count=len(rows))
            return schema.InventoryCreated(items=[await self.view(s, r) for r in rows])

    async def dependents(self, s: AsyncSession, row: InventoryNumber) -> list[Dependent]:
        return [Dependent("provider_phone", row.phone_id)] if row.phone_id else []
