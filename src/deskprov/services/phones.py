"""Provider phone numbers: bought through the provider's market or added by hand, and the number
inventory that ``whippy_phone`` accounts sell from."""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import InventoryNumber, ProviderAccount, ProviderPhone
from deskprov.domain.ids import new_id
from deskprov.domain.roles import Role
from deskprov.errors import Conflict, Dependent, Invalid, Unsupported
from deskprov.providers.base import NumberMarket, NumberOffer, OwnedNumber, Undo
from deskprov.schemas import account as schema
from deskprov.services.base import Collection, Scope, changed, iso
from deskprov.services.remote import HostedCollection, Remote, provider_change, twilio_market


async def inventory_offers(
    s: AsyncSession, account: ProviderAccount, area_code: str
) -> list[NumberOffer]:
    """A ``whippy_phone`` account sells the numbers of its own inventory."""
    rows = await s.scalars(
        select(InventoryNumber)
        .where(
            InventoryNumber.account_id == account.id,
            InventoryNumber.phone_id.is_(None),
            InventoryNumber.phone_number.startswith(f"+1{area_code}"),
        )
        .order_by(InventoryNumber.phone_number)
    )
    return [NumberOffer(r.phone_number, sms=True, mms=True, voice=True) for r in rows]


async def take_from_inventory(
    s: AsyncSession, account: ProviderAccount, phone_number: str
) -> InventoryNumber:
    row = await s.scalar(
        select(InventoryNumber).where(
            InventoryNumber.account_id == account.id,
            InventoryNumber.phone_number == phone_number,
            InventoryNumber.phone_id.is_(None),
        )
    )
    if row is None:
        raise Invalid(
            "the number is not available in this account's number inventory",
            fields={"phone_number": "not available"},
        )
    return row


def offer_view(offer: NumberOffer) -> schema.AvailableNumber:
    return schema.AvailableNumber(
        phone_number=offer.phone_number,
        capabilities=schema.CapabilitiesView(sms=offer.sms, mms=offer.mms, voice=offer.voice),
        locality=offer.locality,
        region=offer.region,
    )


def as_described(owned: OwnedNumber) -> dict[str, Any]:
    """A phone's columns that come from the provider's description of its number."""
    return {
        "sid": owned.sid,
        "sms": owned.sms,
        "mms": owned.mms,
        "voice": owned.voice,
        "hosted": owned.hosted,
    }


def confirmed(owned: OwnedNumber | None, phone_number: str) -> OwnedNumber:
    """A manual number's SID as the provider answered for it: it must carry that number."""
    if owned is None:
        raise Invalid(
            "the provider account has no phone number with this SID",
            fields={"sid": "no such number in the provider account"},
        )
    if owned.phone_number != phone_number:
        raise Invalid(
            f"this SID is the provider's number {owned.phone_number}, not {phone_number}",
            fields={"sid": f"belongs to {owned.phone_number}"},
        )
    return owned


