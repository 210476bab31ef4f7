"""One run at a time, one scheduler at a time, one sender and one summariser at a time.

An advisory `flock` on a file beside the database: the kernel releases it
when the holding process dies, however it dies, so a crashed run can never
hold the lock forever. The file records who holds it, for the message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.errors import LockedError, StoreError
from digest.store import utcnow

_WHAT = {
    "run": "a digest run is already under way",
    "serve": "`digest serve` is already running for this database",
    "send": "another command is sending email from this database",
    "summarise": "another command is summarising papers in this database",
}
_POLL_S = 0.1


def lock_path(db_path: str | Path, name: str) -> Path:
    path = Path(db_path)
    return path.with_name(f"{path.name}.{name}.lock")


@contextmanager
def hold(
    db_path: str | Path,
    name: str,
    *,
    wait: float = 0.0,
    should_stop: Callable[[], bool] | None = None,
    waiting: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the `name` lock ("run", "serve", "send", "summarise") for the database.

    With `wait`, a held lock is waited for up to that many seconds (telling
    `waiting` who holds it, once); then, or at once without `wait`, LockedError.
    A stop request (`should_stop`) ends the wait with Interrupted-style LockedError.
    """
    path = lock_path(db_path, name)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(
            f"cannot create the lock file {path} ({exc.strerror}): check the --db path"
        ) from exc
    try:
        _acquire(fd, name, wait, should_stop, waiting)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {utcnow()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(
    fd: int,
    name: str,
    wait: float,
    should_stop: Callable[[], bool] | None,
    waiting: Callable[[str], None] | None,
) -> None:
    deadline = time.monotonic() + wait
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _read_holder(fd)
            stopping = should_stop is not None and should_stop()
            if time.monotonic() >= deadline or stopping:
                raise LockedError(
                    f"{_WHAT.get(name, name)} ({holder}): wait for it to finish, or stop it"
                ) from None
            if waiting is not None and not told:
                waiting(f"{_WHAT.get(name, name)} ({holder}): waiting for it to finish")
                told = True
            time.sleep(_POLL_S)


def holder(db_path: str | Path, name: str) -> str | None:
    """Who holds the `name` lock now ("pid 123, since ..."), or None if nobody does.

    Asked with a shared, non-blocking lock that is dropped at once, so asking
    never gets in the holder's way.
    """
    path = lock_path(db_path, name)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "another process"
