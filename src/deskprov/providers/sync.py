"""deskprov's SIP objects and phone numbers against a provider's: the drift between them, the
provider calls that make the provider match deskprov (repair), and what of the provider's
deskprov can take in (import). Plain data in and out; the service reads and writes the database
around it, and never holds a transaction while this calls the provider.

Numbers differ from SIP objects in one way: releasing a number is for good (and someone pays
for it), so a repair never releases one deskprov does not know. A number bought by a change
that was interrupted before deskprov recorded it is taken in as a bought phone instead (the
customer has paid for its month already, and a delete here releases it whenever they wish;
a release cannot be taken back); a phone whose delete released the number at the provider
before it was interrupted is deleted here too.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from deskprov.domain import rules
from deskprov.providers.base import (
    MAPPING_KINDS,
    NumberMarket,
    OwnedNumber,
    Progress,
    RemoteState,
    SipHost,
    calls_come_here,
)

log = logging.getLogger(__name__)

TWILIO_DOMAIN_SUFFIX = ".sip.twilio.com"
MAPPING_NAMES = {"registrations": "Auth/Registrations", "calls": "Auth/Calls"}


@dataclass(frozen=True)
class LocalDomain:
    id: str
    prefix: str
    name: str
    sid: str | None


@dataclass(frozen=True)
class LocalList:
    id: str
    name: str
    sid: str | None


@dataclass(frozen=True)
class LocalUser:
    id: str
    username: str
    list_id: str
    sid: str | None


@dataclass(frozen=True)
class LocalAttachment:
    id: str
    domain_id: str
    list_id: str


@dataclass(frozen=True)
class LocalPhone:
    id: str
    phone_number: str
    sid: str | None
    bought: bool  # bought through deskprov (its calls come to deskprov), not added by hand


BUY = "provider_phone.buy"
RELEASE = "provider_phone.release"


@dataclass(frozen=True)
class Interrupted:
    """A change started at the provider and never committed here (``PendingChange``)."""

    id: str
    action: str
    target_type: str
    target_id: str | None
    since: str
    in_progress: bool  # too recent to tell from one still running
    detail: Mapping[str, str] = field(default_factory=dict)  # e.g. the number a buy was for


@dataclass(frozen=True)
class LocalState:
    domains: tuple[LocalDomain, ...] = ()
    lists: tuple[LocalList, ...] = ()
    users: tuple[LocalUser, ...] = ()
    attachments: tuple[LocalAttachment, ...] = ()
    phones: tuple[LocalPhone, ...] = ()
    interrupted: tuple[Interrupted, ...] = ()


@dataclass(frozen=True)
class Item:
    type: str
    detail: str
    id: str | None = None
    provider_sid: str | None = None


@dataclass
class Drift:
    missing: list[Item] = field(default_factory=list)
    unknown: list[Item] = field(default_factory=list)
    different: list[Item] = field(default_factory=list)
    # What repair works from (ids of ours; SIDs and mappings of theirs).
    missing_domains: list[LocalDomain] = field(default_factory=list)
    renamed_domains: list[LocalDomain] = field(default_factory=list)
    missing_lists: list[LocalList] = field(default_factory=list)
    renamed_lists: list[LocalList] = field(default_factory=list)
    missing_users: list[LocalUser] = field(default_factory=list)  # absent or in another list
    stale_users: list[LocalUser] = field(default_factory=list)  # password maybe not ours
    missing_mappings: list[tuple[LocalAttachment, str]] = field(default_factory=list)
    unknown_domains: set[str] = field(default_factory=set)
    unknown_lists: set[str] = field(default_factory=set)
    unknown_credentials: set[tuple[str, str]] = field(default_factory=set)  # (list SID, SID)
    unknown_mappings: set[tuple[str, str, str]] = field(default_factory=set)
    unknown_numbers: list[OwnedNumber] = field(default_factory=list)
    # Numbers: what repair does at the provider, and what the service then records here.
    elsewhere: list[tuple[str, OwnedNumber]] = field(default_factory=list)  # calls go elsewhere
    take_in: list[OwnedNumber] = field(default_factory=list)  # bought, never recorded here
    released: list[LocalPhone] = field(default_factory=list)  # released, never deleted here
    moved: list[tuple[LocalPhone, OwnedNumber]] = field(default_factory=list)  # another SID
    gone: list[LocalPhone] = field(default_factory=list)  # not in the account: nothing to do
    busy: bool = False  # a change is in progress at the provider right now


def compare(ours: LocalState, theirs: RemoteState, host: SipHost) -> Drift:
    drift = Drift()
    domains = {d.sid: d for d in theirs.domains}
    lists = {cl.sid: cl for cl in theirs.lists}
    credentials = {c.sid: c for c in theirs.credentials}

    for d in ours.domains:
        found = domains.get(d.sid) if d.sid else None
        if found is None:
            drift.missing_domains.append(d)
            drift.missing.append(Item("sip_domain", _absent(d.sid, d.prefix), id=d.id))
            continue
        problems = []
        if found.friendly_name != d.name:
            problems.append(f"named {found.friendly_name!r} at the provider")
        if not found.sip_registration:
            problems.append("registration is off")
        if found.voice_url != host.voice_url() or found.voice_method != "POST":
            problems.append(f"calls go to {found.voice_url or 'nowhere'}")
        if problems:
            drift.renamed_domains.append(d)
            drift.different.append(Item("sip_domain", "; ".join(problems), d.id, d.sid))

    for cl in ours.lists:
        found_list = lists.get(cl.sid) if cl.sid else None
        if found_list is None:
            drift.missing_lists.append(cl)
            drift.missing.append(Item("credential_list", _absent(cl.sid, cl.name), id=cl.id))
        elif found_list.friendly_name != cl.name:
            drift.renamed_lists.append(cl)
            drift.different.append(
                Item(
                    "credential_list",
                    f"named {found_list.friendly_name!r} at the provider",
                    cl.id,
                    cl.sid,
                )
            )

    list_sids = {cl.id: cl.sid for cl in ours.lists}
    for u in ours.users:
        found_cred = credentials.get(u.sid) if u.sid else None
        if found_cred is None:
            drift.missing_users.append(u)
            drift.missing.append(Item("sip_user", _absent(u.sid, u.username), id=u.id))
        elif found_cred.list_sid != list_sids.get(u.list_id):
            drift.missing_users.append(u)
            drift.different.append(
                Item("sip_user", f"in list {found_cred.list_sid} at the provider", u.id, u.sid)
            )

    domain_sids = {d.id: d.sid for d in ours.domains}
    wanted: set[tuple[str, str, str]] = set()
    for a in ours.attachments:
        d_sid, l_sid = domain_sids.get(a.domain_id), list_sids.get(a.list_id)
        for kind in MAPPING_KINDS:
            if d_sid and l_sid:
                wanted.add((d_sid, l_sid, kind))
            if not (d_sid and l_sid and (d_sid, l_sid, kind) in theirs.mappings):
                drift.missing_mappings.append((a, kind))
                drift.missing.append(
                    Item("credential_attachment", f"no {MAPPING_NAMES[kind]} mapping", id=a.id)
                )

    users = {u.id: u for u in ours.users}
    for change in ours.interrupted:
        state = "in progress" if change.in_progress else "interrupted"
        drift.busy = drift.busy or change.in_progress
        number = change.detail.get("phone_number")
        of = f" of {number}" if number else ""
        drift.different.append(
            Item(
                change.target_type,
                f"{state}: {change.action}{of} started {change.since} and not committed here",
                change.target_id,
            )
        )
        user = users.get(change.target_id or "")
        if not change.in_progress and user is not None and user not in drift.missing_users:
            drift.stale_users.append(user)

    known_domains = {d.sid for d in ours.domains}
    for rd in theirs.domains:
        if rd.sid not in known_domains:
            drift.unknown_domains.add(rd.sid)
            drift.unknown.append(
                Item("sip_domain", f"{rd.domain_name} ({rd.friendly_name})", provider_sid=rd.sid)
            )
    known_lists = {cl.sid for cl in ours.lists}
    for rl in theirs.lists:
        if rl.sid not in known_lists:
            drift.unknown_lists.add(rl.sid)
            drift.unknown.append(Item("credential_list", rl.friendly_name, provider_sid=rl.sid))
    expected = {(list_sids.get(u.list_id), u.sid) for u in ours.users if u.sid}
    for rc in theirs.credentials:
        if (rc.list_sid, rc.sid) not in expected:
            drift.unknown_credentials.add((rc.list_sid, rc.sid))
            drift.unknown.append(
                Item("sip_user", f"{rc.username} in list {rc.list_sid}", provider_sid=rc.sid)
            )
    for mapping in sorted(theirs.mappings - wanted):
        d_sid, l_sid, kind = mapping
        drift.unknown_mappings.add(mapping)
        drift.unknown.append(
            Item(
                "credential_attachment",
                f"list {l_sid} mapped under {MAPPING_NAMES[kind]} of domain {d_sid}",
                provider_sid=l_sid,
            )
        )
    compare_numbers(ours, theirs, host.voice_url(), drift)
    return drift


def compare_numbers(ours: LocalState, theirs: RemoteState, voice_url: str, drift: Drift) -> None:
    """Our phones against the account's numbers, matched by SID (then by number, for a number
    the account holds under another SID). A bought phone's calls must come to deskprov."""
    numbers = {n.sid: n for n in theirs.numbers}
    by_number = {n.phone_number: n for n in theirs.numbers}
    claimed = {p.sid for p in ours.phones if p.sid in numbers}
    settled = [c for c in ours.interrupted if not c.in_progress]
    releases = {c.target_id for c in settled if c.action == RELEASE}
    for p in ours.phones:
        found = numbers.get(p.sid or "")
        if found is None:
            again = by_number.get(p.phone_number)
            if p.id in releases:
                drift.released.append(p)
                detail = "released at the provider by a delete that was interrupted"
                drift.missing.append(Item("provider_phone", f"{p.phone_number}: {detail}", p.id))
            elif again is not None and again.sid not in claimed:
                claimed.add(again.sid)
                drift.moved.append((p, again))
                if p.bought and not calls_come_here(again, voice_url):
                    drift.elsewhere.append((p.id, again))
                detail = f"{p.phone_number} is {again.sid} at the provider, not {p.sid}"
                drift.different.append(Item("provider_phone", detail, p.id, p.sid))
            else:
                drift.gone.append(p)
                detail = f"{p.phone_number}: {p.sid} is not in the provider account"
                drift.missing.append(Item("provider_phone", detail, p.id, p.sid))
        elif p.bought and not calls_come_here(found, voice_url):
            drift.elsewhere.append((p.id, found))
            goes = found.calls_taken_by or found.voice_url or "nowhere"
            drift.different.append(Item("provider_phone", f"calls go to {goes}", p.id, found.sid))

    ours_numbers = {p.phone_number for p in ours.phones}
    bought = {c.detail.get("phone_number") for c in settled if c.action == BUY}
    for n in theirs.numbers:
        if n.sid in claimed:
            continue
        detail = n.phone_number
        if n.phone_number in bought and n.phone_number not in ours_numbers:
            drift.take_in.append(n)
            detail += ": bought by a change that was interrupted before deskprov recorded it"
        drift.unknown_numbers.append(n)
        drift.unknown.append(Item("provider_phone", detail, provider_sid=n.sid))


