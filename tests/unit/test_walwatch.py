"""The WAL-index watch: it may answer "changed" when nothing was, never the reverse."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from deskprov.db.walwatch import WalWatch


def _wal_database(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (n INTEGER)")
    return conn


def test_a_commit_by_another_connection_is_seen_and_quiet_is_quiet(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    writer = _wal_database(db)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("SELECT count(*) FROM t").fetchone()
    watch = WalWatch(str(db))
    try:
        assert watch.changed()  # the first look always says so
        assert not watch.changed() and not watch.changed()
        for n in range(50):
            writer.execute("INSERT INTO t VALUES (?)", (n,))
            assert watch.changed(), n
            assert not watch.changed(), n
        writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # restarts the WAL: new salts
        assert watch.changed()
        writer.execute("INSERT INTO t VALUES (-1)")
        assert watch.changed()
        writer.execute("SELECT count(*) FROM t").fetchone()  # a read commits nothing
        assert not watch.changed()
    finally:
        watch.close()
        reader.close()
        writer.close()


def test_a_commit_by_another_process_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    conn = _wal_database(db)
    watch = WalWatch(str(db))
    try:
        watch.changed()
        assert not watch.changed()
        script = (
            "import sqlite3, sys; conn = sqlite3.connect(sys.argv[1]);"
            " conn.execute('INSERT INTO t VALUES (1)'); conn.commit()"
        )
        subprocess.run([sys.executable, "-c", script, str(db)], check=True)
        assert watch.changed()
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
    finally:
        watch.close()
        conn.close()


def test_without_a_wal_index_every_look_says_changed(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    conn = sqlite3.connect(db, isolation_level=None)  # rollback journal: no -shm file
    conn.execute("CREATE TABLE t (n INTEGER)")
    watch = WalWatch(str(db))
    try:
        assert all(watch.changed() for _ in range(3))
    finally:
        watch.close()
        conn.close()
