"""Boot-storm benchmark: deskprov's phone endpoint against a bare aiohttp baseline, in one run.

    .venv/bin/python bench/bootstorm.py --phones 10000 [--workers 2] [--duration 10]
        [--database-url sqlite --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

Builds N phones' data in a fresh database through the real services (users, SIP users, keys,
provisioning URLs; vendors mixed), starts the real server (`deskprov serve`), and plays:

- storm:   every phone fetches its vendor's boot sequence once, with its real user agent and MAC
           (nothing cached: the server starts cold);
- steady:  the rendered files fetched again and again for --duration seconds (keep-alive);
- close:   the same with a new connection per request;
- polling: the same with If-None-Match, answered 304.

Each --database-url is one server under test: `sqlite` (the default) is a fresh file; a
PostgreSQL URL names a running server's maintenance database, in which the bench creates a
database of its own (dropped at the end; it starts no PostgreSQL itself). With several, every
server is built and storms first (each cold), then every round measures each in turn.

The baseline is a bare aiohttp app returning a constant body of the same mean size, measured with
the same requests in the same run: each steady phase runs --rounds times, ours then the
baseline's straight after, and the round with the median ratio is reported (with every round's
ratio), because this kind of VM drifts in speed by a third within minutes; a second database is
compared with the first the same way, round by round. Load comes from wrk (Debian package) with
bench/storm.lua when it is installed, else from an aiohttp client. Prints one JSON line: per
database req/s, p50/p99, storm seconds, peak RSS, and each figure's ratio to the baseline (and,
with several databases, to the first one's).
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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from deskprov.db import migrate  # noqa: E402
from deskprov.db.engine import make_engine  # noqa: E402
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


async def build(
    settings: Settings, phones: int, sip_users: int = 0, accounts: int = 1
) -> list[Phone]:
    """N phones' data through the real services, in a fresh database; with ``sip_users`` above
    N, that many SIP users in all (the others belong to no phone: the database is bigger, the
    storm the same). With ``accounts`` above 1, the phones are dealt out between that many
    organisations, each with one account (every write of a SIP user derives the registrar's
    routes from its whole account, so one account of 10,000 took 12 to 25 minutes to build)."""
    async with offline_deps(settings) as deps:
        sv = Services.build(deps)
        numbers = [list(range(a, phones, accounts)) for a in range(accounts)]
        spares = [list(range(phones + a, sip_users, accounts)) for a in range(accounts)]
        built: dict[int, Phone] = {}
        for a in range(accounts):
            suffix = "" if accounts == 1 else str(a + 1)
            built.update(await _build_account(sv, deps, suffix, numbers[a], spares[a]))
        return [built[n] for n in range(phones)]


async def _build_account(
    sv: Services, deps: Any, suffix: str, numbers: list[int], spares: list[int]
) -> dict[int, Phone]:
    """One organisation with one whippy_phone account and the phones ``numbers``."""
    created = await create_organisation(deps, f"Bench{suffix}")
    actor = Actor(org_id=created.organisation_id, key_id="bench", role=Role.admin)
    top = Scope(actor)
    account = await sv.provider_accounts.create(
        top, org.ProviderAccountCreate(name="Bench", provider="whippy_phone")
    )
    scope = Scope(actor, account.id)
    domain = await sv.sip_domains.create(
        scope, acc.SipDomainCreate(name="d", prefix=f"bench{suffix}")
    )
    cl = await sv.credential_lists.create(scope, acc.CredentialListCreate(name="l"))
    await sv.credential_attachments.create(
        scope, acc.CredentialAttachmentCreate(sip_domain_id=domain.id, credential_list_id=cl.id)
    )
    queue = await sv.queues.create(top, org.QueueCreate(name="Support", extension="600"))
    result = {}
    for i, n in enumerate(numbers):
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
        if i < 4:  # a few account-wide keys: BLF to the first users, a queue, a number
            await sv.sip_extensions.create(
                scope,
                acc.SipExtensionCreate(
                    extension=f"10{i}",
                    label=f"User {n}",
                    subtype="start_new_call",
                    scope="provider_account",
                    type="memory_key",
                    position=i + 1,
                    target=acc.ResourceTarget(type="sip_user", id=sip.id),
                ),
            )
        vendor = VENDORS[n % 3]
        url = await sv.provisioning_urls.create(
            scope,
            prov.ProvisioningUrlCreate(user_id=user.id, vendor=vendor),  # type: ignore[arg-type]
        )
        assert url.url is not None
        result[n] = phone_for(vendor, n, url.url)
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
    for n in spares:
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
    except RuntimeError:
        if log:  # a server that did not come up: say why
            out.flush()  # type: ignore[union-attr]
            print(log.read_text()[-3000:], file=sys.stderr)
        raise
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


def median_ratio(ours: list[Result], theirs: list[Result]) -> dict[str, Any]:
    """Round by round, ours over theirs: the median, and every round's."""
    ratios = [o.rps / t.rps for o, t in zip(ours, theirs, strict=True)]
    return {"ratio": round(statistics.median(ratios), 3), "ratios": [round(r, 3) for r in ratios]}


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