def _absent(sid: str | None, what: str) -> str:
    return f"{what}: {sid} is not at the provider" if sid else f"{what}: never made there"


# --- repair ---------------------------------------------------------------------------------

StoreSid = Callable[[str, str, str], Awaitable[None]]  # (type, our id, SID)


async def repair(
    host: SipHost,
    ours: LocalState,
    theirs: RemoteState,
    drift: Drift,
    passwords: dict[str, str | None],
    store_sid: StoreSid,
    progress: Progress,
) -> list[Item]:
    """Make the provider match deskprov: make what is missing (taking over an object of the
    provider's that has the very name or username, rather than failing on it), fix what differs,
    delete what deskprov does not have, in reverse dependency order. Each new SID is stored as
    soon as it is known. ``passwords``: SIP user id -> password (None when unknown)."""
    done: list[Item] = []
    progress.grow(
        len(drift.missing_domains)
        + len(drift.renamed_domains)
        + len(drift.missing_lists)
        + len(drift.renamed_lists)
        + len(drift.missing_users)
        + len(drift.stale_users)
        + len(drift.missing_mappings)
        + len(drift.unknown_mappings)
        + len(drift.unknown_credentials)
        + len(drift.unknown_lists)
        + len(drift.unknown_domains)
    )
    domain_sids = {d.id: d.sid for d in ours.domains}
    list_sids = {cl.id: cl.sid for cl in ours.lists}

    by_name = {d.domain_name: d.sid for d in theirs.domains if d.sid in drift.unknown_domains}
    for d in drift.missing_domains:
        sid = by_name.get(host.domain_name(d.prefix))
        if sid is not None:
            drift.unknown_domains.discard(sid)
            await host.update_domain(sid, d.name)
            detail = f"took over the provider's {host.domain_name(d.prefix)}"
        else:
            sid = await host.create_domain(d.prefix, d.name)
            detail = "made at the provider"
        await store_sid("sip_domain", d.id, sid)
        domain_sids[d.id] = sid
        done.append(Item("sip_domain", detail, d.id, sid))
        progress.advance()
    for d in drift.renamed_domains:
        assert d.sid is not None
        await host.update_domain(d.sid, d.name)
        done.append(Item("sip_domain", "name, registration and voice URL set", d.id, d.sid))
        progress.advance()

    list_by_name = {
        cl.friendly_name: cl.sid for cl in theirs.lists if cl.sid in drift.unknown_lists
    }
    for cl in drift.missing_lists:
        sid = list_by_name.pop(cl.name, None)
        if sid is not None:
            drift.unknown_lists.discard(sid)
            detail = "took over the provider's list of that name"
        else:
            sid = await host.create_list(cl.name)
            detail = "made at the provider"
        await store_sid("credential_list", cl.id, sid)
        list_sids[cl.id] = sid
        done.append(Item("credential_list", detail, cl.id, sid))
        progress.advance()
    for cl in drift.renamed_lists:
        assert cl.sid is not None
        await host.rename_list(cl.sid, cl.name)
        done.append(Item("credential_list", "renamed", cl.id, cl.sid))
        progress.advance()

    unknown_by_user = {
        (c.list_sid, c.username): c.sid
        for c in theirs.credentials
        if (c.list_sid, c.sid) in drift.unknown_credentials
    }
    for u in drift.missing_users:
        password = passwords.get(u.id)
        list_sid = list_sids.get(u.list_id)
        progress.advance()
        if password is None or list_sid is None:
            done.append(Item("sip_user", "skipped: its password is unknown; set one", u.id))
            continue
        sid = unknown_by_user.get((list_sid, u.username))
        if sid is not None:
            drift.unknown_credentials.discard((list_sid, sid))
            await host.set_password(list_sid, sid, password)
        else:
            sid = await host.create_credential(list_sid, u.username, password)
        await store_sid("sip_user", u.id, sid)
        done.append(Item("sip_user", f"made in list {list_sid}", u.id, sid))
    for u in drift.stale_users:
        password, list_sid = passwords.get(u.id), list_sids.get(u.list_id)
        progress.advance()
        if password is None or list_sid is None or u.sid is None:
            continue
        await host.set_password(list_sid, u.sid, password)
        done.append(Item("sip_user", "password set again", u.id, u.sid))

    for a, kind in drift.missing_mappings:
        d_sid, l_sid = domain_sids.get(a.domain_id), list_sids.get(a.list_id)
        progress.advance()
        if d_sid and l_sid:
            await host.map(d_sid, l_sid, kind)
            done.append(Item("credential_attachment", f"{MAPPING_NAMES[kind]} mapped", a.id))

    for d_sid, l_sid, kind in sorted(drift.unknown_mappings):
        await host.unmap(d_sid, l_sid, kind)
        done.append(Item("credential_attachment", f"{MAPPING_NAMES[kind]} unmapped", None, l_sid))
        progress.advance()
    for list_sid, sid in sorted(drift.unknown_credentials):
        await host.delete_credential(list_sid, sid)
        done.append(Item("sip_user", "deleted at the provider", provider_sid=sid))
        progress.advance()
    for sid in sorted(drift.unknown_lists):
        await host.delete_list(sid)
        done.append(Item("credential_list", "deleted at the provider", provider_sid=sid))
        progress.advance()
    for sid in sorted(drift.unknown_domains):
        await host.delete_domain(sid)
        done.append(Item("sip_domain", "deleted at the provider", provider_sid=sid))
        progress.advance()
    return done


