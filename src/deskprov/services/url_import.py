"""Bulk provisioning: a CSV of phones (MAC, vendor, user email, optional label and time zone)
checked row by row, then one MAC-bound provisioning URL made per good row.

Each row becomes the API's own ``ProvisioningUrlCreate`` and is made by
``ProvisioningUrls.create`` (its rules, role and audit event); what the import adds is the
reading of the file, users found by email, and two rules about the batch: a MAC once per file,
and not a MAC that already has a live URL.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deskprov.db.models import ProvisioningUrl, User
from deskprov.domain.mac import normalise_mac
from deskprov.errors import AppError, Invalid
from deskprov.schemas import provisioning as schema
from deskprov.services.base import Scope
from deskprov.services.provisioning_urls import ProvisioningUrls

MAX_ROWS = 1000
COLUMNS = ("mac", "vendor", "user_email")
OPTIONAL = ("label", "timezone")
FIELD_OF = {"user_id": "user_email", "body": "row"}


@dataclass
class ImportRow:
    line: int  # in the file, the header being line 1
    values: dict[str, str]
    user_name: str | None = None
    errors: dict[str, str] = field(default_factory=dict)  # column -> why
    made: schema.ProvisioningUrlView | None = None
    body: schema.ProvisioningUrlCreate | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def read_csv(text: str) -> list[ImportRow]:
    """The file's rows, by column name (header names in any case); ``Invalid`` for a file
    that is not such a CSV."""
    lines = text.lstrip("\ufeff").splitlines()
    reader = csv.reader(lines)
    header = [h.strip().lower().replace(" ", "_") for h in next(reader, [])]
    if "email" in header and "user_email" not in header:
        header[header.index("email")] = "user_email"
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise Invalid(
            "the first line must name the columns: mac, vendor, user_email "
            "(and optionally label, timezone)",
            fields={"csv": "missing column(s): " + ", ".join(missing)},
        )
    rows: list[ImportRow] = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        values = {
            name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header)
        }
        rows.append(ImportRow(number, {k: values.get(k, "") for k in (*COLUMNS, *OPTIONAL)}))
    if not rows:
        raise Invalid("the file has no phones in it", fields={"csv": "no rows below the header"})
    if len(rows) > MAX_ROWS:
        raise Invalid(
            f"at most {MAX_ROWS} phones per file", fields={"csv": f"{len(rows)} rows: split it"}
        )
    return rows


class UrlImport:
    def __init__(self, urls: ProvisioningUrls) -> None:
        self.urls = urls
        self.deps = urls.deps

    async def check(self, scope: Scope, text: str) -> list[ImportRow]:
        """What importing ``text`` would do, row by row, changing nothing."""
        scope.actor.require(self.urls.write_role)
        rows = read_csv(text)
        async with self.deps.db.read() as s:
            await self.urls.account(s, scope)
            emails = {r.values["user_email"].lower() for r in rows}
            users = {
                u.email.lower(): u
                for u in (
                    await s.scalars(
                        select(User).where(
                            User.org_id == scope.actor.org_id, func.lower(User.email).in_(emails)
                        )
                    )
                ).all()
            }
            macs = {normalise_mac(r.values["mac"]) for r in rows} - {None}
            live = set(
                (
                    await s.scalars(
                        select(ProvisioningUrl.mac).where(
                            ProvisioningUrl.org_id == scope.actor.org_id,
                            ProvisioningUrl.mac.in_(macs),
                            ProvisioningUrl.revoked_at.is_(None),
                        )
                    )
                ).all()
            )
            seen: dict[str, int] = {}
            for row in rows:
                await self._check_row(s, scope, row, users, live, seen)
        return rows

    async def _check_row(
        self,
        s: AsyncSession,
        scope: Scope,
        row: ImportRow,
        users: dict[str, User],
        live: set[str | None],
        seen: dict[str, int],
    ) -> None:
        values = row.values
        mac = normalise_mac(values["mac"])
        if mac is None:
            row.errors["mac"] = "not a MAC address (12 hex digits)"
        elif mac in seen:
            row.errors["mac"] = f"also on line {seen[mac]}"
        elif mac in live:
            row.errors["mac"] = "already has a live URL: revoke it first"
        if mac is not None:
            seen.setdefault(mac, row.line)
        user = users.get(values["user_email"].lower())
        if user is None:
            row.errors["user_email"] = "no user with this email: add them on the Users page"
        else:
            row.user_name = user.name
        body: dict[str, object] = {
            "user_id": user.id if user else "us_unknown",
            "vendor": values["vendor"].lower(),
            "mac": values["mac"],
        }
        if values["label"]:
            body["label"] = values["label"]
        if values["timezone"]:
            if "timezone" not in schema.ProvisioningUrlCreate.model_fields:
                row.errors["timezone"] = "a time zone per phone is not supported yet"
            else:
                body["timezone"] = values["timezone"]
        try:
            row.body = schema.ProvisioningUrlCreate.model_validate(body)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                name = str(err["loc"][0]) if err["loc"] else "body"
                column = FIELD_OF.get(name, name)
                why = "one of polycom, yealink, fanvil" if column == "vendor" else err["msg"]
                row.errors.setdefault(column, why)
        if user is not None and "user_email" not in row.errors:
            try:
                await self.urls.check_user_has_a_line(s, scope, user.id)
            except AppError as exc:
                row.errors["user_email"] = exc.message

    async def run(self, scope: Scope, text: str) -> list[ImportRow]:
        """Check the file again, then make a URL for each good row (rows with problems are
        left out and keep them)."""
        rows = await self.check(scope, text)
        for row in rows:
            if row.ok and row.body is not None:
                try:
                    row.made = await self.urls.create(scope, row.body)
                except AppError as exc:  # changed since the check
                    row.errors["row"] = exc.message
        return rows
