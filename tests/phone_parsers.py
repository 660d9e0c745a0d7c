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


def polycom_directory(body: bytes) -> dict[int, tuple[str, str]]:
    """Speed-dial index -> (label, contact) from a Polycom contact directory."""
    root = etree.fromstring(body, parser=PARSER)
    assert root.tag == "directory"
    found: dict[int, tuple[str, str]] = {}
    for item in root.iter("item"):
        sd = item.findtext("sd")
        if sd:
            assert int(sd) not in found, "speed-dial index repeated"
            found[int(sd)] = (item.findtext("lb") or item.findtext("fn") or "", item.findtext("ct"))
    return found


@dataclass(frozen=True)
class FanvilLine:
    user: str
    password: str
    server: str
    display_name: str
    enabled: bool = True


@dataclass(frozen=True)
class FanvilKey:
    page: int
    index: int
    type: str
    value: str
    title: str
    element: str = "dssSide"  # dssSide (side keys), internal (function keys), Function_Key_Entry


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
                line.findtext("RegisterUser") or "",
                line.findtext("RegisterPswd") or "",
                line.findtext("RegisterAddr") or "",
                line.findtext("DisplayName") or "",
                line.findtext("EnableReg") == "1",
            )
        keys = []
        for element in ("dssSide", "internal"):
            pages = [int(p.get("index")) for p in root.iter(element)]
            assert len(pages) == len(set(pages)), f"{element} page repeated"
            for holder in root.iter(element):
                page = int(holder.get("index"))
                indexes = [int(k.get("index")) for k in holder.iter("Fkey")]
                assert len(indexes) == len(set(indexes)), "Fkey index repeated on a page"
                keys += [
                    FanvilKey(
                        page,
                        int(k.get("index")),
                        k.findtext("Type"),
                        k.findtext("Value") or "",
                        k.findtext("Title") or "",
                        element,
                    )
                    for k in holder.iter("Fkey")
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
                entry.findtext("Register_User") or "",
                entry.findtext("Register_Pswd") or "",
                entry.findtext("Register_Addr") or "",
                entry.findtext("Display_Name") or "",
                entry.findtext("Enable_Reg") == "1",
            )
        keys = [
            FanvilKey(
                1,
                int(e.findtext("ID").removeprefix("Fkey")),
                e.findtext("Type"),
                e.findtext("Value") or "",
                e.findtext("Title") or "",
                "Function_Key_Entry",
            )
            for e in root.iter("Function_Key_Entry")
        ]
        dialect = "voip_config"
    assert version, "Fanvil files need a version"
    for key in keys:
        assert key.type in ("0", "1", "2"), key
        if key.type == "1":
            assert FANVIL_MEMORY_VALUE.match(key.value), key.value
        if key.type == "0":
            assert key.value == "" and key.title == "", "an empty key holds something"
    return Fanvil(dialect, version, lines, keys)


def yealink_accounts(values: dict[str, str]) -> dict[int, dict[str, str]]:
    """Account index -> its parameters (account.N.*), as the phone groups them."""
    found: dict[int, dict[str, str]] = {}
    for key, value in values.items():
        parts = key.split(".")
        if parts[0] == "account" and parts[1].isdigit():
            found.setdefault(int(parts[1]), {})[".".join(parts[2:])] = value
    return found


def yealink_keys(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """Key ("linekey.3", "expansion_module.1.key.4") -> its parameters."""
    found: dict[str, dict[str, str]] = {}
    for key, value in values.items():
        parts = key.split(".")
        if parts[0] == "linekey":
            found.setdefault(".".join(parts[:2]), {})[parts[2]] = value
        elif parts[0] == "expansion_module":
            found.setdefault(".".join(parts[:4]), {})[parts[4]] = value
    return found
