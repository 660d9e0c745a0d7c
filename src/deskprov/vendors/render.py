"""Rendering: jinja2 with StrictUndefined, XML autoescaped by construction, and every output
checked the way the phone will read it before it is served."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import jinja2.meta
from lxml import etree
from markupsafe import Markup

from deskprov.domain.config import PhoneConfig, PhoneSettings
from deskprov.domain.rules import FORBIDDEN_TEXT
from deskprov.vendors.profile import Model, Profile

MASK = "********"


class RenderError(RuntimeError):
    """A file that the phone could not read. ``field`` names the value that cannot be written
    in the vendor's format (data stored before today's text rules, or a user agent); without
    one, the template itself is at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# What a cfg value cannot carry: a control character or line separator would end its line (or
# be taken for one), a lone surrogate cannot be encoded. (Non-characters are plain UTF-8 there.)
_NOT_CFG = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def cfg_value(value: object) -> str:
    """A cfg value cannot be escaped: what would break the line is removed. Stored values never
    hold any (see ``check_values``); a user agent's model might."""
    return _NOT_CFG.sub("", str(value))


def xml_comment(value: object) -> str:
    """Text that can sit inside an XML comment: no "--", no final "-" (and nothing XML forbids)."""
    text = FORBIDDEN_TEXT.sub("", str(value))
    while "--" in text:
        text = text.replace("--", "-")
    return text.rstrip("-")


