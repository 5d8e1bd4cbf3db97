"""Database URLs without their passwords, for every message, repr and dictionary.

A lab's usage URL (``postgresql://alice:s3cret@db/lab``) carries a password. It is kept only
where the connection needs it; what is shown is :func:`redact_url` (``postgresql://alice:***@db/lab``)
and any text that might quote it (a driver's error message) goes through :func:`redact_text`.
"""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
# key=value connection strings (libpq's other syntax) and URL query parameters
_PASSWORD_PARAMETER = re.compile(r"(?i)\b(password|passwd|pwd)(\s*=\s*)('[^']*'|[^\s&;]+)")
# user:password@ in any URL inside a text
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*):([^@\s]*)@")


def url_password(url: str) -> str | None:
    """The password in ``url`` (URL-decoded), or None."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return None
    query = urllib.parse.parse_qs(parts.query)
    if password is None and query.get("password"):
        return query["password"][0]
    return None if password is None else urllib.parse.unquote(password)


def redact_url(url: str) -> str:
    """``url`` with its password (in the authority or as ``?password=``) replaced by ``***``."""
    return redact_text(url)


def redact_text(text: str, *secrets: str | None) -> str:
    """``text`` with URL passwords, ``password=...`` parameters and each of ``secrets``
    (raw and URL-encoded) replaced by ``***``."""
    out = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{MASK}@", text)
    out = _PASSWORD_PARAMETER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    for secret in secrets:
        if secret:
            for form in {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret)}:
                out = out.replace(form, MASK)
    return out
