"""The tables Kamailio reads, shaped as its modules expect them, in deskprov's own database.

Kamailio reads them through a connection that can only read (see ``kamailio.cfg.j2``); deskprov
writes them in the same transaction as the change they follow (``registrar.sync``). Names carry
a ``kamailio_`` prefix so that they cannot be mistaken for deskprov's own data; the generated
configuration points each module at its table, and Kamailio's ``version`` table at
``kamailio_version``.

Phase 2 (the routing plan) adds its table(s) here and to ``READ_BY_KAMAILIO`` (and a row in
``TABLE_VERSIONS`` and the migration if a Kamailio module checks its version).
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from deskprov.db.models import ID, Base

SUBSCRIBER = "kamailio_subscriber"
VERSION = "kamailio_version"

# What Kamailio checks in its version table at start: auth_db's subscriber schema is version 7.
TABLE_VERSIONS = {SUBSCRIBER: 7}
# Every table Kamailio may read (its PostgreSQL role gets SELECT on these, and nothing else).
READ_BY_KAMAILIO = (VERSION, SUBSCRIBER)


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
