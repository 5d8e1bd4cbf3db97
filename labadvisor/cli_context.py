"""The ``context`` command: list Docker contexts; ``context [use] NAME|local|offload`` switches.

Its grammar (added to the shared parser by :mod:`labadvisor.commands`), its handlers (which
the magic returns the results of) and how a terminal shows them.

A command cannot change the environment of the shell that started it, so in a terminal
``use`` without --global checks the target and prints the shell lines that switch
(``eval "$(labadvisor context use offload)"``). With --global it writes currentContext to
config.json like ``docker context use``. Exit codes: 0 done, 1 the engine or the store failed,
2 bad input.

Those shell lines also keep what they unset: switching away from the engine that
``DOCKER_HOST`` names exports :data:`SET_ASIDE_VARIABLE`, holding ``DOCKER_HOST`` and its TLS
variables as JSON, and ``use local`` (or ``use default``) in that shell puts them back and
unsets it, as the kernel does with what it sets aside.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import sys
from typing import Any, Literal

from labadvisor.commands import USAGE_INDENT, CommandLineError, one_line
from labadvisor.contexts import (
    AmbiguousContextError,
    ContextError,
    ContextNotFoundError,
    InvalidContextNameError,
    SwitchResult,
    current,
    list_contexts,
    use,
)

_BAD_INPUT = (InvalidContextNameError, ContextNotFoundError, AmbiguousContextError, ValueError)
# The engine check's limit: longer than any engine needs to answer, short enough to wait for.
MAX_TIMEOUT_S = 600.0
# Where the shell form of `use` keeps the DOCKER_HOST group it unset (JSON: name -> value).
SET_ASIDE_VARIABLE = "LABADVISOR_DOCKER_SET_ASIDE"


def add_context_parser(
    subparsers: Any, surface: Literal["cli", "magic"] = "cli"
) -> argparse.ArgumentParser:
    """Add ``context`` (and its ``ls``/``use`` sub-commands) to a ``labadvisor`` parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "context",
        help="list Docker contexts; switch between local and Docker Offload",
        description="List Docker contexts with their role (local, offload, remote), or switch: "
        "check that the target's engine answers, then switch.",
    )
    show = _add_show_flag(parser, surface)
    # Also here, so `context --global NAME` reads as it would after `use`, and `context
    # --global` alone is refused by name. SUPPRESS keeps `use` from resetting them.
    _add_switch_flags(parser)
    parser.set_defaults(func=handle_context_list, result=list_context_results)
    commands = parser.add_subparsers(dest="context_command", metavar="{ls,use}")

    listing = commands.add_parser("ls", aliases=["list"], help="list contexts (the default)")
    if surface == "cli":
        listing.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    listing.set_defaults(func=handle_context_list, result=list_context_results)

    switch = commands.add_parser(
        "use",
        help="switch to a context or role ('use' may be left out)",
        description="Check that the target's engine answers, then switch. Without --global, "
        + (
            'print the shell lines that switch this shell: eval "$(labadvisor context use offload)"'
            if surface == "cli"
            else "only this kernel switches."
        ),
    )
    switch.add_argument("target", metavar="NAME|local|offload")
    _add_switch_flags(switch)
    switch.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help=f"how long the engine may take to answer, more than 0 and at most "
        f"{MAX_TIMEOUT_S:g} (default: 3)",
    )
    if surface == "cli":
        switch.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON"
        )
    switch.set_defaults(func=handle_context_use, result=switch_context)
    # Set after add_subparsers, which derives the sub-commands' names from the usage.
    parser.usage = (
        f"%(prog)s [ls]{show}\n{USAGE_INDENT}%(prog)s [use] NAME|local|offload [--global] "
        f"[--no-check] [--timeout SECONDS]{' [--json]' if surface == 'cli' else ''}"
    )
    return parser


def _add_show_flag(parser: argparse.ArgumentParser, surface: str) -> str:
    if surface == "cli":
        parser.add_argument("--json", action="store_true", help="print JSON")
        return " [--json]"
    parser.add_argument("--panel", action="store_true", help="the context panel instead")
    return " [--panel]"


def _add_switch_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--global",
        dest="global_scope",
        action="store_true",
        default=argparse.SUPPRESS,
        help="write currentContext to config.json (every new docker command), like "
        "`docker context use`",
    )
    parser.add_argument(
        "--no-check",
        dest="check",
        action="store_false",
        default=argparse.SUPPRESS,
        help="do not ping the engine first",
    )


# Handlers: the library's objects, which the magic returns.


def list_context_results(args: argparse.Namespace) -> Any:
    """The contexts, after displaying the one in effect and why; or with --panel the panel."""
    _refuse_switch_flags(args)
    if getattr(args, "panel", False):
        from labadvisor.widgets.context_view import ContextPanel

        return ContextPanel()
    from IPython.display import display

    display(current())
    return list_contexts()


