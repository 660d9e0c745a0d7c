"""The tables Kamailio reads, shaped as its modules expect them, in deskprov's own database.

Kamailio reads them through a connection that can only read (see ``kamailio.cfg.j2``); deskprov
writes them in the same transaction as the change they follow (``registrar.sync``). Names carry
a ``kamailio_`` prefix so that they cannot be mistaken for deskprov's own data; the generated
configuration points each module at its table, and Kamailio's ``version`` table at
``kamailio_version``.

The routing plan's decisions are in ``kamailio_route`` (what each dialled string reaches) and
``kamailio_caller`` (the caller ID of each SIP user's calls to numbers), which the configuration
reads with ``sqlops`` queries at every new call (no module checks their version).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskprov.db.models import ID, Base

PROVIDER = "whippy_phone"  # the provider whose SIP domains our Kamailio serves

SUBSCRIBER = "kamailio_subscriber"
VERSION = "kamailio_version"
ROUTE = "kamailio_route"
CALLER = "kamailio_caller"

# What Kamailio checks in its version table at start: auth_db's subscriber schema is version 7.
TABLE_VERSIONS = {SUBSCRIBER: 7}
# Every table Kamailio may read (its PostgreSQL role gets SELECT on these, and nothing else).
READ_BY_KAMAILIO = (VERSION, SUBSCRIBER, ROUTE, CALLER)


class KamailioSubscriber(Base):
    """``auth_db``'s subscriber row: one per SIP user of a ``whippy_phone`` account and domain its
    credential list is attached to. No clear password: ``ha1`` is MD5(username:realm:password)
    and ``ha1b`` MD5(username@domain:realm:password), the realm being the domain."""

    __tablename__ = SUBSCRIBER
    __table_args__ = (UniqueConstraint("username", "domain"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    domain: Mapped[str] = mapped_column(String(190))
    ha1: Mapped[str] = mapped_column(String(64))
    ha1b: Mapped[str] = mapped_column(String(64))
    # deskprov's bookkeeping (Kamailio ignores it): which account and SIP user a row follows,
    # and which sealed password its digests were made from (a SHA-256 prefix of the sealed
    # value), so that rows whose password did not change are kept without decrypting it.
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("provider_accounts.id"), index=True)
    sip_user_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sip_users.id", ondelete="CASCADE"), index=True
    )
    sealed_ref: Mapped[str] = mapped_column(String(32))


class KamailioVersion(Base):
    """Kamailio's ``version`` table (``version_table`` in the generated configuration)."""

    __tablename__ = VERSION
    table_name: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_version: Mapped[int] = mapped_column(Integer)


class KamailioRoute(Base):
    """One target of what a dialled string reaches, as the routing plan decided it: for calls
    from the account's SIP users (``source`` "phone": every key extension, team and queue
    extension and SIP username) and for calls from the PSTN gateway to the account's voice
    numbers (``source`` "gateway": the route of the channel that has the number).

    ``strategy`` says how Kamailio rings the targets: ``ring_all`` (all at once),
    ``sequential`` (one after the other, ``ring_seconds`` each), ``pstn`` (``target`` is a
    number for the gateway) or ``none`` (nobody can answer: one row, no target, and ``reason``
    says why). ``ring_seconds`` 0: Kamailio's default ring time."""

    __tablename__ = ROUTE
    __table_args__ = (UniqueConstraint("account_id", "source", "dialled", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("provider_accounts.id"))
    source: Mapped[str] = mapped_column(String(8))
    dialled: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16))
    ring_seconds: Mapped[int] = mapped_column(Integer)
    target: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(160))
    # deskprov's bookkeeping (Kamailio ignores it): the resource the dialled string reaches,
    # for a channel the one its route names, and the key whose extension it is, so that a
    # change of a key, team, queue, channel or user re-derives only the routes through it.
    reaches_id: Mapped[str] = mapped_column(String(32), index=True)
    via_id: Mapped[str] = mapped_column(String(32), index=True)
    key_id: Mapped[str] = mapped_column(String(32), index=True)


class KamailioCaller(Base):
    """The caller ID a SIP user's calls to numbers carry (``RoutingPlan.caller_id``); a SIP user
    without one (no channel number, no number with voice in the account) has no row."""

    __tablename__ = CALLER
    __table_args__ = (UniqueConstraint("account_id", "username"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("provider_accounts.id"))
    username: Mapped[str] = mapped_column(String(64))
    caller_id: Mapped[str] = mapped_column(String(32))