@dataclass
class Target:
    """One deskprov server under test, on a database of its own."""

    name: str  # "sqlite" or "postgresql"
    database_url: str
    port: int
    work: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def create_database(spec: str, work: Path) -> tuple[str, str]:
    """(name, URL) of a fresh database for ``spec``: a new SQLite file, or a new database on
    the PostgreSQL server whose maintenance database ``spec`` names (migrated)."""
    if spec == "sqlite":
        return "sqlite", f"sqlite+aiosqlite:///{work}/bench.db"
    server = make_url(spec)
    if server.get_backend_name() != "postgresql":
        raise SystemExit(f"--database-url: sqlite or a PostgreSQL URL, not {spec}")
    name = f"deskprov_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(spec, f"CREATE DATABASE {name}"))
    url = server.set(database=name).render_as_string(hide_password=False)

    async def upgrade() -> None:
        engine = make_engine(url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(upgrade())
    except BaseException:
        drop_database(spec, url)
        raise
    return "postgresql", url


def drop_database(spec: str, url: str) -> None:
    if spec != "sqlite":
        asyncio.run(
            _admin(spec, f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')
        )


async def _admin(url: str, statement: str) -> None:
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=1000)
    parser.add_argument(
        "--sip-users", type=int, default=0, help="SIP users in the database (at least --phones)"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=1,
        help="organisations (one account each) sharing the phones",
    )
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10, help="seconds per steady phase")
    parser.add_argument(
        "--rounds", type=int, default=3, help="steady phases per kind, each paired with baseline's"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loadgen", choices=("auto", "wrk", "aiohttp"), default="auto")
    parser.add_argument(
        "--database-url",
        action="append",
        dest="databases",
        help="sqlite (default) or a PostgreSQL server's maintenance database URL; repeatable",
    )
    args = parser.parse_args()
    specs: list[str] = args.databases or ["sqlite"]
    if len(set(specs)) != len(specs):
        raise SystemExit("--database-url: each database once")
    kind = args.loadgen if args.loadgen != "auto" else ("wrk" if shutil.which("wrk") else "aiohttp")
    work = Path(tempfile.mkdtemp(prefix="deskprov-bench-"))
    created: list[tuple[str, str]] = []
    try:
        targets, phones, builds = [], {}, {}
        for spec in specs:
            folder = work / f"db{len(targets)}"
            folder.mkdir()
            kind_of, url = create_database(spec, folder)
            created.append((spec, url))
            name = kind_of if kind_of not in phones else f"{kind_of}{len(targets) + 1}"
            target = Target(name, url, free_port(), folder)
            settings = Settings(
                database_url=url,
                key_file=folder / "bench.keys",
                public_url=target.base,
                port=target.port,
            )
            t0 = time.perf_counter()
            phones[name] = asyncio.run(build(settings, args.phones, args.sip_users, args.accounts))
            builds[name] = round(time.perf_counter() - t0, 1)
            targets.append(target)
        report = measure(args, kind, work, targets, phones)
        for target in targets:
            report["databases"][target.name]["build_seconds"] = builds[target.name]
    finally:
        for spec, url in created:
            drop_database(spec, url)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(report))
    return 0


