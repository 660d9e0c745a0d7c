"""Rendering: jinja2 with StrictUndefined, XML autoescaped by construction, and every output
checked the way the phone will read it before it is served."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import jinja2
import jinja2.meta
from lxml import etree

from deskprov.domain.config import PhoneConfig
from deskprov.domain.rules import CONTROL_CHARACTERS, has_control_characters
from deskprov.vendors.profile import Model, Profile

MASK = "********"


class RenderError(RuntimeError):
    """A template produced output that the phone could not read: a bug, never served."""


def cfg_value(value: object) -> str:
    """A cfg value cannot be escaped: control characters (CR, LF, ...) are removed."""
    return CONTROL_CHARACTERS.sub("", str(value))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


def check_xml(body: bytes) -> None:
    try:
        etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise RenderError(f"rendered XML does not parse: {exc}") from exc


def check_cfg(body: bytes) -> None:
    text = body.decode("utf-8")
    if text.startswith("\ufeff") or not text.startswith("#!version:1.0.0.1\n"):
        raise RenderError("a cfg file must start with #!version:1.0.0.1")
    for number, line in enumerate(text.split("\n"), 1):
        if has_control_characters(line):
            raise RenderError(f"line {number} holds a control character")
        if line and not line.startswith("#") and "=" not in line:
            raise RenderError(f"line {number} is not 'key = value'")


# What a template is given to render.
RENDER_NAMES = frozenset({"config", "codes", "model", "provisioning_url"})


@dataclass(frozen=True)
class Rendered:
    body: bytes
    content_type: str
    config: PhoneConfig


class Renderer:
    def __init__(self, root: Path, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        self._envs = {vendor: self._environment(root / vendor) for vendor in profiles}
        self._reads: dict[tuple[str, str], frozenset[str]] = {}

    @staticmethod
    def _environment(folder: Path) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folder),
            undefined=jinja2.StrictUndefined,
            autoescape=lambda name: bool(name and name.endswith(".xml.j2")),
            keep_trailing_newline=True,
            trim_blocks=False,
            auto_reload=False,
        )
        env.filters["cfg"] = cfg_value
        return env

    def reads(self, profile: Profile, template: str, model: Model) -> frozenset[str]:
        """The names a template reads (of ``config``, ``codes``, ``model``,
        ``provisioning_url``): a file that reads no ``config`` owes nothing to the database
        (only, if it reads ``provisioning_url``, to its URL) and needs no database read."""
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
        *,
        mask_passwords: bool = False,
    ) -> Rendered:
        if mask_passwords:
            config = replace(
                config, lines=tuple(replace(line, password=MASK) for line in config.lines)
            )
        name = template.format(dialect=model.dialect)
        text = (
            self._envs[profile.vendor]
            .get_template(name)
            .render(
                config=config,
                codes=profile.codes,
                model={**model.extra, **model.__dict__},
                provisioning_url=provisioning_url,
            )
        )
        body = _tidy(text).encode("utf-8")
        if profile.format == "xml":
            check_xml(body)
        else:
            check_cfg(body)
        return Rendered(body=body, content_type=profile.content_type, config=config)


def _tidy(text: str) -> str:
    """No blank lines, one final newline: byte-identical output whatever the template spacing.

    Split on LF only: str.splitlines() also splits on U+2028 and friends, which are legal
    inside a user's name.
    """
    lines = (line.rstrip(" \t\r") for line in text.split("\n"))
    return "\n".join(line for line in lines if line.strip(" \t")) + "\n"
