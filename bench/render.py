"""In-process CPU of the phone path: a cold boot storm through ``PhoneService.fetch`` (no HTTP),
and what each vendor's per-phone render costs inside it.

    .venv/bin/python bench/render.py [--phones 600] [--rounds 5]

Builds the phones of ``bench/bootstorm.py`` (the same data, vendors mixed) in a fresh SQLite
database, then plays the storm --rounds times, each time with new services (every cache cold),
after one unmeasured round that binds the URLs to their MACs (and makes what a first fetch makes),
so that every measured round does the same work. Times are CPU time of this process
(``time.process_time``), so other load on the machine matters less than with wall-clock time.
Prints one JSON line: the median over rounds (and min-max) of

- ``storm_us``: CPU per storm request (every file of every phone's boot sequence, once), less
  the first request of each kind of file, which pays for one-off work (templates compiled, what
  the account's phones share); ``storm_cold_us``: the same with it, over all requests;
- ``cached_us``: CPU per fetch of an already-rendered file (the storm's files again);
- ``render_us``: per vendor and file, CPU of one uncached fetch of the phone's own file (token,
  URL state, database read, passwords, layout, template, output check);
- ``renderer_us``: per vendor and file, the part of that spent in ``Renderer.render``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import astuple
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from bootstorm import Phone, build  # noqa: E402

from deskprov.services.offline import offline_deps  # noqa: E402
from deskprov.services.phone import PhoneRequest  # noqa: E402
from deskprov.services.registry import Services  # noqa: E402
from deskprov.settings import Settings  # noqa: E402

BUCKETS = {"polycom": "VVX400", "yealink": "T46S", "fanvil": "X4U"}


def kind_of(vendor: str, filename: str) -> str:
    """The file's kind, for the figures: its vendor's phone model and the file."""
    name = filename.lower()
    if vendor == "polycom":
        part = "params" if name.endswith("-deskprov.cfg") else "master"
    elif vendor == "yealink":
        part = "boot" if name.endswith(".boot") else ("common" if name.startswith("y") else "mac")
    else:
        part = "cfg"
    return f"{vendor} {BUCKETS[vendor]} {part}"


async def storm_round(deps: Any, phones: list[Phone]) -> dict[str, Any]:
    sv = Services.build(deps)
    service = sv.phone
    renderer = service.renderer
    renderer.warm()  # (as ``deskprov serve`` does before it listens)
    inner: dict[str, list[float]] = defaultdict(list)
    real_render = renderer.render
    current = [""]

    def timed_render(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return real_render(*args, **kwargs)
        finally:
            inner[current[0]].append(time.process_time() - t0)

    renderer.render = timed_render  # type: ignore[method-assign]
    requests = storm_requests(phones)
    per_kind: dict[str, list[float]] = defaultdict(list)
    gc.collect()
    start = time.process_time()
    for kind, request in requests:
        current[0] = kind
        t0 = time.process_time()
        answer = await service.fetch(request)
        per_kind[kind].append(time.process_time() - t0)
        assert answer.status in (200, 404), (answer.status, request.filename)
    storm = time.process_time() - start
    # One-off costs (a template compiled, what an account's phones share worked out) come with
    # the first request of each kind; in a storm of thousands of phones they are spread thin.
    per_phone = sum(sum(v[1:]) for v in per_kind.values()) / (len(requests) - len(per_kind))
    start = time.process_time()
    for _, request in requests:
        await service.fetch(request)
    cached = time.process_time() - start
    return {
        "storm_us": per_phone * 1e6,
        "storm_cold_us": storm / len(requests) * 1e6,
        "cached_us": cached / len(requests) * 1e6,
        # (the first of each kind renders what is shared, once: not a per-phone cost)
        "render_us": {k: statistics.mean(v[1:]) * 1e6 for k, v in per_kind.items()},
        "renderer_us": {k: statistics.mean(v[1:]) * 1e6 for k, v in inner.items() if len(v) > 1},
        "requests": len(requests),
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 1),
        "min": round(min(values), 1),
        "max": round(max(values), 1),
    }


async def phones_in(work: Path, count: int) -> tuple[Settings, list[Phone]]:
    """The settings of a database of ``count`` phones in ``work``, and the phones: built there,
    or read back when an earlier run built them (--keep: the same phones again)."""
    work.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{work}/bench.db",
        key_file=work / "bench.keys",
        public_url="http://127.0.0.1:8080",
    )
    saved = work / "phones.json"
    if saved.exists():
        phones = [
            Phone(*(tuple(v) if isinstance(v, list) else v for v in p))
            for p in json.loads(saved.read_text())
        ]
    else:
        phones = await build(settings, count)
        saved.write_text(json.dumps([astuple(p) for p in phones]))
    return settings, phones


def storm_requests(phones: list[Phone]) -> list[tuple[str, PhoneRequest]]:
    """Every file of every phone's boot sequence, once, with its kind (see ``kind_of``)."""
    return [
        (
            kind_of(phone.vendor, name),
            PhoneRequest(
                phone.url.rstrip("/").rsplit("/", 1)[1], name, phone.user_agent, "127.0.0.1"
            ),
        )
        for phone in phones
        for name in phone.files
    ]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskprov-render-bench-"))
    settings, phones = await phones_in(work, args.phones)
    gc.set_threshold(50_000, 20, 100)  # as ``deskprov serve``
    rounds = []
    async with offline_deps(settings) as deps:
        await storm_round(deps, phones)  # binds every URL; not measured
        for _ in range(args.rounds):
            rounds.append(await storm_round(deps, phones))
    keys = sorted(rounds[0]["render_us"])
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "phones": len(phones),
        "requests": rounds[0]["requests"],
        "rounds": args.rounds,
        "storm_us": summary([r["storm_us"] for r in rounds]),
        "storm_cold_us": summary([r["storm_cold_us"] for r in rounds]),
        "cached_us": summary([r["cached_us"] for r in rounds]),
        "render_us": {k: summary([r["render_us"][k] for r in rounds]) for k in keys},
        "renderer_us": {
            k: summary([r["renderer_us"][k] for r in rounds])
            for k in sorted(rounds[0]["renderer_us"])
        },
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, help="build the phones' database here once, and reuse it after"
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
