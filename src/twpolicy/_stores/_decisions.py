"""The decision log on disk: one JSON Lines file a reviewer can open, filter and replay.

`DecisionFile` is a guard sink (``Guard(sinks=[DecisionFile(path)])``, or
``decision_log = "path"`` in the TOML configuration). Each decision is one line written
with one ``write`` to a file opened with ``O_APPEND``, so threads and processes sharing
the file never interleave records. The record is `twpolicy.Decision.to_record`: IDs, hashes,
counts, codes and the policy version, never the payload.

Rotation is by size: when the file would grow past ``rotate_bytes``, it is renamed to
``path.1`` (``path.1`` to ``path.2``, ..., dropping the oldest beyond ``backups``) under an
advisory lock on ``path.lock``, and writers that still hold the old file notice (its inode
is no longer the one at ``path``) and reopen.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twpolicy._model import Decision
from twpolicy.exceptions import ConfigurationError

try:
    import fcntl
except ImportError:  # pragma: no cover  # not on Windows: rotation is locked per process only
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["DecisionFile"]

#: The default size at which the log is rotated (64 MiB).
ROTATE_BYTES = 64 * 2**20
#: The default number of rotated files kept (``path.1`` ... ``path.5``).
BACKUPS = 5


class DecisionFile:
    """A guard sink that appends every decision to a JSON Lines file, rotating it by size.

    Args:
        path: the log file; created (with its folder) if missing.
        rotate_bytes: rotate before a record would make the file larger than this; ``0``
            never rotates.
        backups: how many rotated files to keep (``path.1`` is the newest); ``0`` keeps none.
        fsync: flush every record to the disk before the decision is acted on: slower,
            but a crash loses no decision.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rotate_bytes: int = ROTATE_BYTES,
        backups: int = BACKUPS,
        fsync: bool = False,
    ) -> None:
        if rotate_bytes < 0 or backups < 0:
            raise ConfigurationError(
                f"DecisionFile({os.fspath(path)!r}): rotate_bytes and backups must be 0 or more"
            )
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.backups = backups
        self.fsync = fsync
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._inode: tuple[int, int] | None = None
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"twpolicy.DecisionFile({str(self.path)!r})"

    def __call__(self, decision: Decision) -> None:
        """Append ``decision`` (the guard calls this for every decision)."""
        self.write(decision.to_record())

    def write(self, record: Mapping[str, Any]) -> None:
        """Append one record as one line, rotating first if it would overflow the file."""
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._lock:
            fd = self._current()
            if self.rotate_bytes and os.fstat(fd).st_size + len(line) > self.rotate_bytes:
                fd = self._rotate(len(line))
            view = memoryview(line)
            while view:  # one write on a local file; the loop only guards a short write
                view = view[os.write(fd, view) :]
            if self.fsync:
                os.fsync(fd)

    def close(self) -> None:
        """Close the file; a later write opens it again."""
        with self._lock:
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = self._inode = None

    def _open(self) -> int:
        self._close()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        info = os.fstat(fd)
        self._fd, self._inode = fd, (info.st_dev, info.st_ino)
        return fd

    def _current(self) -> int:
        """The open file, reopened when another writer rotated it away (or it was removed)."""
        if self._fd is None:
            return self._open()
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return self._open()
        if (info.st_dev, info.st_ino) != self._inode:
            return self._open()
        return self._fd

    def _rotate(self, incoming: int) -> int:
        with self._locked():
            fd = self._current()  # another process may have rotated while we waited
            size = os.fstat(fd).st_size
            if size == 0 or size + incoming <= self.rotate_bytes:
                return fd
            if self.backups == 0:
                self.path.unlink(missing_ok=True)
            else:
                for n in range(self.backups - 1, 0, -1):
                    older = self._backup(n)
                    if older.exists():
                        older.replace(self._backup(n + 1))
                self.path.replace(self._backup(1))
            return self._open()

    def _backup(self, n: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the advisory lock that serialises rotation across processes."""
        if fcntl is None:  # pragma: no cover  # Windows
            yield  # type: ignore[unreachable]
            return
        lock = os.open(
            self.path.with_name(self.path.name + ".lock"),
            os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
            0o600,
        )
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)
