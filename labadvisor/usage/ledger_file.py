"""Whether the local usage ledger file exists yet: every read that must not create it asks
here first. Opening a :class:`~labadvisor.usage.store.SqliteLedger` connection creates the
file (and its directory), so a look at usage before the server's sampler has run would
otherwise leave an empty ledger behind."""

from __future__ import annotations

import os
from pathlib import Path

# How the ledger fills, for messages shown while there is nothing in it.
HOW_IT_FILLS = (
    "the labadvisor Jupyter server extension creates it on its first sample and samples "
    "once a minute while the server runs"
)


def ledger_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path``, or the default ledger (:func:`~labadvisor.usage.store.default_path`)."""
    if path is None:
        from labadvisor.usage.store import default_path  # store imports this module

        return default_path()
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"path must be the usage ledger's file path, got {path!r}")
    return Path(path)


def existing_ledger(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The ledger file at ``path`` (default: the default ledger) if there is one, else None;
    never creates anything. Anything at the path counts: a directory there is a ledger that
    cannot be read (and the read says so), not a missing one."""
    target = ledger_path(path)
    return target if target.exists() else None


def no_ledger_message(path: str | os.PathLike[str]) -> str:
    """Why there are no measured hours where the ledger file does not exist yet."""
    return (
        f"no measured usage yet: the usage ledger at {os.fspath(path)} has not recorded "
        f"anything, the file does not exist yet ({HOW_IT_FILLS}); pass hours_per_day as a "
        "number instead"
    )
