"""The guides' facts as data: load the packaged TOML, apply the user's overrides, check it all.

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

The advisers read typed records (:func:`offload_guide`, :func:`deployment_guide`,
`model_facts`), built and checked from the merged tables: types, ranges, ids, the
order of the size tiers and every template's placeholders. A bad override is refused when
it is configured (or, for the override file, when the data is first loaded), naming the
setting, and leaves the values in force unchanged.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from labadvisor.deployment_facts import DeploymentGuide
from labadvisor.deployment_facts import build as build_deployment_guide
from labadvisor.model_facts import ModelFacts
from labadvisor.model_facts import build as build_model_facts
from labadvisor.offload_facts import OffloadGuide
from labadvisor.offload_facts import build as build_offload_guide

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
# How each data set becomes typed records (and is checked on the way).
_BUILDERS: dict[str, Callable[[Mapping[str, Any], str], object]] = {
    "offload-vs-local": build_offload_guide,
    "compose-vs-k3s": build_deployment_guide,
    "models": build_model_facts,
}
# Lists whose entries users may add to, not only change.
_EXTENSIBLE_LISTS = frozenset({"presets"})

R = TypeVar("R")

_packaged: dict[str, dict[str, Any]] = {}
# The data in force: merged tables and the records built from them, per data set.
_merged: dict[str, Mapping[str, Any]] = {}
_records: dict[str, object] = {}
# configure() calls since the last reset, applied in order after the override file.
_session_layers: list[Mapping[str, Any]] = []


def override_file() -> Path:
    """Where user overrides are read from (the file need not exist)."""
    explicit = os.environ.get("LABADVISOR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "labadvisor" / "config.toml"


def load(name: str) -> Mapping[str, Any]:
    """The data set ``name`` as plain tables, every override applied and checked.

    The advisers use the typed records instead; this view is for display and for tools
    that walk the data. Callers must not mutate it.
    """
    _ensure_loaded(name)
    return _merged[name]


def offload_guide() -> OffloadGuide:
    """The offload-vs-local guide's facts, as typed records."""
    return _record("offload-vs-local", OffloadGuide)


def deployment_guide() -> DeploymentGuide:
    """The compose-vs-k3s guide's facts, as typed records."""
    return _record("compose-vs-k3s", DeploymentGuide)


def model_facts() -> ModelFacts:
    """Model-memory facts (dtypes, overheads, presets), as typed records."""
    return _record("models", ModelFacts)


@functools.cache
def packaged_offload_guide() -> OffloadGuide:
    """The offload-vs-local guide as shipped, no override applied: its literal tables."""
    record = _BUILDERS["offload-vs-local"](
        _packaged_data("offload-vs-local"), "offload-vs-local (packaged)"
    )
    assert isinstance(record, OffloadGuide)
    return record


def configure(
    overrides: Mapping[str, Any] | str | os.PathLike[str] | None = None, *, reset: bool = False
) -> None:
    """Override guide values for this process.

    ``overrides`` is a mapping shaped like the override file, or a path to such a TOML file.
    ``reset=True`` drops earlier in-process overrides first. Everything is checked before
    anything changes (keys, types, ranges, ids, tier order, template placeholders): a bad
    value raises ValueError naming the setting, and the old values stay in force.
    """
    global _session_layers
    if isinstance(overrides, (str, os.PathLike)):
        overrides = _read_toml(Path(overrides))
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ValueError(f"overrides must be a table of data sets, got {overrides!r}")
    _check_data_set_names(overrides or {}, "")
    layers = [] if reset else list(_session_layers)
    if overrides:
        layers.append(overrides)
    file_layer = _checked_file_overrides()
    for name in DATA_FILES:
        _assemble(name, [file_layer, *layers])  # raises before anything changes
    _session_layers = layers
    # The next load reads the override file again, so a file edited since is seen, and a
    # broken one is reported then.
    _merged.clear()
    _records.clear()


