"""Run a piece of a test as a user that file permissions apply to.

Root ignores permission bits, so a "read-only directory" or an "unreadable file" is neither
for it. :func:`run_unprivileged` forks, drops to ``nobody`` in the child when running as
root, runs the given function with the modules the test already imported, and reports what
it returned or raised. The paths it touches must be reachable by ``nobody``: make them with
:func:`shared_dir`, not ``tmp_path`` (pytest's base directory is private to root).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

NOBODY = 65534


@contextmanager
def shared_dir() -> Iterator[Path]:
    """A fresh directory under /tmp that the unprivileged child can reach, owned by it."""
    path = Path(tempfile.mkdtemp(prefix="la-files-", dir="/tmp"))
    try:
        path.chmod(0o755)
        give_away(path)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def give_away(path: Path) -> None:
    """Make ``path`` belong to the user the child runs as (nothing to do when not root)."""
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def run_unprivileged(action: Callable[[], object]) -> str:
    """``repr`` of what ``action`` returned in the child, or ``"raised Type: message"``; a
    traceback from the child is returned whole, so a test shows what went wrong."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        os.close(read_end)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            try:
                answer = repr(action())
            except (ValueError, OSError) as exc:
                answer = f"raised {type(exc).__name__}: {exc}"
        except BaseException:
            answer = "crashed:\n" + traceback.format_exc()
        try:
            os.write(write_end, answer.encode("utf-8", "replace"))
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while chunk := pipe.read(65536):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8")
