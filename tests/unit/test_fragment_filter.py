"""The ``fragment`` filter in a phone's file: placed where the file puts it whatever order the
fragments were made in, the same file every time (never folded into a template when it is
compiled), and refused inside a fragment."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskprov.domain.config import PhoneData
from deskprov.vendors.layout import lay_out
from deskprov.vendors.profile import load_profiles
from deskprov.vendors.render import Renderer, RenderError

HEAD = "#!version:1.0.0.1\n"


def renderer(tmp_path: Path, templates: dict[str, str]) -> Renderer:
    for name, text in templates.items():
        (tmp_path / "yealink" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "yealink" / name).write_text(text)
    return Renderer(tmp_path, {"yealink": load_profiles()["yealink"]})


def render(r: Renderer, template: str) -> bytes:
    profile = r.profiles["yealink"]
    model = profile.model("T46S")
    config = lay_out("yealink", model, PhoneData((), (), 1), None)
    return r.render(profile, template, model, config, "http://x/").body


def test_fragments_go_where_the_file_puts_them(tmp_path: Path) -> None:
    r = renderer(
        tmp_path,
        {
            "f.cfg.j2": HEAD
            + '{% set later = "_a.cfg.j2"|fragment(n=1) %}a = 0'
            + '{{ "_b.cfg.j2"|fragment }}{{ later }}\nz = 9\n',
            "_a.cfg.j2": "\na.{{ n }} = 1",
            "_b.cfg.j2": "\nb = 2",
        },
    )
    expected = (HEAD + "a = 0\nb = 2\na.1 = 1\nz = 9\n").encode()
    assert render(r, "f.cfg.j2") == expected  # (made a then b, placed b then a)
    assert render(r, "f.cfg.j2") == expected  # (both remembered)


def test_a_fragment_of_constants_is_placed_in_every_file(tmp_path: Path) -> None:
    """A filter called with constants only is folded into the template by jinja's optimizer
    when it can be: the first file rendered would have had the fragment, the others not."""
    r = renderer(
        tmp_path, {"f.cfg.j2": HEAD + 'a = 0{{ "_b.cfg.j2"|fragment }}\n', "_b.cfg.j2": "\nb = 2"}
    )
    files = {render(r, "f.cfg.j2") for _ in range(3)}
    assert files == {(HEAD + "a = 0\nb = 2\n").encode()}


def test_a_fragment_holds_no_fragment(tmp_path: Path) -> None:
    r = renderer(
        tmp_path,
        {
            "f.cfg.j2": HEAD + 'a = 0{{ "_b.cfg.j2"|fragment }}\n',
            "_b.cfg.j2": '\nb = 2{{ "_c.cfg.j2"|fragment }}',
            "_c.cfg.j2": "\nc = 3",
        },
    )
    with pytest.raises(RenderError, match="fragments are for phones' files"):
        render(r, "f.cfg.j2")
