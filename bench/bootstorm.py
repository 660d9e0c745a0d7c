"""Boot-storm benchmark: deskprov's phone endpoint against a bare aiohttp baseline, in one run.

    .venv/bin/python bench/bootstorm.py --phones 10000 [--workers 2] [--duration 10]

Builds N phones' data in a fresh database through the real services (users, SIP users, keys,
provisioning URLs; vendors mixed), starts the real server (`deskprov serve`), and plays:

- storm:   every phone fetches its vendor's boot sequence once, with its real user agent and MAC
           (nothing cached: the server starts cold);
- steady:  the rendered files fetched again and again for --duration seconds (keep-alive);
- close:   the same with a new connection per request;
- polling: the same with If-None-Match, answered 304.

The baseline is a bare aiohttp app returning a constant body of the same mean size, measured with
the same requests in the same run: each steady phase runs --rounds times, ours then the
baseline's straight after, and the round with the median ratio is reported (with every round's
ratio), because this kind of VM drifts in speed by a third within minutes. Load comes from wrk
(Debian package) with bench/storm.lua when it is installed, else from an aiohttp client. Prints
one JSON line: req/s, p50/p99, storm seconds, peak RSS, and each figure's ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from deskprov.domain.roles import Actor, Role  # noqa: E402
from deskprov.schemas import account as acc  # noqa: E402
from deskprov.schemas import organisation as org  # noqa: E402
from deskprov.schemas import provisioning as prov  # noqa: E402
from deskprov.services.base import Scope  # noqa: E402
from deskprov.services.offline import offline_deps  # noqa: E402
from deskprov.services.organisation import create_organisation  # noqa: E402
from deskprov.services.registry import Services  # noqa: E402
from deskprov.settings import Settings  # noqa: E402

VENDORS = ("polycom", "yealink", "fanvil")


@dataclass(frozen=True)
class Phone:
    vendor: str
    url: str  # ends with /
    user_agent: str
    files: tuple[str, ...]  # the boot sequence
    served: tuple[str, ...]  # the files answered 200


def phone_for(vendor: str, n: int, url: str) -> Phone:
    if vendor == "polycom":
        mac = f"0004f2{n:06x}"
        ua = f"FileTransport PolycomVVX-VVX_400-UA/6.4.3.5018 (SN:{mac}) Type/Application"
        files = (f"{mac}.cfg", f"{mac}-deskprov.cfg")
        return Phone(vendor, url, ua, files, files)
    if vendor == "yealink":
        mac = f"805ec0{n:06x}"
        colons = ":".join(mac[i : i + 2] for i in range(0, 12, 2))
        ua = f"Yealink SIP-T46S 66.86.0.15 {colons}"
        files = (f"{mac}.boot", "y000000000066.cfg", f"{mac}.cfg")
        return Phone(vendor, url, ua, files, files[1:])
    mac = f"0c383e{n:06x}"
    return Phone(vendor, url, f"Fanvil X4U 2.12.1 {mac}", (f"{mac}.cfg",), (f"{mac}.cfg",))


async def build(settings: Settings, phones: int, sip_users: int = 0) -> list[Phone]:
    """N phones' data through the real services, in a fresh database; with ``sip_users`` above
    N, that many SIP users in all (the others belong to no phone: the database is bigger, the
    storm the same)."""
    async with offline_deps(settings) as deps:
        sv = Services.build(deps)
        created = await create_organisation(deps, "Bench")
        actor = Actor(org_id=created.organisation_id, key_id="bench", role=Role.admin)
        top = Scope(actor)
        account = await sv.provider_accounts.create(
            top, org.ProviderAccountCreate(name="Bench", provider="whippy_phone")
        )
        scope = Scope(actor, account.id)
        domain = await sv.sip_domains.create(scope, acc.SipDomainCreate(name="d", prefix="bench"))
        cl = await sv.credential_lists.create(scope, acc.CredentialListCreate(name="l"))
        await sv.credential_attachments.create(
            scope, acc.CredentialAttachmentCreate(sip_domain_id=domain.id, credential_list_id=cl.id)
        )
        queue = await sv.queues.create(top, org.QueueCreate(name="Support", extension="600"))
        result = []
        for n in range(phones):
            user = await sv.users.create(
                top, org.UserCreate(name=f"User {n}", email=f"user{n}@bench.example")
            )
            sip = await sv.sip_users.create(
                scope,
                acc.SipUserCreate(
                    username=f"u{n}",
                    password=f"Bench-Passw0rd-{n}",
                    credential_list_id=cl.id,
                    user_id=user.id,
                ),
            )
            if n < 4:  # a few account-wide keys: BLF to the first users, a queue, a number
                await sv.sip_extensions.create(
                    scope,
                    acc.SipExtensionCreate(
                        extension=f"10{n}",
                        label=f"User {n}",
                        subtype="start_new_call",
                        scope="provider_account",
                        type="memory_key",
                        position=n + 1,
                        target=acc.ResourceTarget(type="sip_user", id=sip.id),
                    ),
                )
            vendor = VENDORS[n % 3]
            url = await sv.provisioning_urls.create(
                scope,
                prov.ProvisioningUrlCreate(user_id=user.id, vendor=vendor),  # type: ignore[arg-type]
            )
            assert url.url is not None
            result.append(phone_for(vendor, n, url.url))
        await sv.sip_extensions.create(
            scope,
            acc.SipExtensionCreate(
                extension="600",
                label="Support",
                subtype="blind_transfer",
                scope="provider_account",
                type="memory_key",
                position=10,
                target=acc.ResourceTarget(type="queue", id=queue.id),
            ),
        )
        for n in range(phones, sip_users):
            await sv.sip_users.create(
                scope,
                acc.SipUserCreate(
                    username=f"spare{n}", password=f"Spare-Passw0rd-{n}", credential_list_id=cl.id
                ),
            )
        return result


# --- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
                if conn.recv(12).startswith(b"HTTP/1."):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answers on port {port}")


def _family(pid: int) -> list[int]:
    """A process and its children (the workers of ``deskprov serve --workers N``)."""
    try:
        return [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    except OSError:
        return [pid]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) spent so far by a process and its children."""
    ticks = 0
    for p in _family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak RSS (VmHWM) of a process and its children, in MB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        total += int(found.group(1)) if found else 0
    return round(total / 1024, 1)


