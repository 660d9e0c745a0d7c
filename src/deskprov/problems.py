"""Errors an operator can fix, each told as one line naming the setting or step and the fix.

``Problem.status`` is the command's exit status: 2 when the configuration is wrong (settings,
command-line arguments, the files they name), 1 when something outside is not as needed at run
time (the database is down or not migrated, the port is taken). ``explain`` turns the exceptions
that libraries raise for such faults into a ``Problem``; anything it does not know is a bug and
keeps its traceback.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from deskprov.errors import AppError, Invalid
from deskprov.settings import Settings, SettingsError

CONFIGURATION = 2
RUNTIME = 1

# asyncpg's errors for a server that is going away or not taking connections (by name: asyncpg
# is optional).
DATABASE_GONE = frozenset(
    {"CannotConnectNowError", "ConnectionDoesNotExistError", "TooManyConnectionsError"}
)


class Problem(Exception):
    def __init__(self, message: str, *, status: int = RUNTIME) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def log_failure(
    log: logging.Logger, exc: BaseException, doing: str, settings: Settings | None = None
) -> None:
    """Log an error met while serving: one line for a known operational fault (the database
    is down...), with its traceback only at debug level; a traceback for anything else."""
    problem = explain(exc, settings)
    if problem is None:
        log.error("%s: unexpected error", doing, exc_info=exc)
        return
    log.error("%s: %s", doing, problem.message)
    log.debug("%s: traceback", doing, exc_info=exc)


def tell(exc: BaseException, settings: Settings | None = None) -> int | None:
    """An operator's problem told on standard error in one line (its traceback logged at debug
    level): the exit status; None when ``exc`` is a bug, for the caller to raise again."""
    problem = explain(exc, settings)
    if problem is None:
        return None
    logging.getLogger("deskprov").debug("traceback of the error below", exc_info=exc)
    print(f"deskprov: {problem.message}", file=sys.stderr)
    return problem.status


def explain(exc: BaseException, settings: Settings | None = None) -> Problem | None:
    """The operator's view of ``exc``, or None when it is not an operator's problem (a bug)."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, SettingsError):
        return Problem(str(exc), status=CONFIGURATION)
    chain = list(_chain(exc))
    names = {type(e).__name__ for e in chain}
    for found in chain:
        problem = _one(found, names, settings)
        if problem is not None:
            return problem
    return _database_refusal(exc, settings)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, what caused it, and what SQLAlchemy wrapped (``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop(0)
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [getattr(item, "orig", None), item.__cause__, item.__context__]


def _one(exc: BaseException, names: set[str], settings: Settings | None) -> Problem | None:
    from deskprov.db.engine import DatabaseUnwritable
    from deskprov.security.keyring import KeyFileError
    from deskprov.security.tls import TlsError

    url = _database(settings)
    if isinstance(exc, AppError):  # a service refused what the command asked
        return Problem(exc.message, status=CONFIGURATION if isinstance(exc, Invalid) else RUNTIME)
    if isinstance(exc, TlsError):
        return Problem(str(exc), status=CONFIGURATION)
    if isinstance(exc, DatabaseUnwritable):
        if "unable to open database file" in str(exc):  # (a missing or closed folder)
            return _sqlite_problem(str(exc), url)
        return Problem(f"{exc} (DESKPROV_DATABASE_URL)")  # (a read-only mount, a standby)
    if isinstance(exc, KeyFileError):
        where = f"DESKPROV_KEY_FILE={settings.key_file}" if settings else "the key file"
        return Problem(f"{where}: {exc}", status=CONFIGURATION)
    if "UndefinedTableError" in names:
        return Problem(
            f"the database {url} is not at this version's schema: run `deskprov db upgrade`"
        )
    if {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"} & names:
        return Problem(
            f"the database {url} refused the user name or password: check DESKPROV_DATABASE_URL",
            status=CONFIGURATION,
        )
    if "InvalidCatalogNameError" in names:
        return Problem(
            f"the database {url} does not exist: create it, or fix DESKPROV_DATABASE_URL",
            status=CONFIGURATION,
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return _file_problem(exc, settings)
    if type(exc).__name__ in DATABASE_GONE:
        return Problem(f"lost the database {url}: {exc}: is it running? (DESKPROV_DATABASE_URL)")
    if isinstance(exc, socket.gaierror | ConnectionError | TimeoutError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)
    ):
        return Problem(
            f"cannot reach the database {url}: {_reason(exc)}: is it running? "
            "(DESKPROV_DATABASE_URL)"
        )
    if type(exc).__name__ in ("OperationalError", "Error") and "sqlite3" in type(exc).__module__:
        return _sqlite_problem(str(exc), url)
    return None


def _database_refusal(exc: BaseException, settings: Settings | None) -> Problem | None:
    """Any other error the database answered with, in its own words (never the statement or
    its parameters, which SQLAlchemy's message carries)."""
    if "DBAPIError" not in {t.__name__ for t in type(exc).__mro__}:
        return None
    said = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()[0]
    url = _database(settings)
    return Problem(f"the database {url} failed: {said} (--debug shows the traceback)")


def _sqlite_problem(text: str, url: str) -> Problem | None:
    if "unable to open database file" in text:
        return Problem(
            f"cannot open the SQLite database {url}: its folder must exist and be writable by "
            f"uid {os.getuid()} (DESKPROV_DATABASE_URL)",
            status=CONFIGURATION,
        )
    if "file is not a database" in text:
        return Problem(
            f"{url} is not an SQLite database (DESKPROV_DATABASE_URL)", status=CONFIGURATION
        )
    if "no such table" in text:
        return Problem(f"the database {url} has no deskprov schema: run `deskprov db upgrade`")
    if "locked" in text or "readonly" in text or "disk" in text:
        return Problem(f"the SQLite database {url}: {text}")
    return None


def _file_problem(exc: OSError, settings: Settings | None) -> Problem:
    """A file named by a setting (the key file, TLS files) or another file."""
    path = Path(str(exc.filename))
    setting = ""
    if settings is not None:
        named = {
            "DESKPROV_KEY_FILE": settings.key_file,
            "DESKPROV_TLS_CERT": settings.tls_cert,
            "DESKPROV_TLS_KEY": settings.tls_key,
        }
        for name, value in named.items():
            if value is not None and _same_place(path, value):
                setting = f"{name}: "
    what = exc.strerror or str(exc)
    hint = ""
    if isinstance(exc, PermissionError):
        hint = f" (this process runs as uid {os.getuid()}: give it the folder, or run as its owner)"
    elif isinstance(exc, FileNotFoundError | NotADirectoryError):
        hint = " (does the folder exist?)"
    return Problem(f"{setting}{path}: {what}{hint}", status=CONFIGURATION if setting else RUNTIME)


def _same_place(found: Path, setting: Path) -> bool:
    """Whether an error about ``found`` is about the file a setting names (or its temporary
    copy, or its folder)."""
    candidates = {setting, setting.with_name(setting.name + ".tmp"), setting.parent}
    return any(os.path.abspath(found) == os.path.abspath(c) for c in candidates)


def _database(settings: Settings | None) -> str:
    if settings is None:
        return "(DESKPROV_DATABASE_URL)"
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
