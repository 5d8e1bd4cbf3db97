"""The ``%labadvisor`` line magic: the shared grammar (:mod:`labadvisor.commands`) in a kernel.

Load it with ``%load_ext labadvisor``, or for every session through IPython's
``extensions`` setting, e.g. in ``~/.ipython/profile_default/ipython_config.py`` (IPython)
or ``~/.ipython/profile_default/ipython_kernel_config.py`` (Jupyter kernels)::

    c.InteractiveShellApp.extensions = ["labadvisor"]

The line is split as a shell would (``--workload "code generation"``); ``%labadvisor --help``
lists every command. Results are the library's own objects (advice, reports, switch
results), so they display richly and can be kept: ``advice = %labadvisor runtime --model
13GB``. Bad arguments and bad values raise ``UsageError`` with the reason and the usage,
never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from labadvisor.commands import CommandLineError, HelpPrinted, build_parser, overview, parse


@magics_class
class LabAdvisorMagics(Magics):
    @line_magic
    def labadvisor(self, line: str = "") -> Any:
        """Where notebook AI/ML work runs, and how a lab is deployed: %labadvisor --help."""
        return run_line(line)


def run_line(line: str) -> Any:
    """What ``%labadvisor <line>`` returns: the command's result, or None after --help."""
    # Built per call: the help lists presets and workloads as configure() left them.
    parser = build_parser("magic")
    try:
        argv = shlex.split(line)
    except ValueError as exc:  # unbalanced quotes
        raise UsageError(f"cannot split {line!r}: {exc}\n\n{overview(parser)}") from None
    args: argparse.Namespace | None = None
    try:
        args = parse(parser, argv)
        return args.result(args)
    except HelpPrinted:
        return None
    except CommandLineError as exc:
        failed = exc.parser or _command(args, parser)
        raise UsageError(f"{failed.prog}: error: {exc.message}\n\n{overview(parser)}") from None
    except Exception as exc:
        from labadvisor.contexts import ContextError

        command = _command(args, parser)
        if isinstance(exc, ContextError):  # the engine or the store, not the line
            raise UsageError(f"{command.prog}: error: {exc}") from None
        if isinstance(exc, ValueError):
            raise UsageError(f"{command.prog}: error: {exc}\n\n{command.format_usage()}") from None
        raise


def _command(args: argparse.Namespace | None, parser: argparse.ArgumentParser) -> Any:
    return parser if args is None else args.command_parser


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%labadvisor``; loading again re-registers the same magic, harmlessly."""
    ipython.register_magics(LabAdvisorMagics)


def unload_ipython_extension(ipython: Any) -> None:
    ipython.magics_manager.magics["line"].pop("labadvisor", None)
