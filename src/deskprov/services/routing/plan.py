"""The routing plan of one provider account: what a dialled string reaches.

A plan is a snapshot of the account's routing data (its SIP users and keys; the organisation's
users, teams, queues and channels; the account's numbers), read once (``load.load_plan``) and
then asked without the database:

- ``route(caller, dialled)``: a call from a SIP user of the account. ``dialled`` is, in this
  order, a key's extension, a team's or queue's own extension, a SIP username of the account, or
  a phone number (E.164, or national digits in the account's region); anything else is unknown.
- ``inbound(number)``: a call from outside to a number: the route of the channel that has it.
- ``dialable()``: every extension and SIP username with its decision, for a registrar's tables;
  with ``caller_id(username)`` for what its PSTN calls carry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import phonenumbers

from deskprov.domain.routing import Decision, Kind, Reaches, Strategy, Target

DEFAULT_REGION = "US"  # for national digits when the account has no number to take it from
# Digits with the separators people type; a leading + for E.164. (Letters are not numbers here,
# although phonenumbers reads 1-800-FLOWERS.)
NUMBERISH = re.compile(r"^\+?[0-9(][0-9 ().-]{1,30}$")
SEPARATORS = re.compile(r"[ ().-]")


@dataclass(frozen=True)
class SipEndpoint:
    id: str
    username: str
    uri: str | None  # sip:<username>@<its list's first attached domain>; None: no domain
    user_id: str | None
    channel_id: str | None


@dataclass(frozen=True)
class Key:
    """A memory key's extension and what it targets."""

    id: str
    extension: str
    label: str
    target_type: str  # sip_user, agent, team, queue, channel, phone_number
    target_ref: str  # the target's id (the E.164 number for phone_number)


@dataclass(frozen=True)
class Group:
    """A team (always ring_all) or a queue; members are user ids in their order."""

    kind: str  # team or queue
    id: str
    name: str
    extension: str | None
    member_ids: tuple[str, ...]
    strategy: Strategy = "ring_all"
    ring_seconds: int | None = None


@dataclass(frozen=True)
class ChannelRoute:
    id: str
    name: str
    phone_number: str | None
    route_type: str | None  # sip_user, agent, team, queue
    route_ref: str | None


def region_of(numbers: Iterable[str]) -> str:
    """The region (ISO 3166 alpha-2) of the first of ``numbers`` that names one."""
    for number in numbers:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(number))
        except phonenumbers.NumberParseException:
            continue
        if region and region != "ZZ":
            return str(region)
    return DEFAULT_REGION


def _unique(targets: Iterable[Target]) -> tuple[Target, ...]:
    return tuple(dict.fromkeys(targets))


