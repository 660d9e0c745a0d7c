"""Instructions per boot-storm request of the phone path, counted by callgrind. A count does not
move with the machine's speed (this VM's drifts by a third within minutes, more than the changes
worth measuring), so two commits can be compared to the percent, even on a loaded machine.

    .venv/bin/python bench/instructions.py [--phones 150] [--keep DIR]

Builds the phones of ``bench/bootstorm.py`` (vendors mixed; as ``bench/render.py`` does, and
``--keep`` reuses its builds), then runs itself twice under ``valgrind --tool=callgrind``, with
one storm and with two: the first makes what a storm's first phones make (templates compiled,
fragments, the account's view), the second plays it again through ``PhoneService.fetch`` with
fresh services and the same renderer (the steady state of a storm). The difference of the two
counts is one storm without the process's set-up (with the services', whose caches start cold
but for the renderer's, so per request it shrinks as --phones grows: compare equal counts).
Prints one JSON line: instructions per storm request (``instructions_per_request``) and in all.
Needs valgrind (Debian package ``valgrind``); each run takes ~50 times as long as the storm
itself (about a minute for 150 phones).
To compare commits, run it from each checkout (a copy of it in an older one), each with a --keep
of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

from render import phones_in, storm_requests  # noqa: E402

from deskprov.services.offline import offline_deps  # noqa: E402
from deskprov.services.registry import Services  # noqa: E402


async def play(work: Path, phones: int, storms: int) -> int:
    """Play the storm ``storms`` times (the first makes what it makes); the requests of one."""
    settings, built = await phones_in(work, phones)
    requests = [request for _, request in storm_requests(built)]
    async with offline_deps(settings) as deps:
        renderer = None
        for _ in range(storms):
            service = Services.build(deps).phone
            if renderer is None:
                service.renderer.warm()
                renderer = service.renderer
            service.renderer = renderer
            for request in requests:
                answer = await service.fetch(request)
                assert answer.status in (200, 404), (answer.status, request.filename)
    return len(requests)


def counted(work: Path, phones: int, storms: int) -> int:
    """Instructions of a run of this script that plays ``storms`` storms."""
    out = work / f"callgrind.{storms}.out"
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--play",
            str(storms),
            "--keep",
            str(work),
            "--phones",
            str(phones),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    assert found, run.stderr[-2000:]
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=150)
    parser.add_argument("--keep", type=Path, help="build the phones here once, reuse them after")
    parser.add_argument("--play", type=int, help=argparse.SUPPRESS)  # (the run callgrind counts)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="deskprov-instructions-"))
    if args.play:
        print(json.dumps({"requests": asyncio.run(play(work, args.phones, args.play))}))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (Debian package valgrind)", file=sys.stderr)
        return 1
    requests = asyncio.run(play(work, args.phones, 1))  # (built here, outside the counts)
    one, two = counted(work, args.phones, 1), counted(work, args.phones, 2)
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "phones": args.phones,
                "requests": requests,
                "instructions_per_storm": two - one,
                "instructions_per_request": round((two - one) / requests),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
