"""Write ``currentContext`` into config.json as ``docker context use`` does: atomically, under a
lock, keeping every other key and the file's mode and owner.

The CLI re-encodes the whole file from a Go struct, so its output has a fixed key order, sorted
map keys and tab indentation. We lay the file out the same way, which makes our result
byte-identical to the CLI's for every key the CLI knows. Unlike the CLI we keep keys it does not
know (it silently drops them) and we refuse to overwrite a file we cannot parse (it silently
replaces it with an empty configuration).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labadvisor.contexts import gojson
from labadvisor.contexts.errors import StoreError
from labadvisor.contexts.store import parse_config

# JSON names of the CLI's ConfigFile fields, in struct order (docker CLI 28).
FIELD_ORDER = (
    "auths",
    "HttpHeaders",
    "psFormat",
    "imagesFormat",
    "networksFormat",
    "pluginsFormat",
    "volumesFormat",
    "statsFormat",
    "detachKeys",
    "credsStore",
    "credHelpers",
    "serviceInspectFormat",
    "servicesFormat",
    "tasksFormat",
    "secretFormat",
    "configFormat",
    "nodesFormat",
    "pruneFilters",
    "proxies",
    "currentContext",
    "cliPluginsExtraDirs",
    "plugins",
    "aliases",
    "features",
    "experimental",
)
# Go maps are encoded with sorted keys.
_SORTED_MAPS = ("auths", "HttpHeaders", "credHelpers", "proxies", "plugins", "aliases", "features")
_AUTH_FIELDS = (
    "username",
    "password",
    "auth",
    "email",
    "serveraddress",
    "identitytoken",
    "registrytoken",
)
_PROXY_FIELDS = ("httpProxy", "httpsProxy", "noProxy", "ftpProxy", "allProxy")
# A fresh config.json gets the mode os.CreateTemp gives the CLI's temporary file.
_NEW_FILE_MODE = 0o600


def set_current_context(name: str | None, directory: Path) -> bool:
    """Select ``name`` (None: the built-in default) in ``directory/config.json``.

    Returns False when config.json already selected it: like the CLI, we then leave the file
    alone (and do not create one just to store "default").
    """
    path = directory / "config.json"
    # Like the CLI, write through a symlink (dotfile managers link config.json elsewhere).
    target = Path(os.path.realpath(path))
    if name is None and not target.exists():
        return False  # "default" is the absence of the key: nothing to record
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {exc.strerror or exc}") from exc
    with _locked(target):
        try:
            raw: bytes | None = target.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        data = parse_config(raw, path) if raw is not None else {}
        if (data.get("currentContext") or None) == name:
            return False
        if name is None:
            data.pop("currentContext", None)
        else:
            data["currentContext"] = name
        _replace(target, gojson.dumps(cli_layout(data)).encode("utf-8"))
    return True


def cli_layout(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` reordered the way the CLI would encode it; unknown keys follow, in their order."""
    laid_out: dict[str, Any] = {"auths": {}}  # the CLI always writes auths, even when empty
    for key in FIELD_ORDER:
        if key in data:
            laid_out[key] = _layout_value(key, data[key])
    for key, value in data.items():
        if key not in laid_out:
            laid_out[key] = value
    return laid_out


def _layout_value(key: str, value: Any) -> Any:
    if key not in _SORTED_MAPS or not isinstance(value, dict):
        return value
    laid_out = dict(sorted(value.items()))
    if key == "auths":
        laid_out = {k: _ordered(v, _AUTH_FIELDS) for k, v in laid_out.items()}
    elif key == "proxies":
        laid_out = {k: _ordered(v, _PROXY_FIELDS) for k, v in laid_out.items()}
    elif key == "plugins":
        laid_out = {
            k: dict(sorted(v.items())) if isinstance(v, dict) else v for k, v in laid_out.items()
        }
    return laid_out


def _ordered(value: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return value
    known = {k: value[k] for k in fields if k in value}
    return {**known, **{k: v for k, v in value.items() if k not in known}}


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    # A lock file beside config.json: the file itself is replaced by rename, so locking it
    # would lock an inode that the next writer no longer opens.
    lock_path = target.with_name(target.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {lock_path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _replace(target: Path, content: bytes) -> None:
    try:
        existing = os.stat(target)
    except FileNotFoundError:
        existing = None
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".", suffix=".tmp")
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
                os.fchmod(temp.fileno(), _NEW_FILE_MODE)
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _sync_directory(target.parent)


def _sync_directory(directory: Path) -> None:
    # Make the rename itself durable; not every filesystem allows fsync on a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
