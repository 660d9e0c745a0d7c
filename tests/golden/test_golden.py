"""One canonical configuration per vendor and dialect, compared byte for byte and read back as the
phone reads it. Regenerate after a deliberate template change with UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deskprov.domain.config import Line, MemoryKey, PhoneData
from deskprov.vendors.layout import lay_out
from deskprov.vendors.profile import load_profiles, templates_root
from deskprov.vendors.render import Renderer
from tests import phone_parsers

HERE = Path(__file__).parent
URL = "https://prov.example.com/p/TOKEN/"

DATA = PhoneData(
    lines=(
        Line(1, "alice", "Sup3r&Secret<\"'>", "acme.sip.twilio.com", "Zoë & <Ops>", "Zoë & <Ops>"),
        Line(2, "alice-2", "An0ther-Passw0rd", "acme.sip.twilio.com", "Zoë & <Ops>", "Zoë & <Ops>"),
    ),
    keys=(
        MemoryKey("101", 'Bob "B" & Co', "blf", "bob", "ex_1"),
        MemoryKey("600", "Support <Q>", "blind_transfer", "600", "ex_2"),
        MemoryKey("700", "Sales", "speed_dial", "700", "ex_3"),
        MemoryKey("900", "Mobile", "speed_dial", "900", "ex_4"),
    ),
    data_version=42,
)

CASES = [
    ("polycom", "VVX400", "master.xml.j2", "polycom-master.xml"),
    ("polycom", "VVX400", "params.xml.j2", "polycom-params.xml"),
    ("yealink", "T46S", "common.cfg.j2", "yealink-common.cfg"),
    ("yealink", "T46S", "mac.cfg.j2", "yealink-mac.cfg"),
    ("fanvil", "X4U", "{dialect}.xml.j2", "fanvil-sysconf.xml"),
    ("fanvil", "X4", "{dialect}.xml.j2", "fanvil-voip-config.xml"),
]

RENDERER = Renderer(templates_root(), load_profiles())


def render(vendor: str, model_name: str, template: str) -> bytes:
    profile = RENDERER.profiles[vendor]
    model = profile.model(model_name)
    config = lay_out(vendor, model, DATA, "0015654c4c26")
    return RENDERER.render(profile, template, model, config, URL).body


@pytest.mark.parametrize(("vendor", "model", "template", "golden"), CASES)
def test_golden(vendor: str, model: str, template: str, golden: str) -> None:
    body = render(vendor, model, template)
    path = HERE / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(body)
    assert body == path.read_bytes()
    assert body == render(vendor, model, template)  # no timestamps, no randomness


def test_polycom_reads_lines_and_keys() -> None:
    assert phone_parsers.polycom_master(render("polycom", "VVX400", "master.xml.j2")) == [
        "[PHONE_MAC_ADDRESS]-deskprov.cfg"
    ]
    p = phone_parsers.polycom_params(render("polycom", "VVX400", "params.xml.j2"))
    assert p["reg.1.address"] == "alice" and p["reg.1.auth.userId"] == "alice"
    assert p["reg.1.auth.password"] == "Sup3r&Secret<\"'>"
    assert p["reg.1.server.1.address"] == "acme.sip.twilio.com"
    assert p["reg.1.displayName"] == "Zoë & <Ops>"
    assert p["reg.2.address"] == "alice-2"
    assert p["device.prov.tagSerialNo"] == "1" and p["device.set"] == "1"
    # Lines on keys 1-2, then the memory keys from key 3.
    assert [p[f"lineKey.{k}.category"] for k in range(1, 7)] == [
        "Line",
        "Line",
        "BLF",
        "EFK",
        "EFK",
        "EFK",
    ]
    assert p["attendant.resourceList.1.address"] == "bob"
    assert p["attendant.resourceList.1.label"] == 'Bob "B" & Co'
    assert p["attendant.resourceList.1.type"] == "normal"
    efk = {p[f"efk.efklist.{i}.label"]: p[f"efk.efklist.{i}.action.string"] for i in (1, 2, 3)}
    assert efk == {"Support <Q>": "600$Trefer$", "Sales": "700$Tinvite$", "Mobile": "900$Tinvite$"}
    assert p["lineKey.4.index"] == "1" and p["lineKey.6.index"] == "3"


def test_yealink_reads_lines_and_keys() -> None:
    common = phone_parsers.yealink_cfg(render("yealink", "T46S", "common.cfg.j2"))
    assert common["features.enhanced_dss_keys.enable"] == "1"
    assert common["transfer.dsskey_deal_type"] == "0"
    y = phone_parsers.yealink_cfg(render("yealink", "T46S", "mac.cfg.j2"))
    assert y["account.1.user_name"] == y["account.1.auth_name"] == "alice"
    assert y["account.1.password"] == "Sup3r&Secret<\"'>"
    assert y["account.1.sip_server.1.address"] == "acme.sip.twilio.com"
    assert y["account.1.display_name"] == "Zoë & <Ops>"
    assert (y["linekey.1.type"], y["linekey.1.line"]) == ("15", "1")
    assert (y["linekey.2.type"], y["linekey.2.line"]) == ("15", "2")
    assert (y["linekey.3.type"], y["linekey.3.value"], y["linekey.3.label"]) == (
        "16",
        "bob",
        'Bob "B" & Co',
    )
    assert (y["linekey.4.type"], y["linekey.4.value"]) == ("73", "600$Trefer$")
    assert (y["linekey.5.type"], y["linekey.5.value"]) == ("13", "700")
    assert y["linekey.6.value"] == "900"


@pytest.mark.parametrize(("model", "dialect"), [("X4U", "sysconf"), ("X4", "voip_config")])
def test_fanvil_reads_lines_and_keys(model: str, dialect: str) -> None:
    f = phone_parsers.fanvil(render("fanvil", model, "{dialect}.xml.j2"))
    assert f.dialect == dialect and f.version == "2.0000000042"
    assert f.lines[1] == phone_parsers.FanvilLine(
        "alice", "Sup3r&Secret<\"'>", "acme.sip.twilio.com", "Zoë & <Ops>"
    )
    assert f.lines[2].user == "alice-2"
    by_value = {k.value: k for k in f.keys}
    assert by_value["SIP1"].type == "2" and by_value["SIP2"].type == "2"
    assert by_value["bob@1/bc"].title == 'Bob "B" & Co'
    assert "600@1/bb" in by_value and "700@1/f" in by_value and "900@1/f" in by_value


def test_fanvil_pages_keys_within_page() -> None:
    f = phone_parsers.fanvil(render("fanvil", "X4U", "{dialect}.xml.j2"))  # 6 keys a page
    assert [(k.page, k.index) for k in f.keys] == [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 6)]
