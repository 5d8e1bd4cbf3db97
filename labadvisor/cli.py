"""The ``labadvisor`` command: the shared grammar (:mod:`labadvisor.commands`) in a terminal.

Exit status 0 on success; 2 for a malformed command line (usage and the error) or a bad value
(one line naming it and the valid ones); the ``context`` commands add 1 for an engine or a
store that failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from labadvisor.commands import CommandLineError, HelpPrinted, build_parser, parse


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(build_parser("cli"), sys.argv[1:] if argv is None else argv)
    except HelpPrinted as printed:
        return printed.status
    except CommandLineError as exc:
        return _usage_error(exc, exc.parser)
    command: argparse.ArgumentParser = args.command_parser
    try:
        return int(args.func(args))
    except BrokenPipeError:  # `labadvisor … | head` closed early: not worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except CommandLineError as exc:
        return _usage_error(exc, exc.parser or command)
    except ValueError as exc:
        message = " ".join(str(exc).split())
        print(f"{command.prog}: error: {message}", file=sys.stderr)
        return 2


def _usage_error(exc: CommandLineError, failed: argparse.ArgumentParser | None) -> int:
    # As argparse reports it: the usage of the command that failed, then the error.
    if failed is not None:
        sys.stderr.write(failed.format_usage())
    print(f"{failed.prog if failed else 'labadvisor'}: error: {exc.message}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
