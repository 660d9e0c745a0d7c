"""Vendor profiles: the data in ``device_templates/<vendor>/profile.toml``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from deskprov.domain.mac import normalise_mac
from deskprov.domain.rules import FORBIDDEN_TEXT

Serve = Literal["render", "upload", "absent"]


def templates_root() -> Path:
    """``device_templates``: inside the installed package, or beside ``src`` in a checkout."""
    packaged = Path(str(files("deskprov"))) / "device_templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "device_templates"


@dataclass(frozen=True)
class FileRule:
    pattern: re.Pattern[str]
    serve: Serve
    template: str | None = None
    secrets: bool = False


@dataclass(frozen=True)
class FileMatch:
    rule: FileRule
    mac: str | None  # normalised, from the file name


@dataclass(frozen=True)
class UserAgent:
    vendor: str
    model: str | None
    firmware: str | None
    mac: str | None


@dataclass(frozen=True)
class Model:
    name: str
    keys: int
    max_lines: int
    expansion_modules: int = 0
    expansion_keys_per_module: int = 0
    dialect: str = "default"
    lines_on_keys: bool = True  # False: lines have keys of their own (Fanvil side keys)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    vendor: str
    content_type: str
    format: Literal["xml", "cfg"]
    default_model: str
    files: tuple[FileRule, ...]
    user_agents: tuple[re.Pattern[str], ...]
    samples: tuple[dict[str, str], ...]
    codes: Codes
    models: dict[str, Model]
    model_strip: str = ""
    model_space: str = " "
    languages: dict[str, str] = field(default_factory=dict)

    def language_for(self, tag: str | None) -> str | None:
        """The vendor's value for BCP 47 ``tag`` ("fr-CA", then "fr"); None: unknown here, the
        phone keeps its own language."""
        if not tag:
            return None
        tag = tag.lower()
        return self.languages.get(tag) or self.languages.get(tag.split("-", 1)[0])

    def match_file(self, name: str) -> FileMatch | None:
        for rule in self.files:
            found = rule.pattern.fullmatch(name)
            if found:
                mac_text = found.groupdict().get("mac")
                return FileMatch(rule, normalise_mac(mac_text) if mac_text else None)
        return None

    def parse_user_agent(self, text: str) -> UserAgent | None:
        for pattern in self.user_agents:
            found = pattern.match(text)
            if found:
                groups = found.groupdict()
                model = groups.get("model")
                if model:
                    for ch in self.model_strip:
                        model = model.replace(ch, "")
                    model = model.replace(" ", self.model_space)
                    model = _printable(model)
                firmware = groups.get("firmware")
                mac = groups.get("mac")
                return UserAgent(
                    vendor=self.vendor,
                    model=model or None,
                    firmware=_printable(firmware) if firmware else None,
                    mac=normalise_mac(mac) if mac else None,
                )
        return None

    def model(self, name: str | None) -> Model:
        """The named model's row; unknown models get the ``default`` row under their own name."""
        if name and name in self.models:
            return self.models[name]
        base = self.models["default"]
        return Model(**{**base.__dict__, "name": name or self.default_model})


class Codes(SimpleNamespace):
    """A profile's ``[codes]`` (tables within as Codes too), read by templates as ``codes.blf``
    or ``codes[kind]``. Attributes, because jinja looks a name up as an attribute first: on a
    dict that lookup failed, and raised and caught an exception, for every code in every file."""

    @classmethod
    def of(cls, table: dict[str, Any]) -> Codes:
        return cls(**{k: cls.of(v) if isinstance(v, dict) else v for k, v in table.items()})

    def __getitem__(self, key: str) -> Any:
        return self.__dict__[key]

    def get(self, key: str, default: Any = None) -> Any:  # (codes.old_language.get(tag, 0))
        return self.__dict__.get(key, default)


def _printable(text: str) -> str:
    """A user agent's piece without what no file or database may hold (control characters,
    surrogates from undecodable bytes, non-characters)."""
    return FORBIDDEN_TEXT.sub("", text)


def load_profile(folder: Path) -> Profile:
    data = tomllib.loads((folder / "profile.toml").read_text(encoding="utf-8"))
    max_lines = int(data["max_lines"])
    rules = tuple(
        FileRule(
            pattern=re.compile(f["pattern"], re.IGNORECASE),
            serve=f["serve"],
            template=f.get("template"),
            secrets=bool(f.get("secrets", False)),
        )
        for f in data["files"]
    )
    known = {
        "keys",
        "max_lines",
        "expansion_modules",
        "expansion_keys_per_module",
        "dialect",
        "lines_on_keys",
    }
    models = {
        name: Model(
            name=name,
            keys=int(row["keys"]),
            max_lines=int(row.get("max_lines", max_lines)),
            expansion_modules=int(row.get("expansion_modules", 0)),
            expansion_keys_per_module=int(row.get("expansion_keys_per_module", 0)),
            dialect=str(row.get("dialect", "default")),
            lines_on_keys=bool(row.get("lines_on_keys", True)),
            extra={k: v for k, v in row.items() if k not in known},
        )
        for name, row in data["models"].items()
    }
    return Profile(
        vendor=data["vendor"],
        content_type=data["content_type"],
        format=data["format"],
        default_model=data["default_model"],
        files=rules,
        user_agents=tuple(re.compile(u["pattern"], re.IGNORECASE) for u in data["user_agents"]),
        samples=tuple(s for u in data["user_agents"] for s in u.get("samples", [])),
        codes=Codes.of(data.get("codes", {})),
        models=models,
        model_strip=data.get("model_strip", ""),
        model_space=data.get("model_space", " "),
        languages={k.lower(): str(v) for k, v in data.get("languages", {}).items()},
    )


def load_profiles(root: Path | None = None) -> dict[str, Profile]:
    root = root or templates_root()
    profiles = {}
    for folder in sorted(p for p in root.iterdir() if (p / "profile.toml").is_file()):
        profile = load_profile(folder)
        profiles[profile.vendor] = profile
    return profiles


def identify(profiles: dict[str, Profile], user_agent: str) -> UserAgent | None:
    """Which vendor's phone sent ``user_agent`` (model, firmware and MAC when it says)."""
    for profile in profiles.values():
        found = profile.parse_user_agent(user_agent)
        if found:
            return found
    return None
