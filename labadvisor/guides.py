"""The guides' facts as data: load the packaged TOML once and apply the user's overrides.

Three data sets ship in ``labadvisor/data``: one per guide plus public model-memory facts.
Users change any value without editing the package, either in a TOML file
(``$LABADVISOR_CONFIG``, else ``$XDG_CONFIG_HOME/labadvisor/config.toml``, else
``~/.config/labadvisor/config.toml``) or in-process with :func:`configure`. Both take the
same shape: a table per data set, e.g.::

    [offload-vs-local.costs.defaults]
    offload_rate = 1.20

    [[offload-vs-local.size_tiers]]
    id = "size.medium"       # entries of a list are matched by their id
    up_to_gb = 10
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DATA_DIR = Path(__file__).parent / "data"
DATA_FILES: dict[str, str] = {
    "offload-vs-local": "offload_vs_local.toml",
    "compose-vs-k3s": "compose_vs_k3s.toml",
    "models": "models.toml",
}
# Lists whose entries users may add to, not only change.
_EXTENSIBLE_LISTS = frozenset({"presets"})

_packaged: dict[str, dict[str, Any]] = {}
_merged: dict[str, dict[str, Any]] = {}
_session_overrides: dict[str, Any] = {}


def override_file() -> Path:
    """Where user overrides are read from (the file need not exist)."""
    explicit = os.environ.get("LABADVISOR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "labadvisor" / "config.toml"


def load(name: str) -> dict[str, Any]:
    """The data set ``name`` with every override applied. Callers must not mutate it."""
    if name not in DATA_FILES:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATA_FILES)}")
    if name not in _merged:
        data = copy.deepcopy(_packaged_data(name))
        for layer in (_file_overrides(), _session_overrides):
            if name in layer:
                data = merge(data, layer[name], path=name)
        _merged[name] = data
    return _merged[name]


def offload_data() -> dict[str, Any]:
    return load("offload-vs-local")


def deployment_data() -> dict[str, Any]:
    return load("compose-vs-k3s")


def models_data() -> dict[str, Any]:
    return load("models")


def configure(
    overrides: Mapping[str, Any] | str | os.PathLike[str] | None = None, *, reset: bool = False
) -> None:
    """Override guide values for this process.

    ``overrides`` is a mapping shaped like the override file, or a path to such a TOML file.
    ``reset=True`` drops earlier in-process overrides first. Everything is validated before
    anything changes: a bad key or value raises ValueError and leaves the old values in force.
    """
    global _session_overrides
    if isinstance(overrides, (str, os.PathLike)):
        overrides = _read_toml(Path(overrides))
    new_layer: dict[str, Any] = {} if reset else copy.deepcopy(_session_overrides)
    if overrides:
        unknown = set(overrides) - set(DATA_FILES)
        if unknown:
            raise ValueError(
                f"unknown data set(s) {', '.join(sorted(unknown))}; valid: {', '.join(DATA_FILES)}"
            )
        for name, values in overrides.items():
            # Validate against the packaged data, then stack onto earlier overrides.
            merge(copy.deepcopy(_packaged_data(name)), values, path=name)
            new_layer[name] = _stack(new_layer.get(name, {}), values)
        for name in overrides:
            merge(copy.deepcopy(_packaged_data(name)), new_layer[name], path=name)
    _session_overrides = new_layer
    _merged.clear()


def merge(base: Any, override: Any, *, path: str) -> Any:
    """Apply ``override`` onto ``base`` (mutated and returned), checking keys and types."""
    if isinstance(base, dict):
        if not isinstance(override, Mapping):
            raise ValueError(f"{path} must be a table, got {override!r}")
        for key, value in override.items():
            if key not in base:
                raise ValueError(
                    f"unknown setting {path}.{key}; valid keys: {', '.join(sorted(base))}"
                )
            base[key] = merge(base[key], value, path=f"{path}.{key}")
        return base
    if isinstance(base, list) and base and all(isinstance(e, dict) and "id" in e for e in base):
        if not isinstance(override, list):
            raise ValueError(f"{path} must be a list of tables with an 'id', got {override!r}")
        by_id = {entry["id"]: entry for entry in base}
        for entry in override:
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise ValueError(f"each entry of {path} needs an 'id', got {entry!r}")
            if entry["id"] in by_id:
                merge(by_id[entry["id"]], entry, path=f"{path}[{entry['id']}]")
            elif path.rsplit(".", 1)[-1] in _EXTENSIBLE_LISTS:
                base.append(dict(entry))
            else:
                raise ValueError(
                    f"unknown id {entry['id']!r} in {path}; valid ids: {', '.join(by_id)}"
                )
        return base
    return _checked_scalar(base, override, path)


def _checked_scalar(base: Any, value: Any, path: str) -> Any:
    numeric = (int, float)
    if isinstance(base, bool) or isinstance(value, bool):
        ok = isinstance(base, bool) and isinstance(value, bool)
    elif isinstance(base, numeric):
        ok = isinstance(value, numeric)
    else:
        ok = isinstance(value, type(base))
    if not ok:
        raise ValueError(
            f"{path} must be of type {type(base).__name__} like {base!r}, got {value!r}"
        )
    if isinstance(value, float) and value != value:  # NaN never makes sense as a guide value
        raise ValueError(f"{path} must be a number, got NaN")
    return copy.deepcopy(value)


def _stack(earlier: Any, later: Any) -> Any:
    """Combine two override layers so that ``later`` wins key by key."""
    if isinstance(earlier, Mapping) and isinstance(later, Mapping):
        out = dict(earlier)
        for key, value in later.items():
            out[key] = _stack(earlier.get(key), value) if key in earlier else value
        return out
    if isinstance(earlier, list) and isinstance(later, list):
        out_list = [dict(e) if isinstance(e, Mapping) else e for e in earlier]
        positions = {e.get("id"): i for i, e in enumerate(out_list) if isinstance(e, dict)}
        for entry in later:
            key = entry.get("id") if isinstance(entry, Mapping) else None
            if key in positions:
                out_list[positions[key]] = _stack(out_list[positions[key]], entry)
            else:
                out_list.append(entry)
        return out_list
    return later


def _packaged_data(name: str) -> dict[str, Any]:
    if name not in _packaged:
        _packaged[name] = _read_toml(DATA_DIR / DATA_FILES[name])
    return _packaged[name]


def _file_overrides() -> dict[str, Any]:
    path = override_file()
    if not path.is_file():
        return {}
    data = _read_toml(path)
    unknown = set(data) - set(DATA_FILES)
    if unknown:
        raise ValueError(
            f"{path}: unknown data set(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(DATA_FILES)}"
        )
    for name, values in data.items():
        try:
            merge(copy.deepcopy(_packaged_data(name)), values, path=name)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"override file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None


def source(data: Mapping[str, Any], section: str) -> str:
    """'offload-vs-local.md › Cost Analysis' for a guide's data set and one of its sections."""
    return f"{data['guide']['file']} › {section}"
