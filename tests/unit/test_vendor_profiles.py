"""Vendor profiles: user agents parsed from the profiles' own real sample strings; file names."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskprov.domain.mac import normalise_mac
from deskprov.vendors.profile import identify, load_profiles
from deskprov.vendors.render import RENDER_NAMES, Renderer

PROFILES = load_profiles()
SAMPLES = [(vendor, s) for vendor, p in PROFILES.items() for s in p.samples]


def test_every_vendor_has_samples() -> None:
    assert set(PROFILES) == {"polycom", "yealink", "fanvil"}
    assert all(p.samples for p in PROFILES.values())


@pytest.mark.parametrize(("vendor", "sample"), SAMPLES, ids=[s["ua"] for _, s in SAMPLES])
def test_user_agent_samples(vendor: str, sample: dict[str, str]) -> None:
    found = identify(PROFILES, sample["ua"])
    assert found is not None
    assert found.vendor == vendor
    assert found.model == sample["model"]
    assert found.firmware == sample["firmware"]
    assert found.mac == sample.get("mac")


@pytest.mark.parametrize("ua", ["curl/8.5.0", "", "Mozilla/5.0", "PolycomVVX-VVX_450-UA/6.4.3"])
def test_other_user_agents_are_not_phones(ua: str) -> None:
    assert identify(PROFILES, ua) is None


@pytest.mark.parametrize(
    ("text", "mac"),
    [
        ("00:15:65:4C:4C:26", "0015654c4c26"),
        ("0015-654c-4c26", "0015654c4c26"),
        ("0015.654C.4C26", "0015654c4c26"),
        ("001565", None),
        ("00156zzzzzzz", None),
        ("000000000000", None),
    ],
)
def test_mac_normalisation(text: str, mac: str | None) -> None:
    assert normalise_mac(text) == mac


@pytest.mark.parametrize(
    ("vendor", "name", "serve", "mac"),
    [
        ("polycom", "0004F249D83F.cfg", "render", "0004f249d83f"),
        ("polycom", "000000000000.cfg", "render", None),
        ("polycom", "0004f249d83f-deskprov.cfg", "render", "0004f249d83f"),
        ("polycom", "0004f249d83f-app.log", "upload", "0004f249d83f"),
        ("polycom", "0004f249d83f-phone.cfg", "upload", "0004f249d83f"),
        ("polycom", "sip.ld", None, None),
        ("polycom", "0004f249d83f-license.cfg", None, None),
        ("yealink", "y000000000066.cfg", "render", None),
        ("yealink", "y000000000000.boot", "absent", None),
        ("yealink", "805ec0d57d72.boot", "absent", "805ec0d57d72"),
        ("yealink", "805EC0D57D72.cfg", "render", "805ec0d57d72"),
        ("yealink", "805ec0d57d72-local.cfg", None, None),
        ("fanvil", "0c383e07e16c.cfg", "render", "0c383e07e16c"),
        ("fanvil", "F0V00X600000.cfg", "absent", None),
        ("fanvil", "../0c383e07e16c.cfg", None, None),
    ],
)
def test_file_names(vendor: str, name: str, serve: str | None, mac: str | None) -> None:
    match = PROFILES[vendor].match_file(name)
    if serve is None:
        assert match is None
        return
    assert match is not None and match.rule.serve == serve and match.mac == mac


def test_fanvil_dialect_by_model() -> None:
    fanvil = PROFILES["fanvil"]
    assert fanvil.model("X4U").dialect == "sysconf"
    assert fanvil.model("X4").dialect == "voip_config"
    assert fanvil.model("X99-Unknown").dialect == "sysconf"
    assert fanvil.model("X99-Unknown").name == "X99-Unknown"


def test_what_each_template_reads(tmp_path: Path) -> None:
    from deskprov.services.registry import default_renderer

    renderer = default_renderer()
    polycom, yealink = renderer.profiles["polycom"], renderer.profiles["yealink"]
    vvx, t46 = polycom.model("VVX_400"), yealink.model("SIP-T46S")
    assert not renderer.reads(polycom, "master.xml.j2", vvx) & {"config", "provisioning_url"}
    assert "config" in renderer.reads(polycom, "params.xml.j2", vvx)
    assert renderer.reads(yealink, "common.cfg.j2", t46) == {"provisioning_url"}
    assert "config" in renderer.reads(yealink, "mac.cfg.j2", t46)
    # A template that includes another is taken to read everything.
    (tmp_path / "fanvil").mkdir()
    (tmp_path / "fanvil" / "outer.xml.j2").write_text('{% include "inner.xml.j2" %}')
    fanvil = renderer.profiles["fanvil"]
    wary = Renderer(tmp_path, {"fanvil": fanvil})
    assert wary.reads(fanvil, "outer.xml.j2", fanvil.model(None)) == RENDER_NAMES