@contextlib.contextmanager
def running(
    cmd: list[str], env: dict[str, str], log: Path | None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process for the length of the block (its output in ``log``)."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            print(f"{cmd[-1]} did not stop in 30 s; its log: {log}", file=sys.stderr)
            raise
        finally:
            if log:
                out.close()  # type: ignore[union-attr]


# --- load generation ------------------------------------------------------------------------


@dataclass
class Result:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int  # answers other than the expected kind


WRK_LAT = re.compile(r"^\s+(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def run_wrk(
    base: str,
    lines: Path,
    *,
    storm: bool,
    close: bool,
    duration: int,
    connections: int,
    threads: int,
) -> Result:
    done_file = lines.with_suffix(".done")
    done_file.unlink(missing_ok=True)
    env = {
        **os.environ,
        "REQUESTS": str(lines),
        "THREADS": str(threads),
        "DONE": str(done_file),
        "STORM": "1" if storm else "0",
        "CLOSE": "1" if close else "0",
    }
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(connections),
            "-d",
            f"{duration}s",
            "--latency",
            "-s",
            str(HERE / "storm.lua"),
            base,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if storm:
        finished = re.search(r"storm_seconds ([\d.]+)", out)
        assert finished, "the storm did not finish within its time limit"
        seconds = float(finished.group(1))
        requests = len(lines.read_text().splitlines())
        return Result(requests, round(seconds, 3), round(requests / seconds, 1), 0.0, 0.0, 0)
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    assert done, out
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    requests, seconds = int(done.group(1)), float(done.group(2)) * scale
    lat = {
        p: float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[u] for p, v, u in WRK_LAT.findall(out)
    }
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(
        requests,
        round(seconds, 3),
        round(requests / seconds, 1),
        lat.get("50", 0.0),
        lat.get("99", 0.0),
        int(bad.group(1)) if bad else 0,
    )


async def run_aiohttp(
    base: str,
    lines: Path,
    *,
    storm: bool,
    close: bool,
    duration: int,
    connections: int,
    threads: int,
) -> Result:
    requests = []
    for line in lines.read_text().splitlines():
        path, agent, *rest = line.split("\t")
        headers = {"User-Agent": agent}
        if rest and rest[0]:
            headers["If-None-Match"] = rest[0]
        requests.append((path, headers))
    latencies: list[float] = []
    bad = 0
    start = time.perf_counter()
    deadline = start + duration
    position = 0
    connector = aiohttp.TCPConnector(limit=connections, force_close=close)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def worker() -> None:
            nonlocal position, bad
            while True:
                if (storm and position >= len(requests)) or (
                    not storm and time.perf_counter() > deadline
                ):
                    return
                path, headers = requests[position % len(requests)]
                position += 1
                t0 = time.perf_counter()
                async with session.get(path, headers=headers) as resp:
                    await resp.read()
                    bad += resp.status >= 400
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(worker() for _ in range(connections)))
    seconds = time.perf_counter() - start
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Result(
        len(latencies),
        round(seconds, 3),
        round(len(latencies) / seconds, 1),
        round(q[49] * 1000, 3),
        round(q[98] * 1000, 3),
        bad,
    )


