"""The documentation in the repository stays in step with the code: every setting is in the
operations guide, every management API path is in the HTTP contract, and nothing points
outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from deskprov.settings import Settings
from deskprov.web.openapi import build_document

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    documented = set(re.findall(r"^\| `(DESKPROV_[A-Z_]+)` \|", guide, re.M))
    assert documented == {name for name, _, _ in Settings.variables()}


def test_every_api_path_is_in_the_contract() -> None:
    contract = (ROOT / "docs" / "api.md").read_text()
    for path in build_document()["paths"]:
        named = [part for part in path.split("/") if part and not part.startswith("{")]
        assert f"`{named[-1]}" in contract or f"/{named[-1]}" in contract, path


def test_nothing_points_outside_the_repository() -> None:
    pages = [
        page
        for page in ROOT.rglob("*.md")
        if not any(part.startswith(".") for part in page.relative_to(ROOT).parts)
    ]
    assert ROOT / "README.md" in pages and ROOT / "docs" / "api.md" in pages
    for page in pages:
        text = page.read_text()
        assert "../shared" not in text, page
        for target in re.findall(r"\]\(((?!https?:)[\w./-]+)(?:#[\w-]*)?\)", text):
            assert (page.parent / target).exists(), (page, target)
