"""``deskprov serve``: one server process, or a supervisor and N workers.

With ``--workers N`` the supervisor does once what must not race (key file, SQLite schema; a
PostgreSQL schema is checked), makes sure no other process listens on the ports, then binds one
SO_REUSEPORT socket per worker (the kernel spreads connections over them) and starts the
workers. A worker that dies is logged and started again on the same sockets (connections
waiting in its queue are not lost); one that fails before it listens stops the whole server
with its error. Every worker publishes its counters into one ``PROMETHEUS_MULTIPROC_DIR``, so
``/metrics`` from any of them covers all.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import TYPE_CHECKING

from deskprov import logs
from deskprov.problems import RUNTIME, tell
from deskprov.settings import Settings

if TYPE_CHECKING:
    from deskprov.security.tls import LiveTls
    from deskprov.sockets import Listeners

log = logging.getLogger("deskprov")

QUICK_DEATH = 10.0  # a worker that dies sooner than this after starting is restarted after:
RESTART_DELAY = 1.0


def serve(settings: Settings, *, debug: bool = False) -> int:
    if settings.workers == 1:
        from deskprov import sockets
        from deskprov.web import server

        tls = _tls(settings)
        server.run(settings, sockets.bind(settings), tls=tls)
        return 0
    return Supervisor(settings, debug=debug).run()


def _tls(settings: Settings) -> LiveTls | None:
    from deskprov.security.tls import LiveTls

    if settings.tls_cert is None or settings.tls_key is None:
        return None
    return LiveTls(settings.tls_cert, settings.tls_key)


async def _prepare(settings: Settings) -> None:
    """What the workers must not race to do: an SQLite schema brought up to date, a missing
    key file made (when the database allows: ``services.keyfile``); a PostgreSQL schema is
    only checked (``deskprov db upgrade`` migrates it)."""
    from deskprov.services.offline import offline_key_file

    await offline_key_file(settings)


@dataclass
class Worker:
    number: int
    listeners: Listeners
    process: SpawnProcess | None = None
    ready: Event | None = None
    started: float = 0.0
    restarts: int = field(default=0)


class Supervisor:
    def __init__(self, settings: Settings, *, debug: bool = False) -> None:
        self.settings = settings
        self.debug = debug
        self.context = multiprocessing.get_context("spawn")
        self.stopping = False

    def run(self) -> int:
        from deskprov import sockets

        settings = self.settings
        _tls(settings)  # (a certificate that cannot be loaded fails here, once)
        asyncio.run(_prepare(settings))
        sockets.refuse_taken(settings)
        workers = [
            Worker(n, sockets.bind(settings, reuse_port=True))
            for n in range(1, settings.workers + 1)
        ]
        metrics_dir = tempfile.mkdtemp(prefix="deskprov-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # (inherited by the workers)
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        try:
            for worker in workers:
                self._start(worker)
            return self._watch(workers)
        finally:
            self._terminate(workers)
            shutil.rmtree(metrics_dir, ignore_errors=True)

    def _stop(self, _signum: int, _frame: object) -> None:
        self.stopping = True

    def _start(self, worker: Worker) -> None:
        worker.ready = self.context.Event()
        worker.process = self.context.Process(
            target=_worker_main,
            args=(self.settings, worker.listeners, worker.ready, self.debug),
            name=f"deskprov-worker-{worker.number}",
        )
        worker.process.start()
        worker.started = time.monotonic()
        log.info("worker %d started (pid %d)", worker.number, worker.process.pid)

    def _watch(self, workers: list[Worker]) -> int:
        while not self.stopping:
            sentinels = {w.process.sentinel: w for w in workers if w.process is not None}
            for sentinel in wait(list(sentinels), timeout=0.5):
                worker = sentinels[sentinel]  # type: ignore[index]
                assert worker.process is not None and worker.ready is not None
                worker.process.join()
                code = worker.process.exitcode
                how = _exit_text(code)
                if not worker.ready.is_set() and worker.restarts == 0:
                    log.error("worker %d %s before it listened: stopping", worker.number, how)
                    return code if code in (1, 2) else RUNTIME
                if self.stopping:
                    break
                _forget_metrics(worker.process.pid)
                lived = time.monotonic() - worker.started
                log.error(
                    "worker %d (pid %d) %s after %.0f s: starting it again",
                    worker.number,
                    worker.process.pid,
                    how,
                    lived,
                )
                if lived < QUICK_DEATH:
                    time.sleep(RESTART_DELAY)
                worker.restarts += 1
                self._start(worker)
        log.info("stopping %d workers", len(workers))
        return 0

    def _terminate(self, workers: list[Worker]) -> None:
        alive = [w.process for w in workers if w.process is not None and w.process.is_alive()]
        for process in alive:
            process.terminate()
        deadline = time.monotonic() + 20
        for process in alive:
            process.join(timeout=max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker pid %d did not stop in 20 s: killed", process.pid)
                process.kill()
                process.join()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def _forget_metrics(pid: int | None) -> None:
    """A dead worker's counters stay (counts never go back); its live gauges, if any, go."""
    from prometheus_client import multiprocess

    if pid is not None:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def _worker_main(settings: Settings, listeners: Listeners, ready: Event, debug: bool) -> None:
    from deskprov.web import server

    logs.configure("debug" if debug else settings.log_level, settings.log_format)
    try:
        server.run(settings, listeners, tls=_tls(settings), on_ready=ready.set)
    except Exception as exc:
        status = tell(exc, settings)
        if status is None:
            raise
        raise SystemExit(status) from None
    finally:
        logging.shutdown()  # (a worker ends with os._exit, which skips atexit: write the logs)