def median_round(rounds: list[tuple[Result, Result]]) -> dict[str, Any]:
    """The round whose ratio is the median, with every round's ratio beside it."""
    ratios = [ours.rps / theirs.rps for ours, theirs in rounds]
    middle = sorted(range(len(rounds)), key=ratios.__getitem__)[len(rounds) // 2]
    ours, theirs = rounds[middle]
    return {
        "rps": ours.rps,
        "p50_ms": ours.p50_ms,
        "p99_ms": ours.p99_ms,
        "baseline_rps": theirs.rps,
        "ratio": round(ratios[middle], 3),
        "ratios": [round(r, 3) for r in ratios],
        "bad": sum(o.bad for o, _ in rounds),
    }


def load(kind: str, base: str, lines: Path, **kw: object) -> Result:
    if kind == "wrk":
        return run_wrk(base, lines, **kw)  # type: ignore[arg-type]
    return asyncio.run(run_aiohttp(base, lines, **kw))  # type: ignore[arg-type]


def write_lines(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("".join(f"{p}\t{a}\t{e}\n" for p, a, e in rows))
    return path


async def collect(base: str, phones: list[Phone]) -> tuple[list[tuple[str, str, str]], int]:
    """(path, user agent, ETag) for every served file, and the mean body size."""
    rows, sizes = [], []
    async with aiohttp.ClientSession(base, connector=aiohttp.TCPConnector(limit=32)) as s:

        async def one(phone: Phone, name: str) -> None:
            path = phone.url.split(base, 1)[1] + name if phone.url.startswith(base) else ""
            async with s.get(path, headers={"User-Agent": phone.user_agent}) as resp:
                body = await resp.read()
                assert resp.status == 200, (resp.status, path)
                rows.append((path, phone.user_agent, resp.headers["ETag"]))
                sizes.append(len(body))

        await asyncio.gather(*(one(p, n) for p in phones for n in p.served))
    return rows, int(statistics.mean(sizes))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument(
        "--sip-users", type=int, default=0, help="SIP users in the database (at least --phones)"
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10, help="seconds per steady phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="steady phases per kind, each paired with baseline's"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "aiohttp"), default="auto")
    args = parser.parse_args()
    kind = args.loadgen if args.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "aiohttp")
    work = Path(tempfile.mkdtemp(prefix="deskprov-bench-"))
    port, base_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    settings = replace(
        Settings.from_env({}),
        database_url=f"sqlite+aiosqlite:///{work}/bench.db",
        key_file=work / "bench.keys",
        public_url=base,
        port=port,
    )
    t0 = time.perf_counter()
    phones = asyncio.run(build(settings, args.phones, args.sip_users))
    build_seconds = round(time.perf_counter() - t0, 1)
    env = {
        **os.environ,
        "DESKPROV_DATABASE_URL": settings.database_url,
        "DESKPROV_KEY_FILE": str(settings.key_file),
        "DESKPROV_PUBLIC_URL": base,
        "DESKPROV_PORT": str(port),
    }
    storm_rows = [(p.url.split(base, 1)[1] + f, p.user_agent, "") for p in phones for f in p.files]
    storm_file = write_lines(work / "storm.txt", storm_rows)
    common = dict(duration=args.duration, connections=args.connections, threads=args.threads)
    storm_kw = dict(common, duration=600)

    serve = [sys.executable, "-m", "deskprov", "serve"]
    if args.workers > 1:
        serve += ["--workers", str(args.workers)]
    other = f"http://127.0.0.1:{base_port}"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(running(serve, env, work / "server.log"))
        wait_for(port, "/healthz")
        cpu_before = cpu_seconds(server.pid)
        storm = load(kind, base, storm_file, storm=True, close=False, **storm_kw)
        storm_cpu = cpu_seconds(server.pid) - cpu_before
        rows, size = asyncio.run(collect(base, phones))
        fetch_file = write_lines(work / "fetch.txt", [(p, a, "") for p, a, _ in rows])
        poll_file = write_lines(work / "poll.txt", rows)
        # The baseline answers with a body of our files' mean size, so it starts now.
        baseline_cmd = [sys.executable, str(HERE / "baseline.py"), str(base_port), str(size)]
        baseline = stack.enter_context(running(baseline_cmd, dict(os.environ), None))
        wait_for(base_port, "/")
        b_storm = load(kind, other, storm_file, storm=True, close=False, **storm_kw)

        def rounds(ours: Path, theirs: Path, close: bool) -> list[tuple[Result, Result]]:
            """Each round: our server, then the baseline at once, so that both see the machine
            in the same state (this VM's speed drifts by a third within minutes)."""
            return [
                (
                    load(kind, base, ours, storm=False, close=close, **common),
                    load(kind, other, theirs, storm=False, close=close, **common),
                )
                for _ in range(args.rounds)
            ]

        steady = rounds(fetch_file, fetch_file, close=False)
        close = rounds(fetch_file, fetch_file, close=True)
        polling = rounds(poll_file, fetch_file, close=False)  # against the baseline's 200s
        rss, b_rss = peak_rss_mb(server.pid), peak_rss_mb(baseline.pid)

    figures = {
        "steady": median_round(steady),
        "new_connection": median_round(close),
        "polling_304": median_round(polling),
        "storm": {
            "seconds": storm.seconds,
            "requests": storm.requests,
            "baseline_seconds": b_storm.seconds,
            "ratio": round(storm.seconds / b_storm.seconds, 3),
            "rps": storm.rps,
            # (the server's CPU per request: less sensitive to other load than the seconds)
            "cpu_us_per_request": round(storm_cpu / storm.requests * 1e6),
        },
    }
    print(
        json.dumps(
            {
                "phones": args.phones,
                "sip_users": max(args.phones, args.sip_users),
                "workers": args.workers,
                "loadgen": kind,
                "access_log": os.environ.get("DESKPROV_ACCESS_LOG", "on"),
                "body_bytes": size,
                "build_seconds": build_seconds,
                **figures,
                "peak_rss_mb": rss,
                "baseline_peak_rss_mb": b_rss,
            }
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
