"""One canonical configuration per vendor and dialect (and per model family where keys are laid
out differently), compared byte for byte and read back as the phone reads it: every slot of the
model stated, keys in the element the model shows them in, settings in each vendor's own form.
Regenerate after a deliberate template change with UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deskprov.domain.config import Line, MemoryKey, PhoneData, PhoneSettings
from deskprov.domain.timezones import zone_rules
from deskprov.vendors import render as render_module
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

# A deployment that set everything: another zone with daylight saving, two NTP servers, French,
# voicemail, TLS with SRTP, a firmware URL for the models of the golden files.
SETTINGS = PhoneSettings(
    zone=zone_rules("Europe/Paris", 2026),
    ntp_servers=("ntp1.example.com", "ntp2.example.com"),
    language="fr-FR",
    voicemail_number="*97",
    transport="tls",
    srtp="required",
    poll_minutes=30,
    nat_keepalive_seconds=25,
    firmware={"T46S": "https://fw.example.com/t46s.rom", "VVX400": "https://fw.example.com/vvx"},
    admin_password="Adm1nPassw0rd&<",
)

# What a phone gets when nothing was set (UTC, pool.ntp.org, UDP, no SRTP, no voicemail).
DEFAULTS = PhoneSettings(
    zone=zone_rules("UTC", 2026),
    ntp_servers=("pool.ntp.org",),
    language=None,
    voicemail_number=None,
    transport="udp",
    srtp="off",
    poll_minutes=60,
    nat_keepalive_seconds=30,
    firmware={},
    admin_password="Gener4tedAdmin",
)

CASES = [
    ("polycom", "VVX400", "master.xml.j2", "polycom-master.xml"),
    ("polycom", "VVX400", "params.xml.j2", "polycom-params.xml"),
    ("polycom", "VVX400", "directory.xml.j2", "polycom-directory.xml"),
    ("yealink", "T46S", "common.cfg.j2", "yealink-common.cfg"),
    ("yealink", "T46S", "mac.cfg.j2", "yealink-mac.cfg"),
    ("fanvil", "X4U", "{dialect}.xml.j2", "fanvil-sysconf.xml"),
    ("fanvil", "X5S", "{dialect}.xml.j2", "fanvil-sysconf-side.xml"),
    ("fanvil", "X4", "{dialect}.xml.j2", "fanvil-voip-config.xml"),
]

RENDERER = Renderer(templates_root(), load_profiles())


def render(
    vendor: str,
    model_name: str,
    template: str,
    data: PhoneData = DATA,
    settings: PhoneSettings = SETTINGS,
) -> bytes:
    profile = RENDERER.profiles[vendor]
    model = profile.model(model_name)
    config = lay_out(vendor, model, data, "0015654c4c26")
    return RENDERER.render(profile, template, model, config, URL, settings).body


@pytest.mark.parametrize(("vendor", "model", "template", "golden"), CASES)
def test_golden(vendor: str, model: str, template: str, golden: str) -> None:
    body = render(vendor, model, template)
    path = HERE / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(body)
    assert body == path.read_bytes()
    assert body == render(vendor, model, template)  # no timestamps, no randomness


def test_polycom_reads_lines_keys_and_settings() -> None:
    assert phone_parsers.polycom_master(render("polycom", "VVX400", "master.xml.j2")) == [
        "[PHONE_MAC_ADDRESS]-deskprov.cfg"
    ]
    p = phone_parsers.polycom_params(render("polycom", "VVX400", "params.xml.j2"))
    assert p["reg.1.address"] == "alice" and p["reg.1.auth.userId"] == "alice"
    assert p["reg.1.auth.password"] == "Sup3r&Secret<\"'>"
    assert p["reg.1.server.1.address"] == "acme.sip.twilio.com"
    assert (p["reg.1.server.1.transport"], p["reg.1.server.1.port"]) == ("TLS", "5061")
    assert p["reg.1.displayName"] == "Zoë & <Ops>"
    assert p["reg.2.address"] == "alice-2"
    # Every registration the model has: the unused ones empty and not registering.
    for index in range(3, 13):
        assert p[f"reg.{index}.address"] == p[f"reg.{index}.auth.password"] == ""
        assert p[f"reg.{index}.server.1.register"] == "0"
    assert "reg.13.address" not in p
    assert p["device.prov.tagSerialNo"] == "1" and p["device.set"] == "1"
    # Lines on keys 1-2, then the memory keys from key 3; every other key (132 with the three
    # expansion modules) unassigned. Categories are the documented ones only.
    categories = [p[f"lineKey.{k}.category"] for k in range(1, 133)]
    assert categories[:6] == ["Line", "Line", "BLF", "SpeedDial", "SpeedDial", "SpeedDial"]
    assert set(categories[6:]) == {"Unassigned"} and "lineKey.133.category" not in p
    assert set(categories) <= {"Line", "BLF", "SpeedDial", "Unassigned", "Presence"}
    assert p["attendant.resourceList.1.address"] == "bob"
    assert p["attendant.resourceList.1.label"] == 'Bob "B" & Co'
    assert p["attendant.resourceList.1.type"] == "normal"
    # Speed dials point at the directory; the blind transfer's entry runs the EFK macro.
    assert [p[f"lineKey.{k}.index"] for k in (4, 5, 6)] == ["1", "2", "3"]
    directory = phone_parsers.polycom_directory(render("polycom", "VVX400", "directory.xml.j2"))
    assert directory == {
        1: ("Support <Q>", "!deskprov1"),
        2: ("Sales", "700"),
        3: ("Mobile", "900"),
    }
    assert p["efk.version"] == "2" and p["feature.enhancedFeatureKeys.enabled"] == "1"
    assert p["efk.efklist.1.mname"] == "deskprov1"
    assert p["efk.efklist.1.action.string"] == "600$Trefer$"
    assert "efk.efklist.2.mname" not in p
    # Settings.
    assert int(p["prov.polling.period"]) > 3600  # the documented lower bound
    assert p["device.auth.localAdminPassword"] == "Adm1nPassw0rd&<"
    assert p["device.auth.localAdminPassword.set"] == "1"
    assert p["tcpIpApp.sntp.address"] == "ntp1.example.com"
    assert p["tcpIpApp.sntp.gmtOffset"] == "3600"
    assert p["tcpIpApp.sntp.daylightSavings.enable"] == "1"
    assert p["tcpIpApp.sntp.daylightSavings.start.month"] == "3"
    assert p["tcpIpApp.sntp.daylightSavings.start.dayOfWeek"] == "1"  # Sunday
    assert p["tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth"] == "1"
    assert p["tcpIpApp.sntp.daylightSavings.stop.time"] == "3"
    assert p["lcl.ml.lang"] == "French_France"
    assert p["nat.keepalive.interval"] == "25"
    assert (p["sec.srtp.enable"], p["sec.srtp.require"]) == ("1", "1")
    assert (p["msg.mwi.1.callBackMode"], p["msg.mwi.1.callBack"]) == ("contact", "*97")
    master = render("polycom", "VVX400", "master.xml.j2")
    assert b'APP_FILE_PATH="https://fw.example.com/vvx"' in master


def test_yealink_reads_lines_keys_and_settings() -> None:
    common = phone_parsers.yealink_cfg(render("yealink", "T46S", "common.cfg.j2"))
    assert common["features.enhanced_dss_keys.enable"] == "1"
    assert common["transfer.dsskey_deal_type"] == "0"
    y = phone_parsers.yealink_cfg(render("yealink", "T46S", "mac.cfg.j2"))
    accounts = phone_parsers.yealink_accounts(y)
    assert sorted(accounts) == list(range(1, 17))  # every account of a T46S
    assert accounts[1]["user_name"] == accounts[1]["auth_name"] == "alice"
    assert accounts[1]["password"] == "Sup3r&Secret<\"'>"
    assert accounts[1]["sip_server.1.address"] == "acme.sip.twilio.com"
    assert accounts[1]["display_name"] == "Zoë & <Ops>"
    assert (accounts[1]["sip_server.1.transport_type"], accounts[1]["sip_server.1.port"]) == (
        "2",
        "5061",
    )
    assert accounts[1]["srtp_encryption"] == "2"
    assert accounts[1]["nat.udp_update_enable"] == "1"
    assert accounts[1]["nat.udp_update_time"] == "25"
    assert accounts[1]["subscribe_mwi"] == "1" and y["voice_mail.number.1"] == "*97"
    for index in range(3, 17):
        assert accounts[index]["enable"] == "0"
        assert accounts[index]["user_name"] == accounts[index]["password"] == ""
    keys = phone_parsers.yealink_keys(y)
    assert (keys["linekey.1"]["type"], keys["linekey.1"]["line"]) == ("15", "1")
    assert (keys["linekey.2"]["type"], keys["linekey.2"]["line"]) == ("15", "2")
    assert (keys["linekey.3"]["type"], keys["linekey.3"]["value"]) == ("16", "bob")
    assert keys["linekey.3"]["label"] == 'Bob "B" & Co'
    assert (keys["linekey.4"]["type"], keys["linekey.4"]["value"]) == ("73", "600$Trefer$")
    assert (keys["linekey.5"]["type"], keys["linekey.5"]["value"]) == ("13", "700")
    assert keys["linekey.6"]["value"] == "900"
    # Every other key of the phone (27) and of six 40-key modules says "nothing".
    assert [keys[f"linekey.{n}"]["type"] for n in range(7, 28)] == ["0"] * 21
    assert "linekey.28" not in keys
    modules = [k for k in keys if k.startswith("expansion_module.")]
    assert len(modules) == 240 and {keys[k]["type"] for k in modules} == {"0"}
    # Settings.
    assert y["static.auto_provision.repeat.minutes"] == "30"
    assert y["static.security.user_password"] == "admin:Adm1nPassw0rd&<"
    assert y["static.firmware.url"] == "https://fw.example.com/t46s.rom"
    assert (y["local_time.ntp_server1"], y["local_time.ntp_server2"]) == (
        "ntp1.example.com",
        "ntp2.example.com",
    )
    assert y["local_time.time_zone"] == "+1" and y["local_time.summer_time"] == "1"
    assert y["local_time.start_time"] == "3/5/7/2"  # March, last week, Sunday, 2 o'clock
    assert y["local_time.end_time"] == "10/5/7/3"
    assert y["local_time.offset_time"] == "60"
    assert y["lang.gui"] == "French"


@pytest.mark.parametrize(("model", "dialect"), [("X4U", "sysconf"), ("X4", "voip_config")])
def test_fanvil_reads_lines_and_keys(model: str, dialect: str) -> None:
    f = phone_parsers.fanvil(render("fanvil", model, "{dialect}.xml.j2"))
    assert f.dialect == dialect and f.version == "2.0000000042"
    assert f.lines[1] == phone_parsers.FanvilLine(
        "alice", "Sup3r&Secret<\"'>", "acme.sip.twilio.com", "Zoë & <Ops>"
    )
    assert f.lines[2].user == "alice-2"
    # Six lines stated; the unused ones off and empty.
    assert sorted(f.lines) == list(range(1, 7))
    assert [f.lines[i] for i in (3, 4, 5, 6)] == [
        phone_parsers.FanvilLine("", "", "", "", enabled=False)
    ] * 4
    by_value = {k.value: k for k in f.keys}
    assert by_value["SIP1"].type == "2" and by_value["SIP2"].type == "2"
    assert by_value["bob@1/bc"].title == 'Bob "B" & Co'
    # The blind transfer key is not a BLF key: the phone subscribes to nothing for it.
    assert "600@1/a" in by_value and "700@1/f" in by_value and "900@1/f" in by_value
    assert not any(k.value.endswith(("/bb", "/ba")) for k in f.keys)


def test_fanvil_x4u_lines_on_side_keys_memory_keys_in_function_key_pages() -> None:
    """X4U: 3 side keys a page hold the lines; memory keys go to <internal> pages of 6 keys."""
    f = phone_parsers.fanvil(render("fanvil", "X4U", "{dialect}.xml.j2"))
    side = [k for k in f.keys if k.element == "dssSide"]
    internal = [k for k in f.keys if k.element == "internal"]
    assert [(k.page, k.index, k.value) for k in side if k.type != "0"] == [
        (1, 1, "SIP1"),
        (1, 2, "SIP2"),
    ]
    assert {(k.page, k.index) for k in side} == {(p, i) for p in (1, 2) for i in (1, 2, 3)}
    assert [(k.page, k.index, k.value) for k in internal if k.type != "0"] == [
        (1, 1, "bob@1/bc"),
        (1, 2, "600@1/a"),
        (1, 3, "700@1/f"),
        (1, 4, "900@1/f"),
    ]
    assert {(k.page, k.index) for k in internal} == {
        (p, i) for p in range(1, 6) for i in range(1, 7)
    }


def test_fanvil_settings() -> None:
    body = render("fanvil", "X4U", "{dialect}.xml.j2")
    from lxml import etree

    root = etree.fromstring(body, parser=phone_parsers.PARSER)
    text = {e.tag: e.text for e in root.iter() if isinstance(e.tag, str) and len(e) == 0}
    assert text["FlashProtocol"] == "5" and text["FlashMode"] == "1"  # https, periodic
    assert text["FlashInterval"] == "1"
    assert (text["SNTPServer"], text["SecondSNTPServer"]) == (
        "ntp1.example.com",
        "ntp2.example.com",
    )
    assert text["TimeZone"] == "4" and text["EnableDST"] == "2"  # quarter hours; manual rule
    assert (text["DSTStartMon"], text["DSTStartWeek"], text["DSTStartWday"]) == ("3", "-1", "0")
    assert text["DefaultLanguage"] == "fr"
    assert text["MenuPassword"] == "Adm1nPassw0rd&<"
    assert root.findtext("web/account/Password") == "Adm1nPassw0rd&<"
    line = root.find("sip/line[@index='1']")
    assert (line.findtext("Transport"), line.findtext("RegisterPort")) == ("3", "5061")
    assert line.findtext("MediaCrypto") == "2" and line.findtext("NATUDPUpdate") == "2"
    assert line.findtext("MWINum") == "*97"


def test_fanvil_side_only_models_page_every_key() -> None:
    """X5S: one set of keys in <dssSide> pages; lines first, then memory keys, all 6 stated."""
    f = phone_parsers.fanvil(render("fanvil", "X5S", "{dialect}.xml.j2"))
    assert {k.element for k in f.keys} == {"dssSide"}
    assert [(k.page, k.index, k.type) for k in f.keys] == [
        (1, i, t) for i, t in zip(range(1, 7), ["2", "2", "1", "1", "1", "1"], strict=True)
    ]


def test_defaults_need_no_settings() -> None:
    """With nothing set, every vendor still gets a working clock, transport and password."""
    y = phone_parsers.yealink_cfg(render("yealink", "T46S", "mac.cfg.j2", settings=DEFAULTS))
    assert y["local_time.ntp_server1"] == "pool.ntp.org"
    assert y["local_time.time_zone"] == "+0" and y["local_time.summer_time"] == "0"
    assert y["account.1.sip_server.1.transport_type"] == "0"
    assert y["account.1.sip_server.1.port"] == "5060"
    assert y["account.1.subscribe_mwi"] == "0" and y["voice_mail.number.1"] == ""
    assert y["static.firmware.url"] == "" and y["lang.gui"] == ""
    p = phone_parsers.polycom_params(
        render("polycom", "VVX400", "params.xml.j2", settings=DEFAULTS)
    )
    assert p["tcpIpApp.sntp.gmtOffset"] == "0" and p["tcpIpApp.sntp.daylightSavings.enable"] == "0"
    assert p["prov.polling.period"] == "3601" and "lcl.ml.lang" not in p
    assert p["sec.srtp.enable"] == "0" and p["msg.mwi.1.callBackMode"] == "disabled"
    f = render("fanvil", "X4U", "{dialect}.xml.j2", settings=DEFAULTS)
    assert b"<TimeZoneName>UCT</TimeZoneName>" in f and b"<EnableDST>0</EnableDST>" in f
    assert b"<Auto_Image_URL></Auto_Image_URL>" in f


def test_a_fanvil_model_with_dashes_renders_a_valid_comment() -> None:
    """Issue 16: a user agent's model went into an XML comment as it was; "--" made the file
    invalid (phone 404, preview 500)."""
    for model in ("X--Evil", "X-", "A--->B"):
        body = render("fanvil", model, "{dialect}.xml.j2")
        assert phone_parsers.fanvil(body).lines[1].user == "alice"


def test_fragments_in_use_stay_the_same_objects_when_others_come_and_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Phones with keys of their own each make a fragment of their keys; past the fragments'
    budget the least recently used go, not the ones every T46S file uses (which would be made
    again as new objects, and held again by the cache of rendered files)."""
    monkeypatch.setattr(render_module, "FRAGMENT_BYTES", 30_000)
    renderer = Renderer(templates_root(), load_profiles())
    profile = renderer.profiles["yealink"]
    model = profile.model("T46S")

    def parts(n: int) -> tuple[bytes, ...]:
        keys = (MemoryKey(str(1000 + n), f"Key {n}", "speed_dial", str(1000 + n), f"ex_{n}"),)
        config = lay_out("yealink", model, PhoneData(DATA.lines, keys, 1), "0015654c4c26")
        return renderer.render(profile, "mac.cfg.j2", model, config, URL, SETTINGS).parts

    first = parts(0)
    for n in range(1, 300):  # (each its own keys: far past the budget)
        again = parts(n)
        shared = {id(p) for p in first[1::2]} & {id(p) for p in again[1::2]}
        assert shared, n  # the unused accounts and keys, the settings: the same objects
    assert b"".join(parts(0)) == b"".join(first)
