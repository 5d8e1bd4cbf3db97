"""The one way labadvisor writes a file, and the lock that read-modify-write sequences hold.

:func:`write` never leaves a half-written file and never writes through a name an attacker
could plant: the new content goes to a temporary file that ``tempfile.mkstemp`` creates
exclusively (``O_CREAT | O_EXCL``, a random name) in the target's own directory; it is
flushed and fsynced, then ``os.replace`` swaps it in and the directory is fsynced where the
filesystem allows, so readers only ever see the old file or the new one.

A target that is a symlink is written through, as the docker CLI does for ``config.json``:
the link is resolved and the file it points to is replaced, so dotfile managers that link
files elsewhere keep working (the link itself stays). A dangling link's target is created.

:func:`locked` serialises writers across processes with ``fcntl.flock`` on a lock file
beside the (resolved) target — the target itself is replaced by rename, so locking it would
lock an inode the next writer no longer opens. Read, change and :func:`write` inside it and
no update is ever lost, however many processes write at once. The lock file is left in place.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

StrPath = str | os.PathLike[str]


class FileWriteError(OSError):
    """A file (or its lock file) could not be written; the message names the path and the
    reason, ``errno`` is the cause's. The file that was there before is left as it was."""

    def __init__(self, message: str, cause: OSError | None = None) -> None:
        super().__init__(message)
        if cause is not None:
            self.errno = cause.errno


def target_of(path: StrPath) -> Path:
    """The file that writing ``path`` replaces: ``path`` with every symlink resolved.

    Raises ValueError naming the directory when it does not exist (or is not a directory),
    so callers can check a path when they are given it rather than at the first write.
    """
    target = Path(os.path.realpath(path))
    parent = target.parent
    if not parent.is_dir():
        reason = "is not a directory" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write {os.fspath(path)}: the directory {parent} {reason}")
    return target


def write(path: StrPath, content: bytes, *, new_mode: int | None = None) -> None:
    """Replace the file at ``path`` (symlinks resolved) with ``content``, atomically.

    An existing file keeps its mode, and its owner where the process may set it. A new file
    gets ``new_mode``, or by default the mode ``open()`` would give it (0o666 less the umask).
    Raises ValueError when the directory is missing, FileWriteError when writing fails.
    """
    target = target_of(path)
    try:
        existing: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _write_error(target, exc) from exc
    try:
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
    except OSError as exc:
        raise _write_error(target, exc) from exc
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(content)
            temp.flush()
            if existing is not None:
                os.fchmod(temp.fileno(), existing.st_mode & 0o7777)
                if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(PermissionError):
                        os.fchown(temp.fileno(), existing.st_uid, existing.st_gid)
            else:
                os.fchmod(temp.fileno(), _default_mode() if new_mode is None else new_mode)
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise _write_error(target, exc) from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _sync_directory(target.parent)


@contextlib.contextmanager
def locked(path: StrPath, *, new_mode: int | None = None) -> Iterator[Path]:
    """Hold the exclusive inter-process lock of ``path``; yields the resolved target.

    The lock file is ``<target>.lock``; a new one gets ``new_mode`` (default as for
    :func:`write`). Where it cannot be opened for writing (a read-only directory or
    filesystem, another user's lock file) an existing one is locked read-only, which flock
    allows, so the error that follows names what really failed: the write.
    Raises ValueError when the directory is missing, FileWriteError when no lock can be had.
    """
    target = target_of(path)
    lock_path = target.with_name(target.name + ".lock")
    # O_NOFOLLOW: a symlink planted at the lock's name is refused, not followed.
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    mode = _default_mode() if new_mode is None else new_mode
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | flags, mode)
    except OSError as exc:
        try:
            fd = os.open(lock_path, os.O_RDONLY | flags)
        except OSError:
            raise FileWriteError(
                f"cannot open the lock file {lock_path}: {reason(exc)}", exc
            ) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield target
    finally:
        os.close(fd)  # closing releases the lock


def reason(exc: OSError) -> str:
    """The human part of an OSError ("Permission denied"), without errno or path."""
    return exc.strerror or str(exc)


def _write_error(target: Path, exc: OSError) -> FileWriteError:
    return FileWriteError(f"cannot write {target}: {reason(exc)}", exc)


def _default_mode() -> int:
    return 0o666 & ~_umask()


def _umask() -> int:
    # Linux reports it without changing it; os.umask() would, racing other threads' creates.
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def _sync_directory(directory: Path) -> None:
    # Make the rename itself durable; not every filesystem allows fsync on a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
