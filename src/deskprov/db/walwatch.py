"""Has anything been committed to a SQLite database since we last looked? Answered without a
system call, for every process at once, by reading the WAL-index header.

In WAL mode every connection, in any process, publishes each commit in the header of the shared
``<database>-shm`` file, which every SQLite version maps into memory and reads the same way (its
layout is fixed: https://www.sqlite.org/walformat.html - two 48-byte copies of the header at
offset 0, ``iChange`` counting transactions, ``mxFrame`` and the salts moving with every commit
and checkpoint). If the 96 bytes are as we last saw them, nothing was committed since; if they
differ, something may have been, and the caller asks SQLite itself (``PRAGMA data_version``).
So a look costs a memory compare instead of the ~10 us of starting a read transaction (file
locks), and can only err towards asking.

Two rules keep this safe:
- The file is only mapped once it exists and holds the header, and the mapping is read-only.
- Its descriptor stays open until ``close``: POSIX drops every lock a process holds on a file when
  *any* of its descriptors for that file is closed, so closing ours while this process's SQLite
  connections still use the file would drop their locks. Close only after those connections.
"""

from __future__ import annotations

import mmap
import os

HEADER_BYTES = 96  # the two copies of the WAL-index header


class WalWatch:
    def __init__(self, database: str) -> None:
        self._path = database + "-shm"
        self._fd: int | None = None
        self._map: mmap.mmap | None = None
        self._seen = b""

    def changed(self) -> bool:
        """True when a commit may have happened since the previous call (and on the first
        call, or whenever the header cannot be read); False only when none can have."""
        header = self._header()
        if header is None or header[:48] != header[48:]:  # unmapped, or a writer mid-update
            self._seen = b""
            return True
        if header == self._seen:
            return False
        self._seen = header
        return True

    def _header(self) -> bytes | None:
        if self._map is None and not self._open():
            return None
        assert self._map is not None
        return self._map[:HEADER_BYTES]

    def _open(self) -> bool:
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except OSError:
                return False  # not in WAL mode, or no connection has opened the database yet
        try:  # (the descriptor is kept even when this fails: see the module's second rule)
            if os.fstat(self._fd).st_size < HEADER_BYTES:
                return False
            self._map = mmap.mmap(self._fd, HEADER_BYTES, access=mmap.ACCESS_READ)
        except OSError:
            return False
        return True

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