class RoutingPlan:
    def __init__(
        self,
        *,
        account_id: str,
        sip_users: Iterable[SipEndpoint],
        keys: Iterable[Key],
        groups: Iterable[Group],
        channels: Iterable[ChannelRoute],
        user_names: Mapping[str, str],
        numbers: Iterable[tuple[str, bool]],
    ) -> None:
        """``sip_users``, ``groups`` and ``numbers`` (E.164, has voice) in creation order."""
        self.account_id = account_id
        self.sip_users = tuple(sip_users)
        self.keys = tuple(keys)
        self.groups = tuple(groups)
        self._by_id = {u.id: u for u in self.sip_users}
        self._by_username = {u.username: u for u in self.sip_users}
        self._by_owner: dict[str, list[SipEndpoint]] = {}
        for sip_user in self.sip_users:
            if sip_user.user_id is not None:
                self._by_owner.setdefault(sip_user.user_id, []).append(sip_user)
        self._keys = {k.extension: k for k in self.keys}
        self._groups = {(g.kind, g.id): g for g in self.groups}
        self._group_extensions: dict[str, Group] = {}
        for group in self.groups:  # the first group with an extension keeps it
            if group.extension:
                self._group_extensions.setdefault(group.extension, group)
        self._channels = {c.id: c for c in channels}
        self._channel_numbers: dict[str, ChannelRoute] = {}
        for channel in self._channels.values():
            if channel.phone_number:
                self._channel_numbers.setdefault(channel.phone_number, channel)
        self._user_names = dict(user_names)
        numbers = tuple(numbers)
        self.voice_numbers = tuple(n for n, voice in numbers if voice)
        # National digits are read as the account's own numbers are: voice numbers first.
        self.region = region_of([*self.voice_numbers, *(n for n, _ in numbers)])

    # --- the questions ----------------------------------------------------------------------
    def route(self, caller: str | None, dialled: str) -> Decision:
        """A call from SIP user ``caller`` (None: any SIP user without a channel number)."""
        dialled = dialled.strip()
        calling: SipEndpoint | None = None
        if caller is not None:
            calling = self._by_username.get(caller)
            if calling is None:
                return Decision(
                    dialled,
                    "unknown",
                    f"the caller {caller} is not a SIP user of this provider account, "
                    "so its calls go nowhere",
                )
        key = self._keys.get(dialled)
        if key is not None:
            what = f'the extension of the key "{key.label}"'
            return _named(self._key(key, calling), dialled, "extension", what)
        group = self._group_extensions.get(dialled)
        if group is not None:
            what = f'the extension of {group.kind} "{group.name}"'
            return _named(self._group(group), dialled, "extension", what)
        sip_user = self._by_username.get(dialled)
        if sip_user is not None:
            what = "a SIP username of this account"
            return _named(self._sip_user(sip_user), dialled, "sip_user", what)
        number = self.number(dialled)
        if number is not None:
            if number.isdigit():
                what = "an emergency number"
            elif number == dialled:
                what = "a phone number"
            else:
                what = f"the phone number {number} (read in region {self.region})"
            return _named(self._pstn(number, calling), dialled, "pstn", what)
        return Decision(
            dialled,
            "unknown",
            f'"{dialled}" is not an extension, a SIP username of this account or a phone number',
        )

    def inbound(self, number: str) -> Decision:
        """A call from outside to ``number`` (E.164): where its channel's route goes."""
        channel = self._channel_numbers.get(number)
        if channel is None:
            return Decision(number, "unknown", f"no channel has the number {number}")
        found = self._channel(channel)
        return replace(found, dialled=number, kind="inbound")

    def dialable(self) -> list[Decision]:
        """Every key extension, team and queue extension and SIP username, once each, with
        what a call to it reaches (caller IDs as for a SIP user without a channel)."""
        return [self.route(None, name) for name in self.dialable_names()]

    def dialable_names(self) -> list[str]:
        """What ``dialable`` answers for, in its order (for a registrar that re-derives a few)."""
        names = [
            *(k.extension for k in self.keys),
            *self._group_extensions,
            *(u.username for u in self.sip_users),
        ]
        return list(dict.fromkeys(names))

    def has_sip_user(self, username: str) -> bool:
        return username in self._by_username

    def caller_id(self, username: str | None) -> str | None:
        """What a PSTN call from this SIP user shows: its channel's number, else the account's
        first number with voice."""
        calling = self._by_username.get(username) if username else None
        return self._caller_id(calling)

    def number(self, dialled: str) -> str | None:
        """``dialled`` as a number on the public network: E.164, or an emergency number of the
        account's region as dialled; None when it is not one."""
        if not NUMBERISH.match(dialled):
            return None
        digits = SEPARATORS.sub("", dialled)
        if not digits.startswith("+") and phonenumbers.is_emergency_number(digits, self.region):
            return digits
        try:
            parsed = phonenumbers.parse(digits, None if digits.startswith("+") else self.region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(parsed):
            return None
        return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))

    # --- resolving a target -----------------------------------------------------------------
    # Each returns a decision whose dialled and kind the caller of the helper sets.
    def _key(self, key: Key, calling: SipEndpoint | None) -> Decision:
        kind, ref = key.target_type, key.target_ref
        if kind == "phone_number":
            return self._pstn(ref, calling)
        if kind == "sip_user":
            sip_user = self._by_id.get(ref)
            if sip_user is None:
                return _nobody("the SIP user it targets is not in this account")
            return self._sip_user(sip_user)
        if kind == "agent":
            return self._agent(ref)
        if kind == "channel":
            channel = self._channels.get(ref)
            if channel is None:
                return _nobody("the channel it targets no longer exists")
            return self._channel(channel)
        group = self._groups.get((kind, ref))
        if group is None:
            return _nobody(f"the {kind} it targets no longer exists")
        return self._group(group)

    def _sip_user(self, sip_user: SipEndpoint) -> Decision:
        reaches = Reaches("sip_user", sip_user.id, sip_user.username)
        if sip_user.uri is None:
            return _nobody(
                f"SIP user {sip_user.username} cannot ring: its credential list is attached to "
                "no SIP domain",
                reaches,
            )
        return Decision(
            "",
            "unknown",
            f"rings SIP user {sip_user.username}",
            targets=(Target("sip", sip_user.uri),),
            strategy="ring_all",
            reaches=reaches,
        )

    def _agent(self, user_id: str) -> Decision:
        name = self._user_names.get(user_id, user_id)
        reaches = Reaches("agent", user_id, name)
        targets = self._targets_of([user_id])
        if not targets:
            return _nobody(
                f"agent {name} has no SIP user in this account that can ring: nobody can answer",
                reaches,
            )
        return Decision(
            "",
            "unknown",
            f"rings agent {name}'s {len(targets)} SIP user(s) at once",
            targets=targets,
            strategy="ring_all",
            reaches=reaches,
        )

    def _group(self, group: Group) -> Decision:
        reaches = Reaches("team" if group.kind == "team" else "queue", group.id, group.name)
        what = f"{group.kind} {group.name}"
        if not group.member_ids:
            return _nobody(f"{what} has no members: nobody can answer", reaches)
        targets = self._targets_of(group.member_ids)
        if not targets:
            return _nobody(
                f"none of the {len(group.member_ids)} member(s) of {what} has a SIP user in this "
                "account that can ring: nobody can answer",
                reaches,
            )
        how = (
            f"one at a time, {group.ring_seconds} s each"
            if group.strategy == "sequential"
            else "all at once"
        )
        return Decision(
            "",
            "unknown",
            f"{what} rings its members' {len(targets)} SIP user(s) {how}",
            targets=targets,
            strategy=group.strategy,
            ring_seconds=group.ring_seconds,
            reaches=reaches,
        )

    def _channel(self, channel: ChannelRoute) -> Decision:
        reaches = Reaches("channel", channel.id, channel.name)
        kind, ref = channel.route_type, channel.route_ref
        if kind is None or ref is None:
            return _nobody(f"channel {channel.name} has no route: nobody can answer", reaches)
        if kind == "sip_user":
            sip_user = self._by_id.get(ref)
            found = (
                self._sip_user(sip_user)
                if sip_user is not None
                else _nobody("the SIP user of its route belongs to another provider account")
            )
        elif kind == "agent":
            found = self._agent(ref)
        else:
            group = self._groups.get((kind, ref))
            found = self._group(group) if group else _nobody(f"its route's {kind} is gone")
        return replace(
            found,
            reaches=reaches,
            explanation=f"channel {channel.name}'s calls go to {kind} "
            f"{found.reaches.name if found.reaches else ref}: {found.explanation}",
        )

    def _pstn(self, number: str, calling: SipEndpoint | None) -> Decision:
        caller_id = self._caller_id(calling)
        shown = (
            f"caller ID {caller_id}"
            if caller_id
            else "no caller ID (the caller's channel has no number and the account has no "
            "number with voice), so the call cannot be placed"
        )
        return Decision(
            "",
            "pstn",
            f"calls {number} on the public network with {shown}",
            targets=(Target("number", number),),
            caller_id=caller_id,
            reaches=Reaches("phone_number", number, number),
        )

    def _caller_id(self, calling: SipEndpoint | None) -> str | None:
        if calling is not None and calling.channel_id is not None:
            channel = self._channels.get(calling.channel_id)
            if channel is not None and channel.phone_number:
                return channel.phone_number
        return self.voice_numbers[0] if self.voice_numbers else None

    def _targets_of(self, user_ids: Iterable[str]) -> tuple[Target, ...]:
        """The SIP users that can ring of these users, user by user, in creation order."""
        return _unique(
            Target("sip", sip_user.uri)
            for user_id in user_ids
            for sip_user in self._by_owner.get(user_id, ())
            if sip_user.uri is not None
        )


def _named(found: Decision, dialled: str, kind: Kind, what: str) -> Decision:
    """A target's decision as the answer for ``dialled``, which is ``what``."""
    return replace(
        found, dialled=dialled, kind=kind, explanation=f"{dialled} is {what}: {found.explanation}"
    )


def _nobody(why: str, reaches: Reaches | None = None) -> Decision:
    return Decision("", "unknown", why, reaches=reaches)