def measure(
    args: argparse.Namespace,
    kind: str,
    work: Path,
    targets: list[Target],
    phones: dict[str, list[Phone]],
) -> dict[str, Any]:
    common = dict(duration=args.duration, connections=args.connections, threads=args.threads)
    storm_kw = dict(common, duration=600)
    serve = [sys.executable, "-m", "deskprov", "serve"]
    if args.workers > 1:
        serve += ["--workers", str(args.workers)]
    base_port = free_port()
    other = f"http://127.0.0.1:{base_port}"
    storm_files = {
        t.name: write_lines(
            t.work / "storm.txt",
            [
                (p.url.split(t.base, 1)[1] + f, p.user_agent, "")
                for p in phones[t.name]
                for f in p.files
            ],
        )
        for t in targets
    }
    with contextlib.ExitStack() as stack:
        servers, storms, fetch_files, poll_files, sizes = {}, {}, {}, {}, []
        for t in targets:
            env = {
                **os.environ,
                "DESKPROV_DATABASE_URL": t.database_url,
                "DESKPROV_KEY_FILE": str(t.work / "bench.keys"),
                "DESKPROV_PUBLIC_URL": t.base,
                "DESKPROV_PORT": str(t.port),
            }
            servers[t.name] = stack.enter_context(running(serve, env, t.work / "server.log"))
            wait_for(t.port, "/healthz")
        storm_cpu = {}
        for t in targets:  # every server's storm before anything else warms any of them
            cpu_before = cpu_seconds(servers[t.name].pid)
            storms[t.name] = load(
                kind, t.base, storm_files[t.name], storm=True, close=False, **storm_kw
            )
            storm_cpu[t.name] = cpu_seconds(servers[t.name].pid) - cpu_before
        for t in targets:
            rows, size = asyncio.run(collect(t.base, phones[t.name]))
            fetch_files[t.name] = write_lines(
                t.work / "fetch.txt", [(p, a, "") for p, a, _ in rows]
            )
            poll_files[t.name] = write_lines(t.work / "poll.txt", rows)
            sizes.append(size)
        # The baseline answers with a body of our files' mean size, so it starts now.
        size = sizes[0]
        baseline_cmd = [sys.executable, str(HERE / "baseline.py"), str(base_port), str(size)]
        baseline = stack.enter_context(running(baseline_cmd, dict(os.environ), None))
        wait_for(base_port, "/")
        first = targets[0].name
        b_storm = load(kind, other, storm_files[first], storm=True, close=False, **storm_kw)

        def rounds(files: dict[str, Path], close: bool) -> dict[str, list[tuple[Result, Result]]]:
            """Each round: every server in turn, then the baseline at once, so that all see the
            machine in the same state (this VM's speed drifts by a third within minutes)."""
            measured: dict[str, list[tuple[Result, Result]]] = {t.name: [] for t in targets}
            for _ in range(args.rounds):
                ours = {
                    t.name: load(kind, t.base, files[t.name], storm=False, close=close, **common)
                    for t in targets
                }
                theirs = load(kind, other, fetch_files[first], storm=False, close=close, **common)
                for name, result in ours.items():
                    measured[name].append((result, theirs))
            return measured

        phases = {
            "steady": rounds(fetch_files, close=False),
            "new_connection": rounds(fetch_files, close=True),
            "polling_304": rounds(poll_files, close=False),  # against the baseline's 200s
        }
        rss = {t.name: peak_rss_mb(servers[t.name].pid) for t in targets}
        b_rss = peak_rss_mb(baseline.pid)

    databases: dict[str, dict[str, Any]] = {}
    for t in targets:
        storm = storms[t.name]
        databases[t.name] = {
            **{phase: median_round(measured[t.name]) for phase, measured in phases.items()},
            "storm": {
                "seconds": storm.seconds,
                "requests": storm.requests,
                "baseline_seconds": b_storm.seconds,
                "ratio": round(storm.seconds / b_storm.seconds, 3),
                "rps": storm.rps,
                # (the server's CPU per request: less sensitive to other load than the seconds)
                "cpu_us_per_request": round(storm_cpu[t.name] / storm.requests * 1e6),
            },
            "peak_rss_mb": rss[t.name],
        }
    report: dict[str, Any] = {
        "phones": args.phones,
        "accounts": args.accounts,
        "sip_users": max(args.phones, args.sip_users),
        "workers": args.workers,
        "loadgen": kind,
        "access_log": os.environ.get("DESKPROV_ACCESS_LOG", "on"),
        "body_bytes": size,
        "databases": databases,
        "baseline_peak_rss_mb": b_rss,
    }
    if len(targets) > 1:  # each later database against the first, round by round
        report[f"versus_{first}"] = {
            t.name: {
                **{
                    phase: median_ratio(
                        [o for o, _ in measured[t.name]], [o for o, _ in measured[first]]
                    )
                    for phase, measured in phases.items()
                },
                "storm_seconds": round(storms[t.name].seconds / storms[first].seconds, 3),
                "peak_rss": round(rss[t.name] / rss[first], 3),
            }
            for t in targets[1:]
        }
    return report


if __name__ == "__main__":
    raise SystemExit(main())
