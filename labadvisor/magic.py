"""The ``%labadvisor`` line magic: the shared grammar (:mod:`labadvisor.commands`) in a kernel.

Load it with ``%load_ext labadvisor``, or for every session through IPython's
``extensions`` setting, e.g. in ``~/.ipython/profile_default/ipython_config.py`` (IPython)
or ``~/.ipython/profile_default/ipython_kernel_config.py`` (Jupyter kernels)::

    c.InteractiveShellApp.extensions = ["labadvisor"]

The line is split as a shell would (``--workload "code generation"``); ``%labadvisor --help``
lists every command. Results are the library's own objects (advice, reports, switch
results), so they display richly and can be kept: ``advice = %labadvisor runtime --model
13GB``. Bad arguments and bad values raise ``UsageError`` with the reason and the usage,
never a traceback; so do the library's other documented errors (an engine or the context
store failing, a file that cannot be read), without the usage. Values quoted in these
messages are cut to 100 characters. Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from labadvisor.commands import (
    CommandLineError,
    HelpPrinted,
    build_parser,
    check_override_file,
    clip,
    finite_result,
    one_line,
    overview,
    parse,
)


@magics_class
class LabAdvisorMagics(Magics):
    @line_magic
    def labadvisor(self, line: str = "") -> Any:
        """Where notebook AI/ML work runs, and how a lab is deployed: %labadvisor --help."""
        return run_line(line)


# Longer lines are refused before splitting: shlex takes time quadratic in a token's length
# (minutes for 2 MB), and no command needs more than a few hundred characters.
MAX_LINE = 64 * 1024


def run_line(line: str) -> Any:
    """What ``%labadvisor <line>`` returns: the command's result, or None after --help."""
    if len(line) > MAX_LINE:
        raise UsageError(
            f"%labadvisor: error: the line is {len(line)} characters long; at most {MAX_LINE}"
        )
    # Built per call: the help lists presets and workloads as configure() left them.
    parser = build_parser("magic")
    try:
        argv = shlex.split(line)
    except ValueError as exc:  # unbalanced quotes
        raise UsageError(f"cannot split {clip(line)!r}: {exc}\n\n{overview(parser)}") from None
    args: argparse.Namespace | None = None
    try:
        args = parse(parser, argv)
        if getattr(args, "reads_guides", False):
            check_override_file()
        return finite_result(args)
    except HelpPrinted:
        return None
    except CommandLineError as exc:
        failed = exc.parser or _command(args, parser)
        message = one_line(exc.message)
        raise UsageError(f"{failed.prog}: error: {message}\n\n{overview(parser)}") from None
    except Exception as exc:
        from labadvisor.contexts.errors import ContextError

        command = _command(args, parser)
        message = f"{command.prog}: error: {one_line(str(exc))}"
        if isinstance(exc, (ContextError, OSError)):  # the engine, the store or a file
            raise UsageError(message) from None
        if isinstance(exc, ValueError):  # a bad value: with the command's usage
            raise UsageError(f"{message}\n\n{command.format_usage()}") from None
        raise  # a bug: keep its traceback


def _command(args: argparse.Namespace | None, parser: argparse.ArgumentParser) -> Any:
    return parser if args is None else args.command_parser


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%labadvisor``; loading again re-registers the same magic, harmlessly."""
    ipython.register_magics(LabAdvisorMagics)


def unload_ipython_extension(ipython: Any) -> None:
    ipython.magics_manager.magics["line"].pop("labadvisor", None)
