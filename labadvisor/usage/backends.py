"""Which ledger a URL names: the local SQLite file (the default) or the lab's PostgreSQL.

``c.LabAdvisor.usage_url`` (or ``$LABADVISOR_USAGE_URL``) picks it:

- unset or empty: the SQLite ledger at :func:`~labadvisor.usage.store.default_path`;
- ``postgresql://user:password@host/db`` (or ``postgres://``): the lab's database, with the
  local SQLite spool for outages (:class:`~labadvisor.usage.postgres.PostgresLedger`);
- ``sqlite:///absolute/path.sqlite3``, ``sqlite:relative/path`` or a plain file path: that
  SQLite file.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from pathlib import Path

from labadvisor.usage.redaction import redact_url
from labadvisor.usage.store import LedgerBackend, SqliteLedger

URL_ENV = "LABADVISOR_USAGE_URL"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
VALID_FORMS = "postgresql://user:password@host:port/database, sqlite:///path or a file path"


def usage_url(url: str | os.PathLike[str] | None = None) -> str | None:
    """``url`` if given, else ``$LABADVISOR_USAGE_URL``; None (the default ledger) if empty."""
    if url is None:
        url = os.environ.get(URL_ENV, "")
    text = os.fspath(url)
    if not isinstance(text, str):
        raise ValueError(f"usage URL must be text, got {url!r}")
    return text.strip() or None


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:`` URL or a plain path names; ValueError for other schemes."""
    if url.startswith("sqlite:"):
        parsed = urllib.parse.urlsplit(url)
        path = urllib.parse.unquote(parsed.path)
        if parsed.netloc not in ("", "localhost") or not path:
            raise ValueError(f"a sqlite URL names a local file, got {redact_url(url)}")
        return Path(path)
    if _SCHEME.match(url) and not re.match(r"^[A-Za-z]:[\\/]", url):  # not a Windows drive
        raise ValueError(f"unknown usage URL {redact_url(url)}: use one of {VALID_FORMS}")
    return Path(url).expanduser()


def open_ledger(
    url: str | os.PathLike[str] | None = None,
    *,
    spool: str | os.PathLike[str] | None = None,
) -> LedgerBackend:
    """The ledger ``url`` (or ``$LABADVISOR_USAGE_URL``) names; see the module docstring.

    Opening connects to nothing: a PostgreSQL ledger connects on its first write or read.
    """
    chosen = usage_url(url)
    if chosen is None:
        return SqliteLedger()
    if is_postgres(chosen):
        from labadvisor.usage.postgres import PostgresLedger

        return PostgresLedger(chosen, spool=spool)
    return SqliteLedger(sqlite_path(chosen))
