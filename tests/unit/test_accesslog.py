"""The access log of `deskprov serve`: tokens cut out, lines written in batches, none lost at
shutdown, and a flood bounded (and said so)."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from deskprov.web.accesslog import AccessLines, RedactingAccessLogger, batch_access_log


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def _request(path: str) -> Any:
    return SimpleNamespace(remote="192.0.2.7", method="GET", path=path)


def test_lines_are_batched_redacted_and_written_on_close(root_stream: io.StringIO) -> None:
    logger = logging.getLogger("test.access.batched")
    logger.setLevel(logging.INFO)
    batch_access_log(logger)
    lines = next(h for h in logger.handlers if isinstance(h, AccessLines))
    try:
        access = RedactingAccessLogger(logger, "")
        assert access.lines is lines
        response: Any = SimpleNamespace(status=200, body_length=611)
        access.log(_request("/p/SECRET-TOKEN/0004f2000001.cfg"), response, 0.0021)
        logger.info("%s stays %s", "a plain record", "one line")  # (through the handler)
        assert root_stream.getvalue() == ""  # not yet: written with the next batch
        lines.close()  # what logging.shutdown does at exit
        out = root_stream.getvalue()
        assert "SECRET-TOKEN" not in out
        assert "test.access.batched a plain record stays one line\n" in out
        assert (
            f"INFO [{os.getpid()}] test.access.batched 192.0.2.7 "
            '"GET /p/<token>/0004f2000001.cfg" 200 611 2.1ms\n'
        ) in out
    finally:
        logger.removeHandler(lines)


def test_a_flood_is_bounded_and_counted(root_stream: io.StringIO) -> None:
    lines = AccessLines("test.access.flood", interval=60, capacity=3)
    try:
        for n in range(5):
            lines.add(f"line {n}")
        lines.flush()
        out = root_stream.getvalue().splitlines()
        assert [line.rsplit(" ", 2)[-2:] for line in out[:3]] == [
            ["line", str(n)] for n in range(3)
        ]
        assert out[3].endswith(" test.access.flood access log: 2 lines dropped (over 3 in one go)")
    finally:
        lines.close()


def test_without_the_batching_handler_lines_go_through_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.access.plain")
    access = RedactingAccessLogger(logger, "")
    with caplog.at_level(logging.INFO, logger="test.access.plain"):
        access.log(_request("/p/T0KEN/x.cfg"), SimpleNamespace(status=404, body_length=0), 0.001)  # type: ignore[arg-type]
    assert caplog.messages == ['192.0.2.7 "GET /p/<token>/x.cfg" 404 0 1.0ms']


def test_the_loggers_level_still_silences_it() -> None:
    logger = logging.getLogger("test.access.silenced")
    access = RedactingAccessLogger(logger, "")
    logger.setLevel(logging.WARNING)
    assert not access.enabled
    logger.setLevel(logging.INFO)
    assert access.enabled
