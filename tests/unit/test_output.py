"""vendors/output: a file made of its own text and remembered fragments is served byte for byte as
the whole file would be, and refused whenever the whole file would be (it may refuse more: a
fragment where its kind cannot stand)."""

from __future__ import annotations

import itertools
from pathlib import Path

import jinja2
import pytest

from deskprov.vendors.output import (
    STAND_IN,
    Format,
    RenderError,
    check,
    make_fragment,
    spliced,
    tag_of,
    tidy,
)
from deskprov.vendors.render import _TemplateLoader

XML = '<?xml version="1.0" encoding="UTF-8"?>\n'
CFG = "#!version:1.0.0.1\n"


def whole(fmt: Format, pieces: list[str], texts: list[str]) -> bytes | str:
    """The file checked whole, the way it was before fragments were checked apart (a fragment's
    final line feeds dropped, the file tidied), or "refused"."""
    texts = [text.rstrip("\n") for text in texts]
    joined = "".join(p + t for p, t in itertools.zip_longest(pieces, texts, fillvalue=""))
    body = tidy(joined).encode("utf-8")
    try:
        check(fmt, body)
    except RenderError:
        return "refused"
    return body


def joined(fmt: Format, pieces: list[str], texts: list[str]) -> bytes | str:
    fragments = [make_fragment(fmt, text) for text in texts]
    try:
        return b"".join(spliced(fmt, pieces, fragments))
    except RenderError:
        return "refused"


@pytest.mark.parametrize(
    ("fmt", "pieces", "texts", "kind"),
    [
        # elements among an element's content
        ("xml", [XML + "<r>\n  <a/>", "\n</r>\n"], ['\n  <b x="1"/>\n  <c>&amp;</c>'], "elements"),
        # attributes of an element, two fragments on one element
        ("xml", [XML + '<r a="1"', "", "/>\n"], [' b="2"', ' c="3" d="4"'], "attributes"),
        # whole cfg lines, and what follows joins the fragment's last line
        ("cfg", [CFG + "a = 1", " # end\nc = 3\n"], ["\nb = 2\n\nb2 = 2\n"], "lines"),
        # text that fits no kind stands for itself
        ("xml", [XML + "<r>", "</r>\n"], ["plain text"], "itself"),
        # a join that tidy changes (a blank line): checked whole
        ("xml", [XML + "<r>\n\n", "</r>\n"], ["  <b/>"], "elements"),
    ],
)
def test_a_file_of_fragments_is_the_whole_file(
    fmt: Format, pieces: list[str], texts: list[str], kind: str
) -> None:
    assert make_fragment(fmt, texts[0]).kind == kind
    body = joined(fmt, pieces, texts)
    assert isinstance(body, bytes) and body == whole(fmt, pieces, texts)


@pytest.mark.parametrize(
    ("fmt", "pieces", "texts"),
    [
        ("xml", [XML + '<r a="', '"/>\n'], ["<b/>"]),  # elements inside an attribute value
        ("xml", [XML + '<r a="1"', "/>\n"], [' a="2"']),  # an attribute the element has
        ("xml", [XML + "<r", "", "/>\n"], [' a="1"', ' b="2" a="3"']),  # two fragments' names
        ("xml", [XML + "<r>", "</r>\n"], ["<b>"]),  # not well-formed on its own
        ("xml", [XML + "<r>", "\n"], ["\n  <b/>"]),  # the root left open
        ("xml", [XML + "<r>\x01", "</r>\n"], ["<b/>"]),  # the file's own text is wrong
        ("cfg", [CFG + "a = 1", "\n\x07 = 2\n"], ["\nb = 2"]),  # a control character after
        ("cfg", [CFG + "a = 1", "\n"], ["\nnot a pair"]),  # a fragment line that is not k = v
        ("cfg", ["", "\n"], ["\na = 1"]),  # no header
    ],
)
def test_what_the_whole_file_fails_a_file_of_fragments_fails(
    fmt: Format, pieces: list[str], texts: list[str]
) -> None:
    assert whole(fmt, pieces, texts) == "refused"
    assert joined(fmt, pieces, texts) == "refused"


def test_never_served_otherwise_than_whole() -> None:
    """Every pairing of some file texts around some fragments: a file of fragments is either
    refused or exactly the whole file, and never served when the whole file is refused."""
    around = [
        (XML + "<r>", "</r>\n"),
        (XML + "<r>\n  ", "\n</r>\n"),
        (XML + "<r", "/>\n"),
        (XML + '<r a="1"', "/>\n"),
        (XML + '<r a="', '"/>\n'),
        (XML + "<r><!--", "--></r>\n"),
        (XML + "<r><![CDATA[", "]]></r>\n"),
        (XML + "<r>]]", "</r>\n"),
        (XML, "\n"),
        ("", "<r/>\n"),
    ]
    texts = [
        "<b/>",
        "\n  <b/>\n  <c/>",
        ' a="2"',
        ' b="2" c="3"',
        ">",
        "x",
        "",
        " ",
        "\n\n<b/>\n",
        "<b/>\n</r><r>",
        'xmlns:p="u" p:a="1"',
        " <!-- c -->",
    ]
    served = 0
    for (before, after), text in itertools.product(around, texts):
        ours = joined("xml", [before, after], [text])
        if ours != "refused":
            served += 1
            assert ours == whole("xml", [before, after], [text]), (before, text, after)
    assert served > 10  # (the pairings do exercise the served case)


def tagged(pieces: list[str], texts: list[str]) -> str:
    fragments = [make_fragment("xml", text) for text in texts]  # (new objects each time)
    return tag_of(spliced("xml", pieces, fragments), fragments)


def test_the_tag_follows_every_byte_and_only_the_bytes() -> None:
    """The same file made again (new fragment objects, as after a restart) has the same tag, so
    phones keep their 304s; a change in the file's own text or in a fragment changes it."""
    pieces, texts = [XML + "<r>\n  <a/>", "\n</r>\n"], ["\n  <b/>"]
    first = tagged(pieces, texts)
    assert first == tagged(pieces, texts)
    assert first != tagged([XML + "<r>\n  <A/>", "\n</r>\n"], texts)
    assert first != tagged(pieces, ["\n  <c/>"])
    # (own bytes moved across a fragment: the lengths keep the parts apart)
    assert tagged([XML + "<r>\n  <a/>", "<x/>\n</r>\n"], texts) != tagged(
        [XML + "<r>\n  <a/><x/>", "\n</r>\n"], texts
    )
    # (a file tidied whole is one part: tagged by its bytes, whatever fragments went into it)
    whole_pieces = [XML + "<r>\n\n", "</r>\n"]
    fragments = [make_fragment("xml", "  <b/>")]
    parts = spliced("xml", whole_pieces, fragments)
    assert len(parts) == 1 and tag_of(parts, fragments) == tag_of(parts, [])


def test_no_template_may_hold_the_stand_ins_prefix(tmp_path: Path) -> None:
    """A template writing a stand-in by hand could pass for a fragment where the file's check
    looks for one: it is refused when it is loaded."""
    (tmp_path / "x.xml.j2").write_text(f'<r {STAND_IN}0=""/>\n')
    (tmp_path / "ok.xml.j2").write_text("<r/>\n")
    env = jinja2.Environment(loader=_TemplateLoader(tmp_path))
    assert env.get_template("ok.xml.j2").render() == "<r/>"
    with pytest.raises(RenderError, match=STAND_IN):
        env.get_template("x.xml.j2")
