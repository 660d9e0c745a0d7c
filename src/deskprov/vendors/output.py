"""What a rendered file must be before it is served: tidy (no blank lines, no white space ending a
line, one final newline) and read back the way the phone will read it (a hardened XML parser, or
the cfg rules). And how a file made of a phone's own part and shared fragments is checked without
reading the fragments again for every phone.

A fragment (the unused slots of a model, the settings of an account) is tidied and checked once,
when it is made. A phone's file is rendered with a mark where each fragment goes; the marks are
replaced by the fragments' text, and what is checked is the phone's own part with each mark
replaced by a small stand-in that says where the fragment may go (``Fragment``). Whatever the
whole file would fail, that check fails too: see ``Fragment`` for the argument, per kind. A
fragment that fits none of the kinds stands in for itself: it is checked in place, in every file.
"""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from typing import Literal

from lxml import etree


class RenderError(RuntimeError):
    """A file that the phone could not read. ``field`` names the value that cannot be written
    in the vendor's format (data stored before today's text rules, or a user agent); without
    one, the template itself is at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


Format = Literal["xml", "cfg"]

# --- tidy -----------------------------------------------------------------------------------

# What ``tidy`` removes shows one of these: a blank line, or white space ending a line.
_UNTIDY = ("\n\n", " \n", "\t\n", "\r")


def tidy(text: str) -> str:
    """No blank lines, one final newline: byte-identical output whatever the template spacing.

    Split on LF only: str.splitlines() also splits on U+2028 and friends, which are legal
    inside a user's name.
    """
    text = text.lstrip("\n")
    if _is_tidy(text):
        return text.rstrip("\n") + "\n"  # (the usual case: four scans in C, no loop)
    kept = [line for line in text.split("\n") if line.strip(" \t\r")]
    return "\n".join(line.rstrip(" \t\r") for line in kept) + "\n"


def _is_tidy(text: str) -> bool:
    return text.endswith("\n") and not any(mark in text for mark in _UNTIDY)


def _tidy_inside(text: str) -> str:
    """``text`` with its inner lines (those that are whole lines wherever ``text`` is put)
    tidied as ``tidy`` would tidy them in the file; its first and last pieces, which join lines
    of the file around it, are left as they are."""
    if text.count("\n") < 2:
        return text
    first, *inner, last = text.split("\n")
    kept = [line.rstrip(" \t\r") for line in inner if line.strip(" \t\r")]
    return "\n".join([first, *kept, last])


# --- checks ---------------------------------------------------------------------------------


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
    )


# One parser per thread, made once (a parser may be reused, not shared between threads; making
# one cost a sixth of a file's check).
_PARSERS = threading.local()


def _parse(body: bytes) -> etree._Element:
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = _parser()
    try:
        return etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise RenderError(f"rendered XML does not parse: {exc}") from exc


def check_xml(body: bytes) -> None:
    _parse(body)


# C0 controls (less the line feed that ends each line) and DEL, as UTF-8 bytes; C1 controls are
# two bytes, 0xC2 0x80-0x9F. (Byte operations: a regex over a whole file cost more than the
# template that made it.)
_C0_BYTES = bytes(range(0x20)).replace(b"\n", b"") + b"\x7f"
_C1_BYTES = re.compile(b"\xc2[\x80-\x9f]")
CFG_HEADER = b"#!version:1.0.0.1\n"


def _cfg_characters(body: bytes) -> None:
    if len(body.translate(None, _C0_BYTES)) != len(body) or (
        b"\xc2" in body and _C1_BYTES.search(body)
    ):
        raise RenderError("the file holds a control character")


def _cfg_line_problem(line: str) -> bool:
    return bool(line) and "=" not in line and line[0] != "#"


def check_cfg(body: bytes) -> None:
    if not body.startswith(CFG_HEADER):  # (a BOM fails here too)
        raise RenderError("a cfg file must start with #!version:1.0.0.1")
    _cfg_characters(body)
    for number, line in enumerate(body.decode("utf-8").split("\n"), 1):
        if _cfg_line_problem(line):
            raise RenderError(f"line {number} is not 'key = value'")


def check(fmt: Format, body: bytes) -> None:
    """The file as the phone will read it, or ``RenderError``."""
    if fmt == "xml":
        check_xml(body)
    else:
        check_cfg(body)


# --- fragments ------------------------------------------------------------------------------

Kind = Literal["itself", "elements", "attributes", "lines"]

# What stands for a fragment where the file is checked (``{n}``: its place among the file's
# fragments), by kind. No template may hold the prefix (``STAND_IN``).
STAND_IN = "deskprov-fragment-"
_STAND_INS = {
    "elements": "<" + STAND_IN + "{n}/>",
    "attributes": " " + STAND_IN + '{n}=""',
    "lines": "\n#",
}


@dataclass(frozen=True, slots=True)
class Fragment:
    """A piece of many files, tidied and checked once; ``kind`` says what stands for it when a
    file that holds it is checked, and why that check is as strict as checking the whole file:

    - ``elements`` (XML): elements, comments and white space, well-formed on their own (read
      inside an element), beginning and ending with markup or white space. Stand-in: an empty
      element, which the file's check must find as an element below the root; an element can
      stand only where content may, and content there may be any well-formed content (the text
      joined at either edge is white space, so it cannot make "]]>").
    - ``attributes`` (XML): attributes (``names``) and white space, well-formed as the
      attributes of an element. Stand-in: one attribute, which the check must find on an
      element that has none of ``names`` (nor any other fragment's). Namespace declarations and
      prefixed names are not of this kind.
    - ``lines`` (cfg): whole lines (it begins with a line feed), each valid, the last one not
      empty, no control character. Stand-in: a line feed and "#" (whatever follows in the file
      joins the fragment's last line, which stays valid with anything after it).
    - ``itself``: anything else; it stands for itself and is checked in place in every file.

    ``edges`` stands for it when a file's tidiness is checked: its first and last character
    (every pair of characters ``tidy`` looks at is inside the fragment, tidy already, or made
    with one of those), or the whole text when it is not tidy inside.
    """

    text: str
    data: bytes  # ``text`` as UTF-8
    kind: Kind
    edges: str
    digest: bytes  # SHA-256 of ``data`` (see ``tag_of``)
    names: frozenset[str] = frozenset()

    def stand_in(self, n: int) -> str:
        return self.text if self.kind == "itself" else _STAND_INS[self.kind].format(n=n)


def make_fragment(fmt: Format, rendered: str) -> Fragment:
    """A fragment from its template's output (tidied; its kind found by checking it)."""
    text = _tidy_inside(rendered.rstrip("\n"))
    edges = text if len(text) <= 2 or any(m in text for m in _UNTIDY) else text[0] + text[-1]
    kind: Kind = "itself"
    names: frozenset[str] = frozenset()
    if fmt == "cfg":
        if _lines_fragment(text):
            kind = "lines"
    elif text.strip(" \t\n"):
        if _elements_fragment(text):
            kind = "elements"
        else:
            found = _attributes_fragment(text)
            if found is not None:
                kind, names = "attributes", found
    data = text.encode("utf-8")
    return Fragment(text, data, kind, edges, hashlib.sha256(data).digest(), names)


def _lines_fragment(text: str) -> bool:
    lines = text.split("\n")
    if len(lines) < 2 or lines[0] or not lines[-1]:
        return False
    try:
        _cfg_characters(text.encode("utf-8"))
    except (RenderError, UnicodeEncodeError):
        return False
    return not any(_cfg_line_problem(line) for line in lines)


def _elements_fragment(text: str) -> bool:
    inner = text.strip(" \t\n")
    if not (inner.startswith("<") and inner.endswith(">")):
        return False
    try:
        etree.fromstring(b"<r>" + text.encode("utf-8") + b"</r>", parser=_parser())
    except (etree.XMLSyntaxError, UnicodeEncodeError):
        return False
    return True


def _attributes_fragment(text: str) -> frozenset[str] | None:
    # (White space first, or the text would join the name of the element it is put on: "x" is
    # read as an element <rx/> here.)
    if "xmlns" in text or not text.startswith((" ", "\t", "\n")):
        return None
    try:
        element = etree.fromstring(b"<r" + text.encode("utf-8") + b"/>", parser=_parser())
    except (etree.XMLSyntaxError, UnicodeEncodeError):
        return None
    if element.tag != "r":
        return None
    names = frozenset(str(name) for name in element.attrib)
    if any("{" in name or name.startswith(STAND_IN) for name in names):
        return None
    return names


def spliced(fmt: Format, pieces: list[str], fragments: list[Fragment]) -> tuple[bytes, ...]:
    """The file made of ``pieces`` (its own text) with ``fragments[i]`` between ``pieces[i]``
    and ``pieces[i + 1]``, tidied and checked (or ``RenderError``), in parts: the file's own
    bytes at even places, and at odd places the fragments' own ``data`` (the very objects,
    shared by every file that holds them). A file that had to be tidied whole is one part."""
    every = [""] * (2 * len(pieces) - 1)
    every[::2] = pieces
    every[1::2] = [f.edges for f in fragments]
    edges = "".join(every)
    tidy_already = not edges.startswith("\n") and _is_tidy(edges)
    if not tidy_already:  # (``tidy`` changes it: checked whole, the way it is served)
        every[1::2] = [f.text for f in fragments]
        body = tidy("".join(every)).encode("utf-8")
        check(fmt, body)
        return (body,)
    every[1::2] = [f.stand_in(n) for n, f in enumerate(fragments)]
    skeleton = "".join(every).encode("utf-8")
    if fmt == "cfg":
        check_cfg(skeleton)
    else:
        _check_stand_ins(_parse(skeleton), fragments)
    data = [b""] * len(every)
    data[::2] = [piece.encode("utf-8") for piece in pieces]
    data[1::2] = [f.data for f in fragments]
    return tuple(data)


def _check_stand_ins(root: etree._Element, fragments: list[Fragment]) -> None:
    """Every stand-in where its fragment's kind says it must be (see ``Fragment``). (No template
    may hold the stand-ins' prefix, see ``STAND_IN``, and a value cannot make an element or an
    attribute name: the stand-ins found are the ones put in.)"""
    elements = {STAND_IN + str(n) for n, f in enumerate(fragments) if f.kind == "elements"}
    if elements:
        found = [element.tag for element in root.iter(*elements)]
        if root.tag in elements or len(found) != len(elements) or set(found) != elements:
            raise RenderError("a fragment of elements is not among an element's content")
    attributes = tuple(n for n, f in enumerate(fragments) if f.kind == "attributes")
    if not attributes:
        return
    placed = 0
    for holder in _holders(attributes)(root):
        own: list[str] = []
        held: list[frozenset[str]] = []  # (a fragment of unused keys holds ~200 names)
        for name in holder.attrib:
            if name.startswith(STAND_IN):
                held.append(fragments[int(name[len(STAND_IN) :])].names)
            else:
                own.append(name)
        placed += len(held)
        for n, names in enumerate(held):
            if not names.isdisjoint(own) or any(not names.isdisjoint(o) for o in held[n + 1 :]):
                raise RenderError("a fragment's attributes are already on the element")
    if placed != len(attributes):
        raise RenderError("a fragment of attributes is not among an element's attributes")


# The elements holding the stand-ins of attributes at these places among a file's fragments, by
# name (a name test is a fifth of what matching every attribute's name against the prefix cost).
_HOLDERS: dict[tuple[int, ...], etree.XPath] = {}


def _holders(places: tuple[int, ...]) -> etree.XPath:
    found = _HOLDERS.get(places)
    if found is None:
        if len(_HOLDERS) > 256:  # (a template's places are few; bounded all the same)
            _HOLDERS.clear()
        names = " or ".join(f"@{STAND_IN}{n}" for n in places)
        found = _HOLDERS[places] = etree.XPath(f"//*[{names}]")
    return found


def tag_of(parts: tuple[bytes, ...], fragments: list[Fragment]) -> str:
    """A strong validator (ETag) of the file ``spliced`` made of ``fragments``: SHA-256 over
    its own bytes (the even parts), each after its length, and the digests of the fragments at
    the odd parts, made once with each fragment (none when the file was tidied whole, in one
    part). Files whose bytes differ get different tags; a T46S file of 14 kB hashes ~0.7 kB."""
    digests = [fragment.digest for fragment in fragments[: len(parts) // 2]]
    hashed = [b""] * (3 * len(digests) + 2)
    hashed[0::3] = [b"%d:" % len(part) for part in parts[::2]]
    hashed[1::3] = parts[::2]
    hashed[2::3] = digests
    return '"' + hashlib.sha256(b"".join(hashed)).hexdigest()[:32] + '"'


def joined(parts: tuple[bytes, ...]) -> bytes:
    """The body a file's parts make."""
    return parts[0] if len(parts) == 1 else b"".join(parts)
