"""The docker CLI's context store and config.json, read directly (no subprocess, no docker-py),
and ``currentContext`` written the way ``docker context use`` writes it.

Layout, as the CLI writes it under ``$DOCKER_CONFIG`` (default ``~/.docker``)::

    config.json                                  {"currentContext": "NAME", ...}
    contexts/meta/<sha256 of NAME>/meta.json     {"Name", "Metadata", "Endpoints": {"docker": ...}}
    contexts/tls/<sha256 of NAME>/docker/        ca.pem, cert.pem, key.pem
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labadvisor import files
from labadvisor.contexts.errors import InvalidContextNameError, StoreError, quoted

DEFAULT_CONTEXT = "default"
DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_DESCRIPTION = "Current DOCKER_HOST based configuration"
# The pattern the docker CLI validates context names against.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.+-]+$")
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
# A fresh config.json gets the mode os.CreateTemp gives the CLI's temporary file.
_NEW_CONFIG_MODE = 0o600


@dataclass(frozen=True)
class StoredContext:
    """One context with what is needed to reach its engine."""

    name: str
    host: str | None
    description: str = ""
    skip_tls_verify: bool = False
    # Paths of ca.pem / cert.pem / key.pem that exist for the docker endpoint.
    tls_files: Mapping[str, str] = field(default_factory=dict)
    # Set for the built-in default context when DOCKER_TLS_VERIFY / DOCKER_TLS ask for TLS.
    tls_requested: bool = False
    meta_path: str | None = None

    @property
    def tls(self) -> bool:
        return self.tls_requested or bool(self.tls_files)


@dataclass(frozen=True)
class ConfigFile:
    """config.json as parsed; ``exists`` is False when there is no file yet."""

    path: Path
    data: dict[str, Any]
    exists: bool

    @property
    def current_context(self) -> str | None:
        # The CLI stores "default" by omitting the key; an empty value means the same.
        return self.data.get("currentContext") or None


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    value = env.get("DOCKER_CONFIG")
    if value:
        return Path(value)
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".docker"


def context_id(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def check_name(name: object) -> str:
    """Return ``name`` if it is a valid context name (or "default"), else raise naming the rule."""
    if not isinstance(name, str):
        raise InvalidContextNameError(
            f"a context name must be a string, got {quoted(name)} ({type(name).__name__})"
        )
    if name == DEFAULT_CONTEXT:
        return name
    if not name:
        raise InvalidContextNameError("the context name is empty")
    if not NAME_PATTERN.match(name):
        raise InvalidContextNameError(
            f"{quoted(name)} is not a valid context name: names must match {NAME_PATTERN.pattern}"
        )
    return name


def read_meta(name: str, directory: Path) -> StoredContext | None:
    """The stored context called ``name``, or None if there is none. ``name`` must be valid."""
    meta_path = directory / "contexts" / "meta" / context_id(name) / "meta.json"
    try:
        raw = meta_path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _unreadable(meta_path, exc) from exc
    stored = _parse_meta(raw, meta_path, directory)
    if stored.name != name:
        raise StoreError(
            f"context store entry {meta_path} says its name is {quoted(stored.name)}, but it "
            f"sits in the directory of {quoted(name)}; remove or repair that directory"
        )
    return stored


def read_all(directory: Path) -> list[StoredContext]:
    """Every stored context (not the built-in default), sorted by name."""
    meta_root = directory / "contexts" / "meta"
    try:
        entries = sorted(os.scandir(meta_root), key=lambda entry: entry.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise _unreadable(meta_root, exc) from exc
    found: list[StoredContext] = []
    for entry in entries:
        # The CLI skips stray files and directories without meta.json; so do we.
        if not entry.is_dir():
            continue
        meta_path = Path(entry.path) / "meta.json"
        try:
            raw = meta_path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise _unreadable(meta_path, exc) from exc
        stored = _parse_meta(raw, meta_path, directory)
        if context_id(stored.name) != entry.name:
            raise StoreError(
                f"context store entry {meta_path} says its name is {quoted(stored.name)}, but its "
                f"directory is not the sha256 of that name, so the docker CLI cannot select it; "
                f"remove or repair that directory"
            )
        found.append(stored)
    return sorted(found, key=lambda stored: stored.name)


def default_context(environ: Mapping[str, str], directory: Path) -> StoredContext:
    """The built-in context: DOCKER_HOST (with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) or the socket."""
    host = environ.get("DOCKER_HOST") or DEFAULT_HOST
    verify = bool(environ.get("DOCKER_TLS_VERIFY"))
    tls_requested = verify or bool(environ.get("DOCKER_TLS"))
    tls_files: dict[str, str] = {}
    if tls_requested:
        cert_dir = Path(environ.get("DOCKER_CERT_PATH") or directory)
        tls_files = {
            name: str(cert_dir / name) for name in TLS_FILES if (cert_dir / name).is_file()
        }
    return StoredContext(
        name=DEFAULT_CONTEXT,
        host=host,
        description=DEFAULT_DESCRIPTION,
        skip_tls_verify=tls_requested and not verify,
        tls_files=tls_files,
        tls_requested=tls_requested,
    )


def read_config(directory: Path) -> ConfigFile:
    """Parse config.json strictly: a file the CLI would half-ignore is an error here."""
    path = directory / "config.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile(path=path, data={}, exists=False)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {_reason(exc)}") from exc
    return ConfigFile(path=path, data=parse_config(raw, path), exists=True)


def parse_config(raw: bytes, path: Path) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"{path} is not UTF-8 text ({exc}); fix or remove it") from exc
    if not text.strip():
        # The CLI treats an empty config.json as an empty configuration.
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            f"fix or remove it (the docker CLI would silently replace it, losing its settings)"
        ) from exc
    if not isinstance(data, dict):
        raise StoreError(f"{path} must hold a JSON object, found {type(data).__name__}")
    current = data.get("currentContext")
    if current is not None and not isinstance(current, str):
        raise StoreError(f"{path}: currentContext must be a string, found {quoted(current)}")
    return data


def _parse_meta(raw: bytes, meta_path: Path, directory: Path) -> StoredContext:
    try:
        meta = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(
            f"context store entry {meta_path} is not valid JSON ({exc}); remove or repair it"
        ) from exc
    name = meta.get("Name") if isinstance(meta, dict) else None
    if not isinstance(name, str):
        raise StoreError(f"context store entry {meta_path} has no Name; remove or repair it")
    if name == DEFAULT_CONTEXT:
        raise StoreError(
            f"context store entry {meta_path} is named 'default', which is reserved for "
            f"Docker's built-in context; remove that directory"
        )
    if not NAME_PATTERN.match(name):
        raise StoreError(
            f"context store entry {meta_path} has the invalid name {quoted(name)} "
            f"(names must match {NAME_PATTERN.pattern}); remove or repair it"
        )
    metadata = _object(meta.get("Metadata"))
    docker = _object(_object(meta.get("Endpoints")).get("docker"))
    host = docker.get("Host")
    description = metadata.get("Description")
    tls_dir = directory / "contexts" / "tls" / context_id(name) / "docker"
    return StoredContext(
        name=name,
        host=host if isinstance(host, str) and host else None,
        description=description if isinstance(description, str) else "",
        skip_tls_verify=docker.get("SkipTLSVerify") is True,
        tls_files=_tls_files(tls_dir),
        meta_path=str(meta_path),
    )


def _object(value: object) -> dict[str, Any]:
    """A JSON object from meta.json, or an empty one where something else stands."""
    return value if isinstance(value, dict) else {}


def _tls_files(tls_dir: Path) -> dict[str, str]:
    try:
        present = set(os.listdir(tls_dir))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise _unreadable(tls_dir, exc) from exc
    return {name: str(tls_dir / name) for name in TLS_FILES if name in present}


def _unreadable(path: Path, exc: OSError) -> StoreError:
    return StoreError(f"cannot read the Docker context store at {path}: {_reason(exc)}")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


# --- writing config.json ------------------------------------------------------------------------


def set_current_context(name: str | None, directory: Path) -> bool:
    """Select ``name`` (None: the built-in default) in ``directory/config.json``, atomically and
    under the lock, keeping the file's mode, owner and every other key in its order.

    Unlike the CLI we keep keys it does not know (it drops them) and refuse to overwrite a file
    we cannot parse (it replaces it with an empty configuration). Returns False when config.json
    already selected ``name``: like the CLI, we then leave the file alone (and do not create one
    just to store "default").
    """
    path = directory / "config.json"
    # Like the CLI, write through a symlink (dotfile managers link config.json elsewhere).
    target = Path(os.path.realpath(path))
    if name is None and not target.exists():
        return False  # "default" is the absence of the key: nothing to record
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create {target.parent}: {_reason(exc)}") from exc
    with _locked(target):
        try:
            raw: bytes | None = target.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {_reason(exc)}") from exc
        data = parse_config(raw, path) if raw is not None else {}
        if (data.get("currentContext") or None) == name:
            return False
        if name is None:
            data.pop("currentContext", None)
        else:
            data["currentContext"] = name
        if "auths" not in data:
            data = {"auths": {}, **data}  # the CLI always writes auths, even when empty
        # Tab-indented raw UTF-8 without a final newline, as the CLI lays the file out.
        text = json.dumps(data, indent="\t", ensure_ascii=False)
        _replace(target, text.encode("utf-8"))
    return True


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    # labadvisor.files holds the one lock and write every file of labadvisor goes through:
    # config.json.lock beside config.json, a private mode for a new lock or config file.
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(files.locked(target, new_mode=_NEW_CONFIG_MODE))
        except (ValueError, OSError) as exc:
            raise StoreError(str(exc)) from exc
        yield


def _replace(target: Path, content: bytes) -> None:
    try:
        files.write(target, content, new_mode=_NEW_CONFIG_MODE)
    except (ValueError, OSError) as exc:
        raise StoreError(str(exc)) from exc