class Phones(HostedCollection):
    """On twilio a bought number is bought (its calls sent to deskprov) and, deleted, released
    at Twilio; a manual number's SID is confirmed there and its capabilities come from Twilio.
    Other providers: as the body says (whippy_phone sells from its inventory)."""

    kind = "provider_phone"
    model = ProviderPhone
    searchable = ("phone_number", "sid")
    sortable = ("phone_number", "setup_type")

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

    def market(self, account: ProviderAccount) -> NumberMarket | None:
        """Where the account's numbers are, when that is outside deskprov (twilio)."""
        if not self.provider(account).sells_numbers:
            raise Unsupported(f"{account.provider} accounts take manually added phones only")
        return twilio_market(self.deps, account) if account.provider == "twilio" else None

    async def available(
        self, scope: Scope, query: schema.AvailableNumbersQuery
    ) -> schema.AvailableNumbers:
        scope.actor.require(self.read_role)
        async with self.deps.db.read() as s:
            account = await self.account(s, scope)
            market = self.market(account)
            if market is None:
                offers = await inventory_offers(s, account, query.area_code)
        if market is not None:  # (asked with no transaction open)
            offers = await market.search(query.area_code)
        return schema.AvailableNumbers(items=[offer_view(o) for o in offers])

    async def create(self, scope: Scope, body: schema.PhoneCreate) -> schema.PhoneView:
        scope.actor.require(self.write_role)
        row_id = new_id(self.kind)
        caps = body.capabilities or schema.Capabilities()

        async def check(s: AsyncSession) -> Remote[OwnedNumber] | None:
            account = await self.account(s, scope)
            await self.check_unique(s, scope, body.phone_number)
            if body.setup_type == "manual":
                sid = self.checked_sid(account, body.sid)
                if account.provider != "twilio":
                    return None
                self.from_provider(body, ("capabilities", "hosted"))
                market = twilio_market(self.deps, account)

                async def fetch(undo: Undo) -> OwnedNumber:
                    return confirmed(await market.fetch(sid), body.phone_number)

                return Remote("provider_phone.confirm", self.kind, row_id, fetch, journal=False)
            self.from_provider(body, ("sid", "capabilities"))
            bought = self.market(account)
            if bought is None:
                await take_from_inventory(s, account, body.phone_number)
                return None

            async def buy(undo: Undo) -> OwnedNumber:
                owned = await bought.buy(body.phone_number)
                undo.push(partial(bought.release, owned.sid))
                return owned

            return Remote(
                "provider_phone.buy",
                self.kind,
                row_id,
                buy,
                (body.phone_number,),
                detail={"phone_number": body.phone_number},  # (what a repair takes in)
            )

        async def commit(s: AsyncSession, owned: OwnedNumber | None) -> schema.PhoneView:
            account = await self.account(s, scope)
            values: dict[str, Any] = {
                "setup_type": body.setup_type,
                "phone_number": body.phone_number,
                "sid": body.sid,
                "hosted": body.hosted,
                "sms": caps.sms,
                "mms": caps.mms,
                "voice": caps.voice,
            }
            if owned is not None:
                values.update(as_described(owned))
            elif body.setup_type == "bought":  # from the whippy_phone inventory
                number = await take_from_inventory(s, account, body.phone_number)
                values.update(sid="PN" + secrets.token_hex(16), sms=True, mms=True, voice=True)
            row = self.new_row(scope, row_id, **values)
            s.add(row)
            await self.flush(s)
            if owned is None and body.setup_type == "bought":
                number.phone_id = row.id
            await self.audit(
                s,
                scope,
                "create",
                row.id,
                setup_type=row.setup_type,
                phone_number=row.phone_number,
            )
            return await self.view(s, row)

        return await provider_change(self.deps, self.where(scope), check, commit)

    @staticmethod
    def from_provider(body: Any, names: tuple[str, ...]) -> None:
        for name in names:
            if name in body.model_fields_set:
                raise Invalid(
                    "this comes from the provider for this phone",
                    fields={name: "filled by the provider"},
                )

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
        for name, value in fields.items():
            if value is None:
                raise Invalid(f"{name} cannot be null", fields={name: "required"})

        async def check(s: AsyncSession) -> Remote[OwnedNumber] | None:
            row = await self.load(s, scope, row_id)
            if row.setup_type != "manual":
                raise Conflict("only manually added phones can be edited")
            account = await self.account(s, scope)
            if body.sid is not None:
                self.checked_sid(account, body.sid)
            if account.provider != "twilio":
                return None
            self.from_provider(body, ("capabilities", "hosted"))
            if body.sid is None:
                return None
            market, sid, number = twilio_market(self.deps, account), body.sid, row.phone_number

            async def fetch(undo: Undo) -> OwnedNumber:
                return confirmed(await market.fetch(sid), number)

            return Remote("provider_phone.confirm", self.kind, row_id, fetch, journal=False)

        async def commit(s: AsyncSession, owned: OwnedNumber | None) -> schema.PhoneView:
            row = await self.load(s, scope, row_id)
            if owned is not None:
                for name, value in as_described(owned).items():
                    setattr(row, name, value)
            if body.sid is not None:
                row.sid = body.sid
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

        return await provider_change(self.deps, self.where(scope), check, commit)

    async def remote_delete(
        self, s: AsyncSession, row: ProviderPhone, account: ProviderAccount
    ) -> Remote[None] | None:
        """A bought twilio number is released at Twilio, for good: nothing can take that back,
        so a commit that fails after it leaves its pending record for provider-sync, whose
        repair then deletes the phone here too."""
        if account.provider != "twilio" or row.setup_type != "bought" or row.sid is None:
            return None
        market, sid = twilio_market(self.deps, account), row.sid

        async def release(undo: Undo) -> None:
            await market.release(sid)

        return Remote(
            "provider_phone.release",
            self.kind,
            row.id,
            release,
            (sid,),
            detail={"phone_number": row.phone_number, "sid": sid},
            reversible=False,
        )

    async def release(self, s: AsyncSession, row: ProviderPhone) -> None:
        """A bought whippy_phone number goes back to the inventory."""
        number = await s.scalar(select(InventoryNumber).where(InventoryNumber.phone_id == row.id))
        if number is not None:
            number.phone_id = None
            await s.flush()


class NumberInventory(Collection[InventoryNumber, schema.InventoryNumberView]):
    kind = "inventory_number"
    model = InventoryNumber
    searchable = ("phone_number",)
    sortable = ("phone_number",)
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