def switch_context(args: argparse.Namespace) -> SwitchResult:
    scope: Literal["kernel", "global"] = (
        "global" if getattr(args, "global_scope", False) else "kernel"
    )
    timeout = checked_timeout(args.timeout)
    return use(args.target, scope=scope, check=getattr(args, "check", True), timeout=timeout)


def checked_timeout(seconds: float) -> float:
    """``--timeout``: more than 0 and at most MAX_TIMEOUT_S seconds, else ValueError."""
    if not 0 < seconds <= MAX_TIMEOUT_S:  # NaN fails too
        raise ValueError(
            f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds, got {seconds:g}"
        )
    return seconds


def _refuse_switch_flags(args: argparse.Namespace) -> None:
    if hasattr(args, "global_scope") or hasattr(args, "check"):
        raise CommandLineError(
            "--global and --no-check need a target: local, offload or a context name"
        )


# How a terminal shows them.


def handle_context_list(args: argparse.Namespace) -> int:
    _refuse_switch_flags(args)
    try:
        contexts = list_contexts()
        in_effect = current()
    except (ContextError, OSError) as exc:
        return _fail("context", exc)
    if getattr(args, "json", False):
        payload = {"current": in_effect.to_dict(), "contexts": contexts.to_list()}
        print(json.dumps(payload, indent=2))
        return 0
    rows = [("CONTEXT", "ROLE", "TLS", "ENDPOINT", "DESCRIPTION")]
    rows += [
        (
            info.name + (" *" if info.current else ""),
            info.role,
            "yes" if info.tls else "no",
            info.host or "-",
            info.description,
        )
        for info in contexts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)]
        print("  ".join([*cells, row[4]]).rstrip())
    print(f"current: {in_effect.name} ({in_effect.reason})")
    return 0


def handle_context_use(args: argparse.Namespace) -> int:
    before = dict(os.environ)
    shell_form = not getattr(args, "json", False) and not getattr(args, "global_scope", False)
    if shell_form:
        _take_back_set_aside()
    try:
        result = switch_context(args)
    except (ContextError, ValueError, OSError) as exc:
        return _fail("context use", exc)
    if getattr(args, "json", False):
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    if result.scope == "global":
        print(shell_words(result.summary()))
        return 0
    # This process switched; the same change to its environment, as shell lines, switches
    # the calling shell, with what it set aside kept in the shell for the way back.
    _keep_set_aside()
    for name in before:
        if name not in os.environ:
            print(f"unset {name}")
    for name, value in os.environ.items():
        if before.get(name) != value:
            print(f"export {name}={shlex.quote(value)}")
    again = f"labadvisor context use {shlex.quote(args.target)}"
    print(f"# {shell_words(result.summary(THIS_SHELL))}", file=sys.stderr)
    print(
        f'# apply with: eval "$({again})", or add --global for every new docker command',
        file=sys.stderr,
    )
    return 0


THIS_SHELL = "this shell"


def shell_words(summary: str) -> str:
    """A switch's summary as a terminal reads it: the library speaks of "this kernel" (the
    process that switched) and of ``use(NAME)``, which in a terminal are the shell that
    evals the lines and ``eval "$(labadvisor context use NAME)"``."""

    def shell_command(match: re.Match[str]) -> str:
        return f'eval "$(labadvisor context use {shlex.quote(ast.literal_eval(match[1]))})"'

    return _KERNEL_CALL.sub(shell_command, summary).replace("this kernel", THIS_SHELL)


# How the library's notes name a kernel-scope switch: use('docker-cloud') with scope='kernel'.
_KERNEL_CALL = re.compile(r"""use\(('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\) with scope='kernel'""")


def _take_back_set_aside() -> None:
    """Hand this process's switching what an earlier `use` in the calling shell set aside."""
    from labadvisor.contexts.switch import HOST_VARIABLES, Snapshot, kernel_env

    text = os.environ.get(SET_ASIDE_VARIABLE)
    if not text:
        return
    try:
        saved = json.loads(text)
    except ValueError:
        saved = None
    valid = (
        isinstance(saved, dict)
        and saved
        and all(name in HOST_VARIABLES and isinstance(value, str) for name, value in saved.items())
    )
    if not valid:
        print(
            f"# ignoring ${SET_ASIDE_VARIABLE}: not what `labadvisor context use` writes",
            file=sys.stderr,
        )
        return
    now = kernel_env.snapshot()
    kernel_env.restore(Snapshot(now.values, dict(saved)))


def _keep_set_aside() -> None:
    from labadvisor.contexts.switch import kernel_env

    aside = kernel_env.set_aside()
    if aside:
        os.environ[SET_ASIDE_VARIABLE] = json.dumps(aside, sort_keys=True)
    else:
        os.environ.pop(SET_ASIDE_VARIABLE, None)


def _fail(command: str, exc: Exception) -> int:
    # One line, no traceback: messages already name the bad value and the valid ones.
    print(f"labadvisor {command}: error: {one_line(str(exc))}", file=sys.stderr)
    return 2 if isinstance(exc, _BAD_INPUT) else 1