# Not an XML 1.0 character (https://www.w3.org/TR/xml/#charsets), or a control character.
_NOT_XML = re.compile("[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _value_problem(fmt: str, value: str, *, secret: bool) -> str | None:
    """Why ``value`` cannot go into a file of format ``fmt`` as it is, or None."""
    if (_NOT_XML if fmt == "xml" else _NOT_CFG).search(value):
        return "holds a character this phone's file cannot carry"
    if fmt == "cfg" and secret and value != value.strip(" \t"):
        return "starts or ends with white space, which the phone would drop"
    return None


def _values(config: PhoneConfig, settings: PhoneSettings | None) -> Iterator[tuple[str, str, bool]]:
    """Every text value a file may carry: (field name, value, is a secret)."""
    for line in config.lines:
        where = f"lines.{line.index}"
        yield f"{where}.username", line.username, False
        yield f"{where}.password", line.password, True
        yield f"{where}.domain", line.domain, False
        yield f"{where}.display_name", line.display_name, False
        yield f"{where}.label", line.label, False
    for placed in config.keys + config.expansion_keys:
        where = f"keys.{placed.key.extension}"
        yield f"{where}.label", placed.key.label, False
        yield f"{where}.dial", placed.key.dial, False
    if settings is not None:
        yield "settings.admin_password", settings.admin_password, True
        yield "settings.voicemail_number", settings.voicemail_number or "", False
        for model, url in settings.firmware.items():
            yield f"settings.firmware.{model}", url, False
        for i, server in enumerate(settings.ntp_servers):
            yield f"settings.ntp_servers.{i}", server, False


def check_values(profile: Profile, config: PhoneConfig, settings: PhoneSettings | None) -> None:
    """Refuse, naming the field, a value the vendor's format cannot carry as it is."""
    for name, value, secret in _values(config, settings):
        problem = _value_problem(profile.format, value, secret=secret)
        if problem is not None:
            raise RenderError(f"{name} {problem}", field=name)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


def check_xml(body: bytes) -> None:
    try:
        etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise RenderError(f"rendered XML does not parse: {exc}") from exc


# C0 controls (less the line feed that ends each line) and DEL, as UTF-8 bytes; C1 controls are
# two bytes, 0xC2 0x80-0x9F. (Byte operations: a regex over a whole file cost more than the
# template that made it.)
_C0_BYTES = bytes(range(0x20)).replace(b"\n", b"") + b"\x7f"
_C1_BYTES = re.compile(b"\xc2[\x80-\x9f]")


def check_cfg(body: bytes) -> None:
    if not body.startswith(b"#!version:1.0.0.1\n"):  # (a BOM fails here too)
        raise RenderError("a cfg file must start with #!version:1.0.0.1")
    if len(body.translate(None, _C0_BYTES)) != len(body) or (
        b"\xc2" in body and _C1_BYTES.search(body)
    ):
        raise RenderError("the file holds a control character")
    for number, line in enumerate(body.decode("utf-8").split("\n"), 1):
        if line and "=" not in line and line[0] != "#":
            raise RenderError(f"line {number} is not 'key = value'")


FRAGMENTS = 4096  # remembered fragments per vendor (each a few kB at most)

# What a template is given to render.
RENDER_NAMES = frozenset({"config", "codes", "model", "provisioning_url", "settings"})


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    config: PhoneConfig


class Renderer:
    def __init__(self, root: Path, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        self._envs = {vendor: self._environment(root / vendor, p) for vendor, p in profiles.items()}
        self._reads: dict[tuple[str, str], frozenset[str]] = {}
        for vendor, env in self._envs.items():
            env.globals["fragment"] = self._fragments(env, profiles[vendor])

    @staticmethod
    def _fragments(env: jinja2.Environment, profile: Profile) -> Any:
        """``fragment(name, **numbers)``: another template of the vendor rendered with the
        profile's ``codes`` and those numbers only, and remembered. A file states every slot of
        its model, and the unused ones (accounts 3 to 16, keys 7 to 267 ...) read the same for
        every phone of the model: written once, not once per phone in a boot storm."""
        made: dict[tuple[str, tuple[tuple[str, Any], ...]], Markup] = {}

        def fragment(name: str, **numbers: int | str) -> Markup:
            key = (name, tuple(sorted(numbers.items())))
            found = made.get(key)
            if found is None:
                if len(made) >= FRAGMENTS:
                    made.clear()
                text = env.get_template(name).render(codes=profile.codes, **numbers)
                found = made[key] = Markup(text.rstrip("\n"))  # (escaped there, if XML)
            return found

        return fragment

    @staticmethod
    def _environment(folder: Path, profile: Profile) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".xml.j2")),
            keep_trailing_newline=True,
            trim_blocks=False,
            auto_reload=False,
        )
        env.filters["cfg"] = cfg_value
        env.filters["xml_comment"] = xml_comment
        env.filters["vendor_language"] = profile.language_for
        return env

    def reads(self, profile: Profile, template: str, model: Model) -> frozenset[str]:
        """The names a template reads (of ``config``, ``codes``, ``model``,
        ``provisioning_url``, ``settings``): a file that reads neither ``config`` nor
        ``settings`` owes nothing to the database (only, if it reads ``provisioning_url``, to
        its URL) and needs no database read."""
        name = template.format(dialect=model.dialect)
        key = (profile.vendor, name)
        found = self._reads.get(key)
        if found is None:
            env = self._envs[profile.vendor]
            assert env.loader is not None
            source, _, _ = env.loader.get_source(env, name)
            tree = env.parse(source)
            if any(True for _ in jinja2.meta.find_referenced_templates(tree)):
                found = RENDER_NAMES  # (what an included template reads is not looked into)
            else:
                found = frozenset(jinja2.meta.find_undeclared_variables(tree)) & RENDER_NAMES
            self._reads[key] = found
        return found

    def render(
        self,
        profile: Profile,
        template: str,
        model: Model,
        config: PhoneConfig,
        provisioning_url: str,
        settings: PhoneSettings | None = None,
        *,
        mask_passwords: bool = False,
    ) -> Rendered:
        """The file; ``settings`` only for templates that read them. A value the format cannot
        carry raises ``RenderError`` naming it, checked before the masks go on."""
        check_values(profile, config, settings)
        if mask_passwords:
            config = _masked(config)
            if settings is not None:
                settings = replace(settings, admin_password=MASK)
        name = template.format(dialect=model.dialect)
        text = (
            self._envs[profile.vendor]
            .get_template(name)
            .render(
                config=config,
                codes=profile.codes,
                model=SimpleNamespace(**{**model.extra, **model.__dict__}),
                provisioning_url=provisioning_url,
                settings=settings,
            )
        )
        body = _tidy(text).encode("utf-8")
        if profile.format == "xml":
            check_xml(body)
        else:
            check_cfg(body)
        return Rendered(body=body, content_type=profile.content_type, config=config)


def _masked(config: PhoneConfig) -> PhoneConfig:
    """``config`` with every line's password masked, wherever the line appears."""
    masked = {id(line): replace(line, password=MASK) for line in config.lines}

    def mask(item: Any) -> Any:
        return masked.get(id(item), item)

    return replace(
        config,
        lines=tuple(mask(line) for line in config.lines),
        accounts=tuple(mask(line) for line in config.accounts),
        slots=tuple(mask(slot) for slot in config.slots),
    )


def _tidy(text: str) -> str:
    """No blank lines, one final newline: byte-identical output whatever the template spacing.

    Split on LF only: str.splitlines() also splits on U+2028 and friends, which are legal
    inside a user's name.
    """
    text = text.lstrip("\n")
    if not any(mark in text for mark in _UNTIDY) and text.endswith("\n"):
        return text.rstrip("\n") + "\n"  # (the usual case: four scans in C, no loop)
    kept = [line for line in text.split("\n") if line.strip(" \t\r")]
    return "\n".join(line.rstrip(" \t\r") for line in kept) + "\n"


# What ``_tidy`` removes shows one of these: a blank line, or white space ending a line.
_UNTIDY = ("\n\n", " \n", "\t\n", "\r")