def merge(base: Any, override: Any, *, path: str) -> Any:
    """``base`` with ``override`` applied, as a new value (neither input is changed).

    Tables are merged key by key and may only set keys ``base`` has; lists of tables with
    an ``id`` are merged entry by entry (new ids only in the lists users may extend);
    anything else is replaced by a value of the same type.
    """
    if isinstance(base, Mapping):
        if not isinstance(override, Mapping):
            raise ValueError(f"{path} must be a table, got {override!r}")
        out = dict(base)
        for key, value in override.items():
            if key not in base:
                raise ValueError(
                    f"unknown setting {path}.{key}; valid keys: {', '.join(sorted(base))}"
                )
            out[key] = merge(base[key], value, path=f"{path}.{key}")
        return out
    if isinstance(base, list) and base and all(isinstance(e, Mapping) and "id" in e for e in base):
        if not isinstance(override, list):
            raise ValueError(f"{path} must be a list of tables with an 'id', got {override!r}")
        entries = list(base)
        positions = {entry["id"]: i for i, entry in enumerate(entries)}
        for entry in override:
            if not isinstance(entry, Mapping) or "id" not in entry:
                raise ValueError(f"each entry of {path} needs an 'id', got {entry!r}")
            ident = entry["id"]
            if ident in positions:
                where = positions[ident]
                entries[where] = merge(entries[where], entry, path=f"{path}[{ident}]")
            elif path.rsplit(".", 1)[-1] in _EXTENSIBLE_LISTS:
                positions[ident] = len(entries)
                entries.append(dict(entry))
            else:
                raise ValueError(
                    f"unknown id {ident!r} in {path}; valid ids: {', '.join(map(str, positions))}"
                )
        return entries
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
    return value


def _record(name: str, kind: type[R]) -> R:
    _ensure_loaded(name)
    records = _records[name]
    if not isinstance(records, kind):  # pragma: no cover - _BUILDERS pairs them
        raise TypeError(f"{name} built {type(records).__name__}, not {kind.__name__}")
    return records


def _ensure_loaded(name: str) -> None:
    if name not in DATA_FILES:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(DATA_FILES)}")
    if name not in _merged:
        path = override_file()
        file_layer = _file_overrides()
        try:
            merged, records = _assemble(name, [file_layer, *_session_layers])
        except ValueError as exc:
            if name in file_layer:
                raise ValueError(f"{path}: {exc}") from None
            raise
        _merged[name], _records[name] = merged, records


def _assemble(name: str, layers: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], object]:
    """The packaged data set with ``layers`` applied in order, and its typed records."""
    data: Mapping[str, Any] = _packaged_data(name)
    for layer in layers:
        if name in layer:
            data = merge(data, layer[name], path=name)
    return data, _BUILDERS[name](data, name)


def _check_data_set_names(layer: Mapping[str, Any], where: str) -> None:
    unknown = set(layer) - set(DATA_FILES)
    if unknown:
        raise ValueError(
            f"{where}unknown data set(s) {', '.join(sorted(map(str, unknown)))}; "
            f"valid: {', '.join(DATA_FILES)}"
        )


def _packaged_data(name: str) -> dict[str, Any]:
    if name not in _packaged:
        _packaged[name] = _read_toml(DATA_DIR / DATA_FILES[name])
    return _packaged[name]


def _checked_file_overrides() -> Mapping[str, Any]:
    """The override file's layer; a broken file counts as empty here (configure() checks
    only its own overrides against it, and the next load reports the file's problem)."""
    try:
        layer = _file_overrides()
        for name in layer:
            _assemble(name, [layer])
    except ValueError:
        return {}
    return layer


def _file_overrides() -> dict[str, Any]:
    path = override_file()
    if not path.is_file():
        return {}
    data = _read_toml(path)
    _check_data_set_names(data, f"{path}: ")
    return data


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML file at ``path``; every way it can be unusable is a ValueError naming it."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ValueError(f"{path}: its tables or arrays are nested too deeply") from None
    except OSError as exc:
        raise ValueError(f"{path} cannot be read ({exc.strerror or exc})") from None
