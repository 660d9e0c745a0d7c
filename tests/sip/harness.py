"""Real SIP software for the tests: Kamailio started with the configuration deskprov generates,
and sipp playing phones, all on loopback with free ports and bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from deskprov.registrar import config as kc
from deskprov.settings import Settings

KAMAILIO = shutil.which("kamailio") or shutil.which("kamailio", path="/usr/sbin:/sbin")
needs_kamailio = pytest.mark.skipif(
    KAMAILIO is None, reason="Kamailio is not installed (.ci/run installs it)"
)
TEST_ROLE = "deskprov_kamailio_test"
STARTUP_SECONDS = 15
SIPP_SECONDS = 15


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on ``host`` (Kamailio listens on both)."""
    for _ in range(50):
        with socket.socket() as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


@dataclass
class Kamailio:
    sip_port: int
    rpc_url: str
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sip_port}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_log(self, pattern: str, count: int = 1, seconds: float = 5) -> None:
        """Until Kamailio's log has ``pattern`` ``count`` times (it logs each NOTIFY it sends)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while self.log_text().count(pattern) < count:
            assert loop.time() < deadline, f"no {pattern!r} in Kamailio's log"
            await asyncio.sleep(0.05)


async def udp_exchange(
    kamailio: Kamailio, messages: list[str], *, host: str, seconds: float = 1.0, until: int = 0
) -> list[str]:
    """Send raw SIP ``messages`` (a hostile client: no retransmissions, no scenario) from
    ``host`` at once, and collect whatever answers arrive within ``seconds`` (or ``until``
    that many have)."""
    loop = asyncio.get_running_loop()
    answers: list[str] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind((host, 0))
        udp.setblocking(False)
        local_host, local_port = udp.getsockname()
        for message in messages:
            data = message.replace("[local]", f"{local_host}:{local_port}").replace("\n", "\r\n")
            await loop.sock_sendto(udp, data.encode(), ("127.0.0.1", kamailio.sip_port))
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0 and (not until or len(answers) < until):
            try:
                answer = await asyncio.wait_for(loop.sock_recv(udp, 65535), left)
            except TimeoutError:
                break
            answers.append(answer.decode(errors="replace"))
    return answers


async def rpc(url: str, method: str, *params: str) -> object:
    async with aiohttp.ClientSession() as http:
        body = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
        async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=2)) as resp:
            return await resp.json(content_type=None)


async def kamailio_db(settings: Settings, engine: AsyncEngine) -> kc.KamailioDb:
    """How Kamailio reads the test's database: the SQLite file opened read only, or as a
    PostgreSQL role that may only read the registrar tables (as `deskprov kamailio config`)."""
    if settings.is_sqlite:
        return kc.sqlite_db(settings.database_url)
    password = await kc.grant_read_only_role(engine, TEST_ROLE)
    return kc.postgres_db(settings.database_url, TEST_ROLE, password)


@contextlib.asynccontextmanager
async def running_kamailio(
    folder: Path, settings: Settings, db: kc.KamailioDb
) -> AsyncIterator[Kamailio]:
    """Kamailio on free loopback ports with deskprov's configuration for ``settings``."""
    assert KAMAILIO is not None and settings.kamailio_rpc_url
    sip_port = free_port()
    state_db = folder / "kamailio-state.sqlite"
    kc.ensure_state_db(state_db)
    config = kc.for_settings(
        settings, listen=f"127.0.0.1:{sip_port}", db=db, state_db=state_db, children=2
    )
    cfg = folder / "kamailio.cfg"
    cfg.write_text(config.render())
    run = folder / "kamailio-run"
    run.mkdir(exist_ok=True)
    log = folder / "kamailio.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            KAMAILIO, "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-m", "48", "-M", "8",
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    kamailio = Kamailio(sip_port, settings.kamailio_rpc_url, log)
    try:
        await _wait_ready(kamailio, process)
        yield kamailio
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                os.killpg(process.pid, 9)
                await process.wait()


async def _wait_ready(kamailio: Kamailio, process: asyncio.subprocess.Process) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_SECONDS
    while loop.time() < deadline:
        if process.returncode is not None:
            raise AssertionError(f"Kamailio exited at start:\n{kamailio.log_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            answer = await rpc(kamailio.rpc_url, "core.version")
            if isinstance(answer, dict) and "result" in answer:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"Kamailio did not start:\n{kamailio.log_text()[-3000:]}")


@dataclass(frozen=True)
class Sipped:
    """What one sipp run did: its exit code (0: the scenario went as written) and messages."""

    code: int
    messages: str
    output: str

    def check(self) -> Sipped:
        assert self.code == 0, f"sipp failed ({self.code}):\n{self.output[-2500:]}\n{self.messages}"
        return self


@dataclass
class Phone:
    """One SIP user as a phone plays it through sipp, from its own loopback port (and address:
    the PSTN gateway is told apart by its own, 127.0.0.2)."""

    kamailio: Kamailio
    folder: Path
    username: str
    password: str
    domain: str
    port: int = 0
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)

    async def start(self, scenario: str, **keys: str) -> asyncio.Task[Sipped]:
        """Run ``scenario`` in the background (a callee waiting, a watcher listening), once
        sipp holds its port (a loaded machine can take a while to start it)."""
        task = asyncio.create_task(self._run(scenario, keys))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while loop.time() < deadline and not task.done():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((self.host, self.port))
                except OSError:
                    return task  # sipp's
            await asyncio.sleep(0.02)
        return task

    async def run(self, scenario: str, **keys: str) -> Sipped:
        return await self._run(scenario, keys)

    async def _run(self, scenario: str, keys: dict[str, str]) -> Sipped:
        name = f"{self.username}-{self.port}-{abs(hash(scenario)) % 10**8}"
        xml = self.folder / f"{name}.xml"
        xml.write_text(scenario)
        messages = self.folder / f"{name}.messages"
        messages.unlink(missing_ok=True)
        args = [
            self.kamailio.address, "-sf", str(xml), "-m", "1", "-nostdin",
            "-i", self.host, "-p", str(self.port),
            "-s", self.username, "-au", self.username, "-ap", self.password,
            "-key", "domain", self.domain,
            "-timeout", f"{SIPP_SECONDS}s", "-timeout_error",
            "-trace_msg", "-message_file", str(messages),
        ]  # fmt: skip
        for key, value in {"target_domain": self.domain, **keys}.items():
            args += ["-key", key, value]
        process = await asyncio.create_subprocess_exec(
            "sipp", *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await process.communicate()
        text = messages.read_text(errors="replace") if messages.exists() else ""
        return Sipped(process.returncode or 0, text, output.decode(errors="replace"))
