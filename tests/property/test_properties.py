"""Property tests: whatever text users type, tokens stay sound and every vendor's file reads back
exactly (hypothesis draws the labels, names and passwords)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from deskprov.domain.config import Line, MemoryKey, PhoneData
from deskprov.domain.ids import new_id
from deskprov.domain.mac import normalise_mac
from deskprov.domain.rules import CONTROL_CHARACTERS, password_problem, text_problem
from deskprov.security import tokens
from deskprov.security.keyring import Keyring
from deskprov.vendors.layout import lay_out
from deskprov.vendors.profile import identify
from tests import phone_parsers
from tests.golden.test_golden import RENDERER, SETTINGS

KEYRING = Keyring.generate()
NOW = datetime(2026, 11, 26, 8, 0, 0)

# What the API accepts (the text rules: no control characters, line separators, non-characters
# or lone surrogates); labels up to 32, names up to 100 characters. Drawn from every category
# but the controls, then filtered by the API's own rule, so the separators and non-characters
# the rule refuses are drawn too.
accepted = st.characters(blacklist_categories=("Cc",))
text = st.text(alphabet=accepted, min_size=1, max_size=100).filter(
    lambda t: text_problem(t) is None and t.strip() != ""
)
label = text.filter(lambda t: len(t) <= 32)
password = st.text(alphabet=accepted, min_size=12, max_size=64).filter(
    lambda t: text_problem(t) is None and t == t.strip()
)


@settings(deadline=None)  # (a loaded machine stalled one example past 200 ms)
@given(st.sampled_from(tokens.VENDORS), st.one_of(st.none(), st.integers(1, 10**8)))
def test_tokens_round_trip(vendor: str, seconds: int | None) -> None:
    expires = NOW + timedelta(seconds=seconds) if seconds else None
    claims = tokens.TokenClaims(
        new_id("provisioning_url"),
        new_id("organisation"),
        vendor,
        expires,
        KEYRING.current_signing.kid,
    )
    token = tokens.sign(KEYRING, claims)
    assert len(token) <= 64
    assert tokens.verify(KEYRING, token, NOW) == claims


@given(st.text(max_size=80))
def test_arbitrary_tokens_are_refused_not_crashing(candidate: str) -> None:
    try:
        tokens.verify(KEYRING, candidate, NOW)
    except tokens.TokenError:
        return
    raise AssertionError("a random string verified")


@given(st.binary(min_size=6, max_size=6), st.sampled_from(["", ":", "-", "."]), st.booleans())
def test_macs_normalise(raw: bytes, sep: str, upper: bool) -> None:
    hexes = [f"{b:02x}" for b in raw]
    text_mac = sep.join(hexes)
    expected = "".join(hexes)
    result = normalise_mac(text_mac.upper() if upper else text_mac)
    assert result == (None if expected == "000000000000" else expected)


@given(st.text(max_size=200))
def test_any_user_agent_parses_or_not_without_crashing(agent: str) -> None:
    found = identify(RENDERER.profiles, agent)
    assert found is None or found.vendor in RENDERER.profiles


def render(vendor: str, model: str, template: str, data: PhoneData) -> bytes:
    profile = RENDERER.profiles[vendor]
    row = profile.model(model)
    config = lay_out(vendor, row, data, "0015654c4c26")
    return RENDERER.render(profile, template, row, config, "https://p.example/p/T/", SETTINGS).body


@settings(max_examples=40, deadline=None)
@given(name=text, secret=password, key_label=label)
@example(name="a\u00a0b \u3000 c", secret="P4ss\u00a0word&<>\"'", key_label="x\ufeffy")
def test_any_accepted_text_renders_to_a_file_every_vendor_parser_accepts(
    name: str, secret: str, key_label: str
) -> None:
    """Whatever the API accepts (a SIP password needs its own rules too) reaches every vendor's
    file and reads back exactly as typed: nothing the rules let through breaks a file."""
    data = PhoneData(
        lines=(Line(1, "alice", secret, "acme.sip.twilio.com", name, name),),
        keys=(
            MemoryKey("101", key_label, "blf", "bob", "ex_1"),
            MemoryKey("600", key_label, "blind_transfer", "600", "ex_2"),
        ),
        data_version=1,
    )
    p = phone_parsers.polycom_params(render("polycom", "VVX400", "params.xml.j2", data))
    assert p["reg.1.auth.password"] == secret and p["reg.1.displayName"] == name
    assert p["attendant.resourceList.1.label"] == key_label
    assert p["efk.efklist.1.label"] == key_label
    directory = phone_parsers.polycom_directory(
        render("polycom", "VVX400", "directory.xml.j2", data)
    )
    assert directory[1] == (key_label, "!deskprov1")
    y = phone_parsers.yealink_cfg(render("yealink", "T46S", "mac.cfg.j2", data))
    # (the phone trims a value; a password with outer white space is refused by the API)
    assert y["account.1.password"] == secret
    assert y["account.1.display_name"] == name.strip()
    assert y["linekey.2.label"] == key_label.strip()
    for model in ("X4U", "X4"):
        f = phone_parsers.fanvil(render("fanvil", model, "{dialect}.xml.j2", data))
        assert f.lines[1].password == secret and f.lines[1].display_name == name
        assert [k.title for k in f.keys if k.type == "1"] == [key_label, key_label]


def test_what_the_rules_refuse_is_what_breaks_a_file() -> None:
    """The audit's cases: each refused by the API, and each one would have broken a file."""
    for bad in ("\u2028", "\u2029", "\ufffe", "\uffff", "\ufdd0", "\ud800", "\x00", "\x1b"):
        assert text_problem(f"a{bad}b") is not None
    assert password_problem(" Spaced1Password ") is not None
    assert password_problem("Spaced1Password\u3000") is not None


@given(st.text(max_size=50))
def test_control_character_rule_matches_unicode(candidate: str) -> None:
    import unicodedata

    expected = any(unicodedata.category(c) == "Cc" for c in candidate)
    assert (CONTROL_CHARACTERS.search(candidate) is not None) == expected