async def repair_numbers(market: NumberMarket, drift: Drift, progress: Progress) -> list[Item]:
    """The provider's side of repairing numbers: calls sent to deskprov again (a bought phone's,
    and a number about to be taken in). What cannot be repaired is said, not done: a number
    gone from the account cannot be bought back by a repair (it may be someone else's now)."""
    done: list[Item] = []
    pointed: list[tuple[str | None, OwnedNumber]] = [*drift.elsewhere]
    pointed += [(None, n) for n in drift.take_in if not calls_come_here(n, market.voice_url())]
    progress.grow(len(pointed))
    for phone_id, number in pointed:
        progress.advance()
        if number.calls_taken_by:
            why = (
                f"not repaired: Twilio gives the number's calls to {number.calls_taken_by} "
                "before any voice URL, and its API (as described) cannot clear that: clear "
                "it in Twilio's console, then repair again"
            )
            done.append(Item("provider_phone", why, phone_id, number.sid))
            continue
        await market.send_calls_here(number.sid)
        done.append(Item("provider_phone", "calls sent to deskprov again", phone_id, number.sid))
    for p in drift.gone:
        done.append(
            Item(
                "provider_phone",
                f"not repaired: {p.phone_number} is no longer in the provider account, and a "
                "repair does not buy numbers; delete the phone here (nothing is released), then "
                "buy or add the number again",
                p.id,
                p.sid,
            )
        )
    return done


