"""Rendering: jinja2 with StrictUndefined, XML autoescaped by construction, and every output
checked the way the phone will read it before it is served."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes

from deskprov.domain.config import PhoneConfig, PhoneSettings
from deskprov.domain.rules import FORBIDDEN_TEXT
from deskprov.services.caches import Lru
from deskprov.vendors.output import (
    STAND_IN,
    Fragment,
    RenderError,
    check,
    joined,
    make_fragment,
    spliced,
    tag_of,
    tidy,
)
from deskprov.vendors.profile import Model, Profile

__all__ = ["MASK", "RENDER_NAMES", "RenderError", "Rendered", "Renderer", "cfg_value"]

MASK = "********"


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
    fields = list(_values(config, settings))
    # (All values at once, joined by a space that either format carries: printable ASCII, what
    # values usually are, fits both and is told by two scans in C. Only a file that fails is
    # gone through field by field, to name the field.)
    joined = " ".join([value for _, value, _ in fields])
    unfit = _NOT_XML if profile.format == "xml" else _NOT_CFG
    fits = (joined.isascii() and joined.isprintable()) or not unfit.search(joined)
    if fits and (
        profile.format == "xml"
        or all(value == value.strip(" \t") for _, value, secret in fields if secret)
    ):
        return
    for name, value, secret in fields:
        problem = _value_problem(profile.format, value, secret=secret)
        if problem is not None:
            raise RenderError(f"{name} {problem}", field=name)


# Remembered fragments per vendor, least recently used forgotten first: at most this many bytes,
# each fragment weighing its bytes and FRAGMENT_COST more (so at most 4,096 small ones). A
# fragment of personal keys is one phone's own and can reach ~20 kB with expansion modules; the
# shared ones (a model's unused slots, an account's settings) stay while phones use them, and
# stay the same objects, which the cache of rendered files holds once (``SharingLru``).
FRAGMENT_BYTES = 8 * 1024 * 1024
FRAGMENT_COST = 2048


def _fragment_weight(fragment: Fragment) -> int:
    return len(fragment.data) + FRAGMENT_COST


# What a template is given to render.
RENDER_NAMES = frozenset({"config", "codes", "model", "provisioning_url", "settings"})


@dataclass(frozen=True)
class Rendered:
    """A file in parts (``output.spliced``: its own bytes at even places, remembered
    fragments at odd ones), so that a cache of files holds each fragment once for all."""

    parts: tuple[bytes, ...]
    content_type: str
    config: PhoneConfig
    etag: str  # (``output.tag_of``)

    @property
    def body(self) -> bytes:
        return joined(self.parts)


# What a phone's file is rendered with besides RENDER_NAMES: its settings and the fragments it
# uses so far, for the ``fragment`` filter (a fragment is rendered without: it holds none).
_FILE = "_deskprov_file"

# The mark of a fragment's place in a file while it is made: a character neither format can carry
# (nothing else puts it there; a stray one fails the file), this process's nonce and a number.
_MARK = "\x00"


class Renderer:
    def __init__(self, root: Path, profiles: dict[str, Profile]) -> None:
        self.profiles = profiles
        self._envs = {vendor: self._environment(root / vendor, p) for vendor, p in profiles.items()}
        self._reads: dict[tuple[str, str], frozenset[str]] = {}
        self._nonce = secrets.token_hex(8) + ":"
        self._models: dict[tuple[str, str], SimpleNamespace] = {}
        self._mark_names: list[str] = []
        self._made: dict[str, Lru[tuple[object, ...], Fragment]] = {
            vendor: Lru(FRAGMENT_BYTES, _fragment_weight) for vendor in profiles
        }
        for vendor, env in self._envs.items():
            env.filters["fragment"] = self._fragment_filter(vendor)

    def _fragment_filter(self, vendor: str) -> Callable[..., str]:
        """The ``fragment`` filter of a vendor's templates: ``"_name.j2"|fragment(**numbers)``
        is another template of the vendor rendered with the profile's ``codes``, the file's
        ``settings`` if it reads them, and those numbers only; made (tidied and checked) once
        and remembered. A file states every slot of its model, and the unused ones (accounts 3
        to 16, keys 7 to 267 ...) read the same for every phone of the model, as the settings do
        for every phone of the account: written once, not once per phone in a boot storm. What
        the file gets is a mark, replaced by the fragment when the file is finished (see
        ``output.spliced``). (A filter, not a function: jinja calls a function through its
        context, ~2.4 us a call, six calls a file; a filter that takes the context is called
        directly, and never folded into the template when it is compiled.)"""
        env, codes, made = self._envs[vendor], self.profiles[vendor].codes, self._made[vendor]
        fmt = self.profiles[vendor].format
        mark = _MARK + self._nonce

        @jinja2.pass_context  # (called with the context, and never at compile time)
        def fragment(context: jinja2.runtime.Context, name: str, **numbers: object) -> str:
            file = context.parent.get(_FILE)
            if file is None:
                raise RenderError(f"{name}: fragments are for phones' files, not for fragments")
            settings, used = file
            reads = self._template_reads(vendor, name)
            wanted = settings if "settings" in reads else None
            key = (name, tuple(sorted(numbers.items())), wanted)
            found = made.get(key)
            if found is None:
                if reads - {"codes", "settings"}:
                    raise RenderError(f"{name}: a fragment reads only codes and settings")
                text = env.get_template(name).render(codes=codes, settings=wanted, **numbers)
                found = make_fragment(fmt, text)
                made.put(key, found)
            used.append(found)
            return f"{mark}{len(used) - 1}{_MARK}"  # (nothing in it to escape)

        return fragment

    def _model_view(self, vendor: str, model: Model) -> SimpleNamespace:
        """What a template sees of ``model``: its row and the profile's extra settings for it,
        made once per model row of the profile. (Any other model, such as one a user agent
        names, or the default row under the default model's name, is made each time.)"""
        if self.profiles[vendor].models.get(model.name) is not model:
            return SimpleNamespace(**{**model.extra, **model.__dict__})
        key = (vendor, model.name)
        found = self._models.get(key)
        if found is None:
            found = self._models[key] = SimpleNamespace(**{**model.extra, **model.__dict__})
        return found

    def warm(self) -> None:
        """Compile every template and learn what each reads, now rather than for the first
        phones of a boot storm (~0.2 s of CPU, a tenth of a 2,000-phone storm); a template that
        does not compile stops the server at start instead of failing phones."""
        for vendor, env in self._envs.items():
            for name in env.list_templates(filter_func=lambda name: name.endswith(".j2")):
                env.get_template(name)
                self._template_reads(vendor, name)

    @staticmethod
    def _environment(folder: Path, profile: Profile) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=_TemplateLoader(folder),
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
        ``provisioning_url``, ``settings``), with those its fragments read: a file that reads
        neither ``config`` nor ``settings`` owes nothing to the database (only, if it reads
        ``provisioning_url``, to its URL) and needs no database read."""
        return self._template_reads(profile.vendor, template.format(dialect=model.dialect))

    def _template_reads(self, vendor: str, name: str) -> frozenset[str]:
        key = (vendor, name)
        found = self._reads.get(key)
        if found is None:
            env = self._envs[vendor]
            assert env.loader is not None
            source, _, _ = env.loader.get_source(env, name)
            tree = env.parse(source)
            if any(True for _ in jinja2.meta.find_referenced_templates(tree)):
                found = RENDER_NAMES  # (what an included template reads is not looked into)
            else:
                found = frozenset(jinja2.meta.find_undeclared_variables(tree)) & RENDER_NAMES
                for used in tree.find_all(jinja2.nodes.Filter):
                    if used.name != "fragment":
                        continue
                    if isinstance(used.node, jinja2.nodes.Const) and isinstance(
                        used.node.value, str
                    ):
                        found |= self._template_reads(vendor, used.node.value)
                    else:
                        found = RENDER_NAMES  # (a fragment named at render time: anything)
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
        used: list[Fragment] = []
        text = (
            self._envs[profile.vendor]
            .get_template(name)
            .render(
                config=config,
                codes=profile.codes,
                model=self._model_view(profile.vendor, model),
                provisioning_url=provisioning_url,
                settings=settings,
                **{_FILE: (settings, used)},
            )
        )
        fragments: list[Fragment] = []
        if used:
            pieces, fragments = self._split(text, used)
            parts = spliced(profile.format, pieces, fragments)
        else:
            body = tidy(text).encode("utf-8")
            check(profile.format, body)
            parts = (body,)
        return Rendered(parts, profile.content_type, config, tag_of(parts, fragments))

    def _split(self, text: str, used: list[Fragment]) -> tuple[list[str], list[Fragment]]:
        """The file's own text around its fragments' marks, and the fragments in that order:
        the order they were made in (the usual case, told by one comparison), or the marks'."""
        parts = text.split(_MARK)
        if len(parts) % 2 and parts[1::2] == self._marks(len(used)):
            return parts[::2], used
        fragments = []
        for mark in parts[1::2]:
            number = mark.removeprefix(self._nonce)
            if number == mark or not (number.isascii() and number.isdigit()):
                break
            if int(number) >= len(used):
                break
            fragments.append(used[int(number)])
        else:
            if len(parts) % 2:
                return parts[::2], fragments
        raise RenderError("the file holds a control character")

    def _marks(self, count: int) -> list[str]:
        """The marks of the first ``count`` fragments of a file, as ``_split`` finds them."""
        while len(self._mark_names) < count:
            self._mark_names.append(f"{self._nonce}{len(self._mark_names)}")
        return self._mark_names[:count]


class _TemplateLoader(jinja2.FileSystemLoader):
    """Refuses a template that holds the prefix of the stand-ins a file is checked with
    (``output.STAND_IN``): one written by hand could pass for a fragment's."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if STAND_IN in source:
            raise RenderError(f"{template} holds {STAND_IN!r}, which is kept for fragments")
        return source, filename, uptodate


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
