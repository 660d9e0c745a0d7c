"""Configuration files read back the way the phones read them (vendors.md, "Parsing rules")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, recover=False)
FANVIL_MEMORY_VALUE = re.compile(r"^[^@]+@\d+/(f|bc|bcV|bb|ba|bf|i|c|a|m)(.*)$")


def yealink_cfg(body: bytes) -> dict[str, str]:
    text = body.decode("utf-8")  # strict: must be UTF-8
    assert not text.startswith("\ufeff"), "BOM"
    lines = text.split("\n")
    assert lines[0] == "#!version:1.0.0.1"
    values: dict[str, str] = {}
    for line in lines[1:]:
        assert "\r" not in line
        if not line.strip() or line.startswith("#"):
            continue
        assert "=" in line, line
        key, _, value = line.partition("=")
        value = value.strip()
        values[key.strip()] = "" if value == "%NULL%" else value
    return values


def polycom_master(body: bytes) -> list[str]:
    root = etree.fromstring(body, parser=PARSER)
    assert root.tag == "APPLICATION"
    return [name.strip() for name in root.get("CONFIG_FILES").split(",")]


def polycom_params(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body, parser=PARSER)
    values: dict[str, str] = {}
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # comments
        for name, value in element.attrib.items():
            values.setdefault(name, value)  # the first occurrence wins on Polycom
    return values


@dataclass(frozen=True)
class FanvilLine:
    user: str
    password: str
    server: str
    display_name: str


@dataclass(frozen=True)
class FanvilKey:
    page: int
    index: int
    type: str
    value: str
    title: str


@dataclass(frozen=True)
class Fanvil:
    dialect: str
    version: str
    lines: dict[int, FanvilLine]
    keys: list[FanvilKey]


def fanvil(body: bytes) -> Fanvil:
    root = etree.fromstring(body, parser=PARSER)
    if root.tag == "sysConf":
        version = root.findtext("Version")
        lines = {}
        for line in root.iter("line"):
            index = int(line.get("index"))
            assert index not in lines, "line index repeated"
            lines[index] = FanvilLine(
                line.findtext("RegisterUser"),
                line.findtext("RegisterPswd"),
                line.findtext("RegisterAddr"),
                line.findtext("DisplayName"),
            )
        keys = []
        for side in root.iter("dssSide"):
            page = int(side.get("index"))
            indexes = [int(k.get("index")) for k in side.iter("Fkey")]
            assert len(indexes) == len(set(indexes)), "Fkey index repeated on a page"
            keys += [
                FanvilKey(
                    page,
                    int(k.get("index")),
                    k.findtext("Type"),
                    k.findtext("Value"),
                    k.findtext("Title"),
                )
                for k in side.iter("Fkey")
            ]
        dialect = "sysconf"
    else:
        assert root.tag == "VOIP_CONFIG_FILE"
        version = root.findtext("version")
        lines = {}
        for entry in root.iter("SIP_Line_List_Entry"):
            index = int(entry.findtext("ID").removeprefix("SIP"))
            assert index not in lines
            lines[index] = FanvilLine(
                entry.findtext("Register_User"),
                entry.findtext("Register_Pswd"),
                entry.findtext("Register_Addr"),
                entry.findtext("Display_Name"),
            )
        keys = [
            FanvilKey(
                1,
                int(e.findtext("ID").removeprefix("Fkey")),
                e.findtext("Type"),
                e.findtext("Value"),
                e.findtext("Title"),
            )
            for e in root.iter("Function_Key_Entry")
        ]
        dialect = "voip_config"
    assert version, "Fanvil files need a version"
    for key in keys:
        if key.type == "1":
            assert FANVIL_MEMORY_VALUE.match(key.value), key.value
    return Fanvil(dialect, version, lines, keys)