# --- import ---------------------------------------------------------------------------------


@dataclass
class Import:
    """What of the provider's deskprov takes in, and what it cannot (with why)."""

    domains: list[tuple[str, str, str]] = field(default_factory=list)  # (SID, prefix, name)
    lists: list[tuple[str, str]] = field(default_factory=list)  # (SID, name)
    users: list[tuple[str, str, str]] = field(default_factory=list)  # (SID, username, list SID)
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (domain SID, list SID)
    # (number, bought): bought when deskprov bought it (an interrupted buy), else manual.
    numbers: list[tuple[OwnedNumber, bool]] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)


def importable(
    ours: LocalState,
    theirs: RemoteState,
    drift: Drift,
    taken_prefixes: set[str],
    taken_numbers: set[str],
) -> Import:
    """``taken_prefixes``: twilio prefixes deskprov already has (any organisation's);
    ``taken_numbers``: phone numbers the organisation already has (in any account)."""
    plan = Import()
    numbers = set(taken_numbers)
    for n in drift.unknown_numbers:
        if n.phone_number in numbers:
            why = "already a phone of the organisation"
            plan.skipped.append(Item("provider_phone", f"{n.phone_number}: {why}", None, n.sid))
        else:
            numbers.add(n.phone_number)
            plan.numbers.append((n, n in drift.take_in))
    for d in theirs.domains:
        if d.sid not in drift.unknown_domains:
            continue
        prefix = d.domain_name.removesuffix(TWILIO_DOMAIN_SUFFIX)
        if not d.domain_name.endswith(TWILIO_DOMAIN_SUFFIX) or not rules.DOMAIN_PREFIX.match(
            prefix
        ):
            plan.skipped.append(
                Item("sip_domain", f"{d.domain_name}: not a name deskprov can manage", None, d.sid)
            )
        elif prefix in taken_prefixes:
            plan.skipped.append(
                Item("sip_domain", f"{d.domain_name}: prefix taken in deskprov", None, d.sid)
            )
        else:
            plan.domains.append((d.sid, prefix, clean_name(d.friendly_name, prefix)))
    names = {cl.name for cl in ours.lists}
    for cl in theirs.lists:
        if cl.sid in drift.unknown_lists:
            name = clean_name(cl.friendly_name, cl.sid)
            if name in names:
                name = clean_name(f"{name} ({cl.sid[-6:]})", cl.sid)
            names.add(name)
            plan.lists.append((cl.sid, name))
    usernames = {u.username for u in ours.users}
    for c in theirs.credentials:
        if (c.list_sid, c.sid) not in drift.unknown_credentials:
            continue
        if not rules.SIP_USERNAME.match(c.username) or c.username in usernames:
            why = (
                "already a SIP user" if c.username in usernames else "not a username deskprov takes"
            )
            plan.skipped.append(Item("sip_user", f"{c.username}: {why}", None, c.sid))
            continue
        usernames.add(c.username)
        plan.users.append((c.sid, c.username, c.list_sid))
    pairs = sorted({(d, cl) for d, cl, _ in drift.unknown_mappings})
    plan.attachments = pairs
    return plan


def clean_name(name: str, fallback: str) -> str:
    """A provider's name as one of ours: no control characters, 1 to 100 characters."""
    cleaned = " ".join(rules.CONTROL_CHARACTERS.sub(" ", name).split())[:100]
    return cleaned or fallback[:100]
