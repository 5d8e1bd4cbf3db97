"""``labadvisor context``: list Docker contexts, and ``labadvisor context use NAME|local|offload``.

A command cannot change the environment of the shell that started it, so without --global
``use`` checks the target and prints the shell lines that switch (``eval "$(labadvisor context
use offload)"``). With --global it writes currentContext to config.json like ``docker context
use``. Exit codes: 0 done, 1 the engine or the store failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from typing import Any

from labadvisor.contexts import (
    AmbiguousContextError,
    ContextError,
    ContextNotFoundError,
    InvalidContextNameError,
    current,
    list_contexts,
    use,
)
from labadvisor.contexts.switch import CONTEXT_VARIABLE, HOST_VARIABLES, Scope

_BAD_INPUT = (InvalidContextNameError, ContextNotFoundError, AmbiguousContextError, ValueError)


def add_context_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``context`` (and its ``ls``/``use`` sub-commands) to the ``labadvisor`` parser."""
    parser = subparsers.add_parser(
        "context",
        help="list Docker contexts; switch between local and Docker Offload",
        description="List Docker contexts with their role (local, offload, remote), or switch.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=handle_context_list)
    commands = parser.add_subparsers(dest="context_command", metavar="{ls,use}")

    listing = commands.add_parser("ls", aliases=["list"], help="list contexts (the default)")
    # SUPPRESS keeps `context --json ls` from being reset to False by the sub-parser.
    listing.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    listing.set_defaults(func=handle_context_list)

    switch = commands.add_parser(
        "use",
        help="switch to a context or role",
        description="Check that the target's engine answers, then switch. Without --global, "
        'print the shell lines that switch this shell: eval "$(labadvisor context use offload)"',
    )
    switch.add_argument("target", metavar="NAME|local|offload")
    switch.add_argument(
        "--global",
        dest="global_scope",
        action="store_true",
        help="write currentContext to config.json (every new docker command), like "
        "`docker context use`",
    )
    switch.add_argument(
        "--no-check", dest="check", action="store_false", help="do not ping the engine first"
    )
    switch.add_argument(
        "--timeout", type=float, default=3.0, metavar="SECONDS", help="ping timeout (3)"
    )
    switch.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    switch.set_defaults(func=handle_context_use)
    return parser


def handle_context_list(args: argparse.Namespace) -> int:
    try:
        contexts = list_contexts()
        in_effect = current()
    except ContextError as exc:
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
    scope: Scope = "global" if args.global_scope else "kernel"
    watched = (*HOST_VARIABLES, CONTEXT_VARIABLE)
    before = {name: os.environ.get(name) for name in watched}
    try:
        result = use(args.target, scope=scope, check=args.check, timeout=args.timeout)
    except (ContextError, ValueError) as exc:
        return _fail("context use", exc)
    if getattr(args, "json", False):
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    if scope == "global":
        print(result.summary())
        return 0
    # This process switched; the same change, as shell lines, switches the calling shell.
    for name in watched:
        value = os.environ.get(name)
        if value == before[name]:
            continue
        print(f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}")
    again = f"labadvisor context use {shlex.quote(args.target)}"
    print(f"# {result.summary()}", file=sys.stderr)
    print(
        f'# apply with: eval "$({again})", or add --global for every new docker command',
        file=sys.stderr,
    )
    return 0


def _fail(command: str, exc: Exception) -> int:
    # One line, no traceback: messages already name the bad value and the valid ones.
    message = " ".join(str(exc).split())
    print(f"labadvisor {command}: error: {message}", file=sys.stderr)
    return 2 if isinstance(exc, _BAD_INPUT) else 1
