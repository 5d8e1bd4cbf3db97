"""The ``labadvisor`` command: the shared grammar (:mod:`labadvisor.commands`) in a terminal.

Exit status:

- 0: done.
- 1: something outside the command line failed: a Docker engine did not answer, the context
  store or ``config.json`` could not be read or written, another file or device failed.
- 2: bad input: a malformed command line (the usage and the error), or a bad value, a bad
  override file (``$LABADVISOR_CONFIG``) or inputs whose results would not be finite (one
  line naming it and the valid values).

Errors are one line on stderr, values quoted in them cut to 100 characters. Only the
library's documented errors are reported that way (``ValueError``, the contexts' errors,
``OSError``); anything else is a bug and keeps its traceback, so that it gets reported.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from labadvisor.commands import (
    CommandLineError,
    HelpPrinted,
    build_parser,
    check_override_file,
    one_line,
    parse,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse(build_parser("cli"), sys.argv[1:] if argv is None else argv)
    except HelpPrinted as printed:
        return printed.status
    except CommandLineError as exc:
        return _usage_error(exc, exc.parser)
    command: argparse.ArgumentParser = args.command_parser
    try:
        if getattr(args, "reads_guides", False):
            check_override_file()
        return int(args.func(args))
    except BrokenPipeError:  # `labadvisor … | head` closed early: not worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except CommandLineError as exc:
        return _usage_error(exc, exc.parser or command)
    except ValueError as exc:
        return _error(command, exc, EXIT_BAD_INPUT)
    except OSError as exc:  # a file or device, not the command line
        return _error(command, exc, EXIT_FAILED)


def _error(command: argparse.ArgumentParser, exc: Exception, status: int) -> int:
    print(f"{command.prog}: error: {one_line(str(exc))}", file=sys.stderr)
    return status


def _usage_error(exc: CommandLineError, failed: argparse.ArgumentParser | None) -> int:
    # As argparse reports it: the usage of the command that failed, then the error.
    if failed is not None:
        sys.stderr.write(failed.format_usage())
    prog = failed.prog if failed else "labadvisor"
    print(f"{prog}: error: {one_line(exc.message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
