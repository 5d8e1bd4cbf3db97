"""Hostile command lines for the property tests of the CLI (test_cli.py) and the magic
(test_magic.py): the grammar's own words with values chosen to break things; and a sandbox
to run them in-process."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docker_engines import closed_port, write_context
from hypothesis import strategies as st

from labadvisor.commands import CommandParser, Surface, build_parser

HOSTILE_VALUES = (
    "9" * 400,
    "-" + "9" * 400,
    "1e308",
    "-1e308",
    "1e400",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "-0",
    "0",
    "0.0",
    "1",
    "24",
    "600",
    "600.0001",
    "1e-320",
    "13GB",
    "1e308GB",
    "-5GB",
    "x" * 5000,
    "local",
    "offload",
    "default",
    "docker-cloud",
    "yes",
    "auto",
    "none",
    "llama-2-7b",
    "compose",
    "mig",
    "ünïcødé ✓",
    "\u202e\u0000",
    "٣",  # an Arabic-Indic digit: int() takes it
    # The values of issue 11's options: per-member hours, the ledger's, hardware, triggers.
    "6,2,4",
    "1e308,1e308",
    "nan,1",
    ",",
    "measured",
    "buy-gpu",
    "cpu-only",
    "load-balancing",
    "GPU scheduling conflicts",
    "A100",
    "k3s",
)


TARGETS = ("local", "offload", "default", "docker-cloud", "lab", "nope", "-x", "bad name")
# Each advice command needs one of these; drawn first, so that most lines reach the adviser.
REQUIRED = {
    "runtime": ("--model", "--params", "--preset"),
    "costs": ("--hours",),
    "deploy": ("--users",),
}


def command_shapes(surface: Surface, leave_out: tuple[str, ...] = ()) -> list[Shape]:
    """Each command and sub-command: the words that name it and its options, each with
    whether it takes a value (help flags and ``leave_out`` left out)."""
    parser = build_parser(surface)
    shapes: list[Shape] = []
    for name, command in sorted(parser.subcommands.items()):
        if name in leave_out:
            continue
        shapes.append(([name], _options(command, leave_out)))
        for sub_name, sub in sorted(command.subcommands.items()):
            shapes.append(([name, sub_name], _options(sub, leave_out)))
    return shapes


Shape = tuple[list[str], list[tuple[str, bool]]]


def _options(command: CommandParser, leave_out: tuple[str, ...]) -> list[tuple[str, bool]]:
    return [
        (action.option_strings[-1], action.nargs != 0)
        for action in command._actions
        if action.option_strings
        and action.option_strings[-1] not in ("--help", "--version", *leave_out)
    ]


def _values() -> Any:
    return st.one_of(
        st.sampled_from(HOSTILE_VALUES),
        st.floats(min_value=0, max_value=30).map(lambda number: f"{number:g}"),
        st.floats().map(repr),
        st.integers(min_value=-(10**400), max_value=10**400).map(str),
        st.integers(min_value=-3, max_value=100).map(str),
        st.text(max_size=20),
    )


@st.composite
def _argument_list(draw: Any, shapes: list[Shape]) -> list[str]:
    words, options = draw(st.sampled_from(shapes))
    argv = list(words)
    if words[-1] == "use":
        argv.append(draw(st.one_of(st.sampled_from(TARGETS), _values())))
    chosen = draw(st.lists(st.sampled_from(options), max_size=6)) if options else []
    if words[0] in REQUIRED and draw(st.integers(0, 9)) > 0:
        chosen.insert(0, (draw(st.sampled_from(REQUIRED[words[0]])), True))
    for option, takes_value in chosen:
        if not takes_value:
            argv.append(option)
            continue
        value = draw(_values())
        # A value that starts with "-" needs "=", as the README says.
        if value.startswith("-") or draw(st.booleans()):
            argv.append(f"{option}={value}")
        else:
            argv += [option, value]
    if draw(st.integers(0, 9)) == 0:  # now and then, something out of place
        argv.insert(draw(st.integers(0, len(argv))), draw(_values()))
    return argv


def argument_lists(surface: Surface, *, leave_out: tuple[str, ...] = ()) -> Any:
    """Command lines the grammar's own words make, with values chosen to break things."""
    return _argument_list(command_shapes(surface, leave_out))


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and infinities, as browsers' JSON.parse does."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def make_hostile_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A HOME with a Docker store whose engines refuse connections at once."""
    home = tmp_path_factory.mktemp("hostile-home")
    config_dir = home / ".docker"
    config_dir.mkdir()
    write_context(config_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
    write_context(config_dir, "lab", f"tcp://127.0.0.1:{closed_port()}")
    return home


@contextlib.contextmanager
def sandboxed_process_state(home: Path) -> Iterator[None]:
    """Run with ``home``'s Docker store and no override file; afterwards os.environ and the
    kernel's set-aside DOCKER_HOST are as they were (commands switch in-process)."""
    from labadvisor.contexts import kernel_env

    saved_env, saved_kernel = dict(os.environ), kernel_env.snapshot()
    for name in [name for name in os.environ if name.startswith("DOCKER_")]:
        del os.environ[name]
    os.environ.pop("LABADVISOR_CONFIG", None)
    os.environ.update(
        HOME=str(home),
        DOCKER_CONFIG=str(home / ".docker"),
        DOCKER_HOST=f"tcp://127.0.0.1:{closed_port()}",
        XDG_CONFIG_HOME=str(home / "xdg"),
        XDG_DATA_HOME=str(home / "data"),  # `usage` reads its ledger here (none: a notice)
    )
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        kernel_env.restore(saved_kernel)
