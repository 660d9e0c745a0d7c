"""The rendered-file cache counts a fragment shared by many files once, and frees it with the
last file that holds it."""

from __future__ import annotations

from deskprov.services.caches import SharingLru
from deskprov.services.phone import CachedFile


def file(own: bytes, *shared: bytes) -> CachedFile:
    parts: list[bytes] = []
    for i, part in enumerate(shared):
        parts += [own if i == 0 else b"", part]
    parts.append(b"" if shared else own)
    return CachedFile(tuple(parts), "text/plain", '"tag"')


def cache(budget: int) -> SharingLru[str, CachedFile]:
    return SharingLru(budget, CachedFile.own_weight, CachedFile.shared)


def test_a_shared_fragment_counts_once_and_goes_with_its_last_file() -> None:
    slots = b"x" * 10_000  # one object, in every file
    files = cache(1_000_000)
    a, b = file(b"a" * 100, slots), file(b"b" * 100, slots)
    files.put("a", a)
    files.put("b", b)
    assert files.used == a.own_weight() + b.own_weight() + len(slots)
    files.put("a", file(b"a" * 100))  # replaced by a file without it: b still holds it
    assert files.used == files.get("a").own_weight() + b.own_weight() + len(slots)  # type: ignore[union-attr]
    files.put("b", file(b"b" * 100))
    assert files.used == sum(files.get(k).own_weight() for k in "ab")  # type: ignore[union-attr]


def test_equal_fragments_that_are_other_objects_count_each() -> None:
    files = cache(1_000_000)
    files.put("a", file(b"a", b"x" * 5_000))
    files.put("b", file(b"b", b"x" * 5_000))
    assert files.used == 2 * 5_000 + sum(files.get(k).own_weight() for k in "ab")  # type: ignore[union-attr]


def test_the_budget_holds_with_sharing_and_the_oldest_go_first() -> None:
    slots = b"s" * 4_000
    files = cache(20_000)
    for n in range(50):
        files.put(str(n), file(bytes([65 + n % 26]) * 1_000, slots, slots))  # (twice in one)
        assert files.used <= 20_000
    kept = [str(n) for n in range(50) if files.get(str(n)) is not None]
    assert kept == [str(n) for n in range(50 - len(kept), 50)] and len(kept) > 5
    while len(files):
        files._drop(next(iter(files._items)))
    assert files.used == 0 and not files._holders
    files.put("big", file(b"z" * 30_000))  # more than the budget on its own: not kept
    assert files.get("big") is None and files.used == 0


def test_a_file_is_served_whole() -> None:
    assert file(b"head ", b"shared ", b"tail").body == b"head shared tail"
