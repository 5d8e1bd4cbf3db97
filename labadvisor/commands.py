"""The command grammar shared by ``labadvisor`` (the CLI) and ``%labadvisor`` (the magic).

One argparse parser with sub-commands serves both. Each sub-command's defaults carry its
handlers: ``result(args)`` gives the library's own object (the magic returns it) and
``func(args)`` shows that object in a terminal and gives the exit status (the CLI). The two
surfaces differ only where a terminal and a notebook do: the program name, ``--json`` in the
CLI, ``--panel`` and the ``dashboard`` command (the default) in the magic.

Enumerated values (dtype, workload, preset, GPU sharing, platform) are listed in the help from
:mod:`labadvisor.options` but checked by the advisers themselves, which accept forgiving
spellings and aliases ("code generation", "compose") and name the valid values when refusing.

What either surface may report instead of a result (the CLI as one line and an exit status,
the magic as ``UsageError``): :class:`CommandLineError` (the line does not parse),
``ValueError`` from the library (a bad value; :class:`OverrideFileError` is one, for the
user's override file, and so is a result that would not be finite), and the contexts' errors
and ``OSError`` (an engine, the context store or a file failed). Any other exception is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from labadvisor.offload_facts import HARDWARE
from labadvisor.options import Option, cost_options, deployment_options, runtime_options

Surface = Literal["cli", "magic"]
Subcommands = argparse._SubParsersAction

PROG: dict[Surface, str] = {"cli": "labadvisor", "magic": "%labadvisor"}
# The magic's command when a line names none (empty, or starting with an option).
DEFAULT_MAGIC_COMMAND = "dashboard"
# `context NAME` is short for `context use NAME`; these words are not names.
_CONTEXT_WORDS = ("ls", "list", "use")
_TOP_LEVEL_FLAGS = ("-h", "--help", "--version")
# A command's usage lines: another form of it starts under "usage: ", a long one wraps further in.
USAGE_INDENT = " " * len("usage: ")
_WRAP = "\n" + USAGE_INDENT + "    "
# Values echoed in messages are cut to this many characters: a 2 MB argument gets a short error.
MAX_QUOTED = 100
# What "local" is, as `--hardware` takes it.
HARDWARE_METAVAR = "|".join(HARDWARE)
# `--hours measured`: the usage ledger's hours (passed on; the library reads the ledger).
MEASURED = "measured"
# Whole numbers must be exact as floats (the advisers compute in floats): at most 2**53.
MAX_WHOLE_NUMBER = 2**53


class CommandLineError(Exception):
    """A command line that does not parse, or options that do not go together.

    ``parser`` is the (sub-)command whose usage applies; handlers raise it without one and
    the surface fills in the command that ran.
    """

    def __init__(self, message: str, parser: argparse.ArgumentParser | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parser = parser


class OverrideFileError(ValueError):
    """The user's override file (``$LABADVISOR_CONFIG`` or ``config.toml``) cannot be used."""


class HelpPrinted(Exception):
    """``--help`` or ``--version`` printed its text: the CLI exits, the magic returns."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of exiting (a magic must not exit the kernel),
    takes options only as spelled in full, and remembers its option strings and
    sub-commands (for "does not apply" messages)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.option_names: list[str] = []  # set first: the base class adds -h/--help
        self.subcommands: dict[str, CommandParser] = {}
        # No abbreviations: `costs --ha` must be "--ha does not apply", not a guess among
        # --hardware and --hardware-price; and a new option must not change what a
        # shortened one meant.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # A sub-command's defaults override its parent's, so after parsing this is the
        # innermost command that ran.
        self.set_defaults(command_parser=self)

    def add_argument(self, *name_or_flags: str, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*name_or_flags, **kwargs)
        self.option_names += action.option_strings
        return action

    # The base class's overloads are generic in the parser class; this one is always ours.
    def add_subparsers(self, **kwargs: Any) -> Any:
        commands = super().add_subparsers(**kwargs)
        self.subcommands = commands.choices
        return commands

    def error(self, message: str) -> NoReturn:
        raise CommandLineError(clip_values(message), self)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise HelpPrinted(status)

    def own_options(self) -> list[str]:
        return [name for name in self.option_names if name not in ("-h", "--help")]


def build_parser(surface: Surface) -> CommandParser:
    """The whole grammar, for the terminal (``"cli"``) or the notebook (``"magic"``)."""
    from labadvisor import __version__
    from labadvisor.cli_context import add_context_parser

    parser = CommandParser(
        prog=PROG[surface],
        description="Where AI/ML work should run (local CPU/GPU or Docker Offload),\n"
        "and how a multi-user lab is deployed (Docker Compose or K3s).",
        epilog=_examples(surface),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands: Subcommands[CommandParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True
    )
    if surface == "magic":
        _add_dashboard(commands)
    _add_runtime(commands, surface)
    _add_deploy(commands, surface)
    _add_costs(commands, surface)
    _add_gpu(commands, surface)
    _add_usage(commands, surface)
    add_context_parser(commands, surface)
    for name in GUIDE_COMMANDS:
        if name in parser.subcommands:
            parser.subcommands[name].set_defaults(reads_guides=True)
    # Usage is %-formatted with the program name, which in the magic starts with "%".
    parser.usage = "\n" + _command_lines(parser).replace("%", "%%")
    return parser


def parse(parser: CommandParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse ``argv`` as ``parser``'s grammar; raise :class:`CommandLineError` if it does not.

    The magic's default command is filled in, ``context NAME`` becomes ``context use NAME``,
    and an option of another command is named as such rather than as "unrecognized".
    """
    words = list(argv)
    if DEFAULT_MAGIC_COMMAND in parser.subcommands and (
        not words or (words[0].startswith("-") and words[0] not in _TOP_LEVEL_FLAGS)
    ):
        words.insert(0, DEFAULT_MAGIC_COMMAND)
    if words and words[0] == "context":
        first = next((word for word in words[1:] if not word.startswith("-")), None)
        if first is not None and first not in _CONTEXT_WORDS:
            words.insert(1, "use")
    args, extra = parser.parse_known_args(words)
    if extra:
        raise CommandLineError(_unrecognized(parser, args, extra), args.command_parser)
    return args


def check_override_file() -> None:
    """Raise :class:`OverrideFileError` if the user's override file cannot be used.

    The advice commands run this first, so an unreadable, undecodable, invalid or absurdly
    nested file is reported as such (exit 2, ``UsageError``) rather than as whatever the TOML
    reader raised; the ``context`` and ``gpu`` commands never read it.
    """
    from labadvisor import guides

    try:
        for name in guides.DATA_FILES:
            guides.load(name)
    except ValueError as exc:
        path = guides.override_file()
        where = f"{path} ($LABADVISOR_CONFIG)" if os.environ.get("LABADVISOR_CONFIG") else str(path)
        reason = str(exc).replace(f"{path}: ", "").replace(str(path), "it")
        raise OverrideFileError(f"the override file {where} cannot be used: {reason}") from None


# Commands whose handlers read the guides' data (and so the user's override file).
GUIDE_COMMANDS = ("runtime", "deploy", "costs", "usage", "dashboard")


def clip(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to ``limit`` characters, with a note of how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text)} characters)"


# A quoted value as repr() writes it: a quote not inside a word ("can't" has none), up to the
# same quote, backslash escapes included. Also any single word longer than the limit.
_QUOTED = re.compile(r"""(?<!\w)(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?!\w)""")
_LONG_WORD = re.compile(rf"\S{{{MAX_QUOTED + 1},}}")


def clip_values(message: str) -> str:
    """``message`` with each quoted value and each overlong word cut to MAX_QUOTED characters."""

    def cut_quoted(match: re.Match[str]) -> str:
        quoted = match.group(0)
        if len(quoted) <= MAX_QUOTED:
            return quoted
        return f"{quoted[: MAX_QUOTED - 2]}{quoted[0]}… ({len(quoted) - 2} characters)"

    message = _QUOTED.sub(cut_quoted, message)
    return _LONG_WORD.sub(lambda match: clip(match.group(0)), message)


def one_line(message: str) -> str:
    """An error message as the CLI prints it: one line, values cut, and no password of a
    URL quoted in it (``usage --lab postgresql://user:secret@…``)."""
    from labadvisor.usage.redaction import redact_text

    return clip_values(redact_text(" ".join(message.split())))


def overview(parser: CommandParser) -> str:
    """``usage:`` then every command's usage, one after the other."""
    return "usage:\n" + _command_lines(parser)


def _command_lines(parser: CommandParser) -> str:
    lines = []
    for command in dict.fromkeys(parser.subcommands.values()):  # once each, not per alias
        first, *more = command.format_usage().removeprefix("usage: ").rstrip().splitlines()
        lines += [first, *(line.removeprefix(USAGE_INDENT) for line in more)]
    lines.append(f"{parser.prog} --version")
    return "".join(f"  {line}\n" for line in lines)


def _unrecognized(parser: CommandParser, args: argparse.Namespace, extra: list[str]) -> str:
    command: CommandParser = args.command_parser
    options = [word.split("=", 1)[0] for word in extra if word.startswith("-")]
    known = {name for sub in _walk(parser) for name in sub.own_options()}
    if options and all(option in known for option in options):
        verb = "does" if len(options) == 1 else "do"
        return (
            f"{', '.join(options)} {verb} not apply to {command.prog}; its options: "
            f"{', '.join(command.own_options()) or 'none'}"
        )
    if not options and args.command != "context":
        return (
            f"unexpected argument {extra[0]!r} for {command.prog}; only `{parser.prog} "
            "context` takes a target (local, offload or a context name)"
        )
    shown = " ".join(_shown(word) for word in extra[:10])
    more = f" … ({len(extra) - 10} more)" if len(extra) > 10 else ""
    return f"unrecognized arguments: {shown}{more}"


def _shown(word: str) -> str:
    # As typed when that reads unambiguously, else as repr() escapes it (blanks, controls).
    plain = word.isprintable() and word.split() == [word]
    return clip(word) if plain else repr(word)


def _walk(parser: CommandParser) -> Iterator[CommandParser]:
    yield parser
    for sub in dict.fromkeys(parser.subcommands.values()):
        yield from _walk(sub)


# The sub-commands. Usage lines are written out so the one-of choice of a model size reads as
# such; tests/test_cli.py checks that each names every option its command takes.


def _add_dashboard(commands: Subcommands[CommandParser]) -> None:
    dashboard = commands.add_parser(
        "dashboard", help="all four panels in tabs (the default)", usage="%(prog)s [--gpu G]"
    )
    _add_gpu_option(dashboard)
    dashboard.set_defaults(result=show_dashboard)


def _add_runtime(commands: Subcommands[CommandParser], surface: Surface) -> None:
    options = _listed(runtime_options)
    runtime = commands.add_parser(
        "runtime",
        help="local CPU, local GPU or Docker Offload?",
        usage="%(prog)s (--model SIZE | --params BILLIONS [--dtype D] | --preset NAME)"
        + _WRAP
        + "[--context-tokens N] [--batch-size N] [--task T] [--workload W]"
        + _WRAP
        + "[--gpu G] [--sensitive] [--offline] [--interactive] [--hours H|measured]"
        + _WRAP
        + f"[--team N] [--hardware {HARDWARE_METAVAR}]"
        + _json_flag(surface),
    )
    runtime.add_argument("--model", metavar="SIZE", help="model size, e.g. 13GB or '500 MB'")
    runtime.add_argument("--params", type=float, metavar="BILLIONS", help="parameters (billions)")
    runtime.add_argument(
        "--preset",
        metavar="NAME",
        help=f"a known model or a Hugging Face id: {_values(options, 'preset')}",
    )
    runtime.add_argument(
        "--dtype",
        default="fp16",
        metavar="D",
        help=f"precision of the weights: {_values(options, 'dtype')} (default: fp16)",
    )
    runtime.add_argument(
        "--context-tokens",
        type=whole_number,
        metavar="N",
        help="tokens of context (KV cache, training activations); default: a preset's "
        "full context, else not counted",
    )
    runtime.add_argument(
        "--batch-size",
        type=whole_number,
        default=1,
        metavar="N",
        help="sequences at once (default: 1)",
    )
    runtime.add_argument(
        "--task",
        default="inference",
        metavar="T",
        help=f"{_values(options, 'task')} (default: inference)",
    )
    runtime.add_argument(
        "--workload",
        metavar="W",
        help=f"{_values(options, 'workload')}, or an alias (default: code completion, or "
        "training for a fine-tuning task; marked as assumed)",
    )
    _add_gpu_option(runtime)
    runtime.add_argument("--sensitive", action="store_true", help="code must not leave the machine")
    runtime.add_argument(
        "--offline", action="store_true", help="air-gapped: no network, so no Docker Offload"
    )
    runtime.add_argument(
        "--interactive",
        action="store_true",
        help="latency-sensitive use (completion as you type): prefer a local option that "
        "holds the model",
    )
    runtime.add_argument(
        "--hours",
        type=hours_value,
        metavar="H|measured",
        help="Offload hours per day, for the costs; measured: the usage ledger's",
    )
    runtime.add_argument(
        "--team", type=whole_number, default=1, metavar="N", help="team size (default: 1)"
    )
    _add_hardware_option(
        runtime, "default: what the GPU check found (an owned GPU if there is one, else the CPU)"
    )
    _add_json(runtime, surface)
    runtime.set_defaults(result=advise_runtime_for, func=print_runtime_advice)


def _add_deploy(commands: Subcommands[CommandParser], surface: Surface) -> None:
    options = _listed(deployment_options)
    deploy = commands.add_parser(
        "deploy",
        help="Docker Compose or K3s?",
        usage="%(prog)s --users N [--concurrent-users N] [--expected-users N]"
        + _WRAP
        + "[--nodes N] [--ha] [--sharing MODE] [--gpu MODEL|auto] [--gpu-count N]"
        + _WRAP
        + "[--trigger T]... [--k8s-experience yes|no] [--current PLATFORM]"
        + _WRAP
        + "[--current-broken] [--prefer PLATFORM] [--ops-rate USD]"
        + _WRAP
        + "[--server-monthly USD]"
        + _json_flag(surface),
    )
    deploy.add_argument(
        "--users", type=whole_number, metavar="N", help="registered lab users (required)"
    )
    deploy.add_argument(
        "--concurrent-users",
        type=whole_number,
        metavar="N",
        help="users online at once (Docker Compose's limit is about 50; default: not stated)",
    )
    deploy.add_argument(
        "--expected-users",
        type=whole_number,
        metavar="N",
        help="registered users expected within a year (default: not stated)",
    )
    deploy.add_argument(
        "--nodes", type=whole_number, default=1, metavar="N", help="servers (default: 1)"
    )
    deploy.add_argument("--ha", action="store_true", help="high availability needed")
    deploy.add_argument(
        "--sharing", metavar="MODE", help=f"GPU sharing: {_values(options, 'gpu_sharing')}"
    )
    deploy.add_argument(
        "--gpu",
        metavar="MODEL|auto",
        help="the lab's GPU model, for the MIG check (MIG-capable: "
        f"{_gpu_models(options)}), or auto to detect this machine's (default: not stated)",
    )
    deploy.add_argument(
        "--gpu-count",
        type=whole_number,
        metavar="N",
        help="GPUs in the lab (default: not stated, or those --gpu auto detects)",
    )
    deploy.add_argument(
        "--trigger",
        action="append",
        metavar="T",
        help="a migration trigger the lab sees (repeat for several), by id or by the "
        f"guide's label: {_values(options, 'migration_triggers')}",
    )
    deploy.add_argument(
        "--k8s-experience",
        type=_yes_no,
        metavar="yes|no",
        help="does the team know Kubernetes? (default: not stated)",
    )
    deploy.add_argument(
        "--current",
        metavar="PLATFORM",
        help=f"platform in use now: {_values(options, 'current')}, or an alias such as compose",
    )
    deploy.add_argument(
        "--current-broken",
        action="store_true",
        help="the --current platform is not working (default: it works, and is kept unless "
        "something needs the other one)",
    )
    deploy.add_argument(
        "--prefer",
        metavar="PLATFORM",
        help=f"the platform the lab would rather run: {_values(options, 'prefer')}",
    )
    deploy.add_argument(
        "--ops-rate",
        type=float,
        metavar="USD",
        help="cost of an hour of operations work, for each platform's monthly cost",
    )
    deploy.add_argument(
        "--server-monthly", type=float, metavar="USD", help="cost of one server per month"
    )
    _add_json(deploy, surface)
    deploy.set_defaults(result=advise_deployment_for, func=print_result)


def _add_costs(commands: Subcommands[CommandParser], surface: Surface) -> None:
    costs = commands.add_parser(
        "costs",
        help="monthly cost: local vs Docker Offload",
        usage="%(prog)s --hours H|H,H,...|measured [--rate USD] [--days D] [--team N]"
        + _WRAP
        + f"[--hardware {HARDWARE_METAVAR}] [--local-monthly USD]"
        + _WRAP
        + "[--hardware-price USD] [--amortize-months N] [--storage-gb GB]"
        + _json_flag(surface),
    )
    costs.add_argument(
        "--hours",
        type=member_hours_value,
        metavar="H|H,H,...|measured",
        help="Offload hours per day (required): one number for everyone, one per member "
        "(6,2,4: a team of three), or measured (the usage ledger's)",
    )
    costs.add_argument("--rate", type=float, metavar="USD", help="Offload USD per hour")
    costs.add_argument(
        "--local-monthly",
        type=float,
        metavar="USD",
        help="operating cost of a local GPU workstation per month",
    )
    costs.add_argument("--days", type=whole_number, metavar="D", help="working days per month")
    costs.add_argument(
        "--team", type=whole_number, default=1, metavar="N", help="team size (default: 1)"
    )
    _add_hardware_option(costs, "default: owned-gpu")
    costs.add_argument(
        "--hardware-price",
        type=float,
        metavar="USD",
        help="purchase price per member (buy-gpu only; default: the guide's)",
    )
    costs.add_argument(
        "--amortize-months",
        type=whole_number,
        metavar="N",
        help="months the purchase is spread over (buy-gpu only; default: the guide's)",
    )
    costs.add_argument(
        "--storage-gb",
        type=float,
        default=0.0,
        metavar="GB",
        help="Offload storage kept, priced per GB and month (default: 0)",
    )
    _add_json(costs, surface)
    costs.set_defaults(result=monthly_costs_for, func=print_result)


def _add_gpu(commands: Subcommands[CommandParser], surface: Surface) -> None:
    show = " [--panel]" if surface == "magic" else _json_flag(surface)
    gpu = commands.add_parser(
        "gpu",
        help="this machine's GPUs, or why there is none; --processes: who holds their memory",
        usage="%(prog)s [--processes] [--refresh]" + show,
    )
    gpu.add_argument(
        "--processes",
        action="store_true",
        help="the processes holding GPU memory and whose they are (this kernel, a notebook's "
        "kernel, a container, another process)",
    )
    gpu.add_argument("--refresh", action="store_true", help="detect again (not the cached answer)")
    if surface == "magic":
        gpu.add_argument(
            "--panel", action="store_true", help="the live panel instead (it lists the processes)"
        )
    _add_json(gpu, surface)
    gpu.set_defaults(result=detect_gpus, func=print_gpus)


def _add_usage(commands: Subcommands[CommandParser], surface: Surface) -> None:
    usage = commands.add_parser(
        "usage",
        help="measured GPU and Docker Offload hours, from the usage ledger",
        usage="%(prog)s [--days N] [--lab [URL]]" + _json_flag(surface),
    )
    usage.add_argument(
        "--days",
        type=whole_number,
        default=30,
        metavar="N",
        help="the last N calendar days, today included (default: 30)",
    )
    usage.add_argument(
        "--lab",
        nargs="?",
        const="",
        metavar="URL",
        help="the whole lab's ledger instead (admins): postgresql://USER@HOST/DB or a SQLite "
        "file; --lab alone reads $LABADVISOR_USAGE_URL (keeps a password out of the history)",
    )
    _add_json(usage, surface)
    usage.set_defaults(result=usage_summary_for, func=print_usage)


def _add_gpu_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--gpu",
        type=gpu_value,
        default="auto",
        metavar="G",
        help="auto (detect; the default), none, yes, or free GPU memory in GB",
    )


def _add_hardware_option(parser: argparse.ArgumentParser, default: str) -> None:
    options = _listed(cost_options)
    parser.add_argument(
        "--hardware",
        metavar=HARDWARE_METAVAR,
        help=f"what local is: {_labelled(options, 'hardware')} ({default})",
    )


def _add_json(parser: argparse.ArgumentParser, surface: Surface) -> None:
    if surface == "cli":
        parser.add_argument("--json", action="store_true", help="print JSON")


def _json_flag(surface: Surface) -> str:
    return " [--json]" if surface == "cli" else ""


def _listed(options: Callable[[], dict[str, list[Option]]]) -> dict[str, list[Option]] | None:
    # The help lists the values the guides hold; with an unusable override file it cannot,
    # and the parser must still build (`context use local` does not read the guides).
    try:
        check_override_file()
    except OverrideFileError:
        return None
    return options()


def _values(options: dict[str, list[Option]] | None, name: str) -> str:
    if options is None:
        return "see the guides (the override file cannot be used)"
    return ", ".join(str(value) if value is not None else label for label, value in options[name])


def _labelled(options: dict[str, list[Option]] | None, name: str) -> str:
    """Each value with its label: "buy-gpu (buying a GPU)"."""
    if options is None:
        return "see the guides (the override file cannot be used)"
    return ", ".join(f"{value} ({label})" for label, value in options[name] if value is not None)


def _gpu_models(options: dict[str, list[Option]] | None) -> str:
    if options is None:
        return "see the guides"
    return ", ".join(value for _, value in options["gpu"] if value not in (None, "auto"))


def _examples(surface: Surface) -> str:
    prog = PROG[surface]
    lines = [
        "runtime --model 13GB --workload code-generation --hours 6",
        'runtime --params 7 --dtype int4 --gpu 8 --workload "code review" --sensitive',
        "runtime --preset llama-2-7b --gpu none",
        "deploy --users 80 --nodes 3 --ha --sharing mig --current compose",
        "deploy --users 40 --concurrent-users 60 --expected-users 120 --current compose",
        "deploy --users 20 --current k3s --current-broken   (K3s not working)",
        "costs --hours 6 --rate 0.5",
        "costs --hours 6,2,4 --hardware buy-gpu --storage-gb 50",
        "gpu --processes            (who holds GPU memory)",
        "usage --days 7             (measured GPU and Offload hours)",
    ]
    if surface == "magic":
        lines += [
            "context offload          (this kernel only; --global for all terminals)",
            "gpu --panel              (live utilization and memory)",
        ]
    else:
        lines += ["context use local --global   (config.json, like `docker context use`)"]
    examples = [f"{prog} {line}" for line in lines]
    if surface == "cli":
        examples.append(f'eval "$({prog} context use offload)"   (switch this shell)')
    return "examples:\n" + "\n".join("  " + line for line in examples)


# Values as a person types them.


def gpu_value(text: str) -> Any:
    """``--gpu``: auto, none/no/false, yes/true, or a number of GB (checked by the adviser)."""
    named = {"auto": "auto", "none": None, "no": None, "false": None, "yes": True, "true": True}
    return named.get(text.strip().lower(), text)


def hours_value(text: str) -> float | str:
    """``--hours`` of ``runtime``: a number of hours per day, or "measured" (the usage
    ledger's hours, which the library reads). The range is the adviser's to check."""
    if text.strip().lower() == MEASURED:
        return MEASURED
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of hours per day or {MEASURED}, got {text!r}"
        ) from None


def member_hours_value(text: str) -> float | str | list[float]:
    """``--hours`` of ``costs``: a number for everyone, a comma list with one number per
    member ("6,2,4"), or "measured"."""
    if "," not in text:
        return hours_value(text)
    hours = []
    for part in text.split(","):
        try:
            hours.append(float(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected hours per day for each member, separated by commas (6,2,4); "
                f"{part.strip()!r} in {text!r} is not a number"
            ) from None
    return hours


def whole_number(text: str) -> int:
    """An integer option: a whole number small enough to compute with (the advisers check
    the range that makes sense, e.g. at least one user)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if abs(number) > MAX_WHOLE_NUMBER:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of at most {MAX_WHOLE_NUMBER} in size, got {text!r}"
        )
    return number


def _yes_no(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("yes", "true", "y", "1"):
        return True
    if lowered in ("no", "false", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


# Handlers: each gives the library's object for a parsed command line.


def advise_runtime_for(args: argparse.Namespace) -> Any:
    from labadvisor.runtime import advise_runtime

    given = [flag for flag in ("model", "params", "preset") if getattr(args, flag) is not None]
    if len(given) != 1:
        raise CommandLineError(
            "needs exactly one of --model SIZE, --params BILLIONS or --preset NAME "
            f"(got {', '.join('--' + flag for flag in given) or 'none'})"
        )
    return advise_runtime(
        args.model,
        params_b=args.params,
        dtype=args.dtype,
        preset=args.preset,
        context_tokens=args.context_tokens,
        batch_size=args.batch_size,
        task=args.task,
        workload=args.workload,
        gpu=args.gpu,
        hours_per_day=args.hours,
        team_size=args.team,
        sensitive=args.sensitive,
        offline=args.offline,
        interactive=args.interactive,
        hardware=args.hardware,
    )


def advise_deployment_for(args: argparse.Namespace) -> Any:
    from labadvisor.deployment import advise_deployment

    if args.users is None:
        raise CommandLineError("needs --users N (the number of lab users)")
    if args.current_broken and args.current is None:
        raise CommandLineError(
            "--current-broken needs --current PLATFORM (the platform that is not working)"
        )
    return advise_deployment(
        args.users,
        nodes=args.nodes,
        high_availability=args.ha,
        gpu_sharing=args.sharing,
        kubernetes_experience=args.k8s_experience,
        current=args.current,
        concurrent_users=args.concurrent_users,
        expected_users=args.expected_users,
        migration_triggers=args.trigger,
        gpu=args.gpu,
        gpu_count=args.gpu_count,
        current_ok=not args.current_broken,
        prefer=args.prefer,
        ops_hourly_rate=args.ops_rate,
        server_monthly=args.server_monthly,
    )


def monthly_costs_for(args: argparse.Namespace) -> Any:
    from labadvisor.costs import monthly_costs

    if args.hours is None:
        raise CommandLineError("needs --hours H (Offload hours per day)")
    return monthly_costs(
        args.hours,
        days=args.days,
        local_monthly=args.local_monthly,
        offload_rate=args.rate,
        team_size=args.team,
        hardware="owned-gpu" if args.hardware is None else args.hardware,
        hardware_price=args.hardware_price,
        amortize_months=args.amortize_months,
        storage_gb=args.storage_gb,
    )


def detect_gpus(args: argparse.Namespace) -> Any:
    from labadvisor import gpu

    report = gpu.detect(refresh=args.refresh)
    if getattr(args, "panel", False):
        from labadvisor.widgets.gpu_view import GpuPanel

        return GpuPanel()  # shows the report just detected
    if args.processes:
        from labadvisor.contexts.container_names import ContainerNames

        # Over the devices just detected; containers named by the current context's engine.
        with ContainerNames() as names:
            return gpu.processes(docker_names=names)
    return report


def usage_summary_for(args: argparse.Namespace) -> Any:
    """The usage ledger's summary, or :class:`NoUsageLedger` where there is no ledger file:
    a read never creates it (opening it would)."""
    from labadvisor.usage import default_path, existing_ledger, summary
    from labadvisor.usage.summary import MAX_DAYS

    if not 1 <= args.days <= MAX_DAYS:  # checked here too: with no ledger, summary() is not run
        raise ValueError(f"--days must be a whole number from 1 to {MAX_DAYS}, got {args.days}")
    if args.lab is not None:
        return _lab_summary(args.lab or None, args.days)
    path = existing_ledger()
    if path is None:
        return NoUsageLedger(str(default_path()))
    return summary(args.days, path)


def _lab_summary(url: str | None, days: int) -> Any:
    from labadvisor.usage import lab_summary
    from labadvisor.usage.store import LedgerUnavailable

    try:
        return lab_summary(url, days)  # None: $LABADVISOR_USAGE_URL
    except LedgerUnavailable as exc:  # the database did not answer, or is not a ledger
        raise OSError(str(exc)) from None  # as other outside failures: exit 1


@dataclass(frozen=True)
class NoUsageLedger:
    """What ``usage`` answers before the server's sampler has written a ledger file."""

    location: str

    @property
    def message(self) -> str:
        from labadvisor.terminal import SAMPLER

        return f"No usage recorded yet: there is no usage ledger at {self.location} ({SAMPLER})."

    def to_dict(self) -> dict[str, Any]:
        # The keys a UsageSummary's dict has for the same question: where, and any data?
        return {"location": self.location, "has_data": False, "message": self.message}

    def __str__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        return f"<p class='labadvisor-usage'>{html.escape(self.message)}</p>"


def show_dashboard(args: argparse.Namespace) -> Any:
    from labadvisor.widgets import dashboard

    return dashboard(gpu=_checked_gpu(args.gpu))


def _checked_gpu(gpu: Any) -> Any:
    # As advise_runtime checks it, so that a bad --gpu is refused here, not shown in a panel.
    if not isinstance(gpu, str) or gpu == "auto":
        return gpu
    from labadvisor.units import parse_size_gb

    try:
        return parse_size_gb(gpu, "--gpu")
    except ValueError:
        raise ValueError(
            "--gpu must be auto, none, yes or the free GPU memory in GB (a finite number, "
            f"at least 0); got {gpu!r}"
        ) from None


def finite_result(args: argparse.Namespace) -> Any:
    """The handler's object, refused (ValueError) if its dict holds NaN or an infinity.

    The advisers refuse such inputs themselves; this is the surfaces' own guarantee that no
    answer they give, as text, JSON or an object, carries a number that strict JSON lacks.
    """
    result = args.result(args)
    to_dict = getattr(result, "to_dict", None)
    if to_dict is not None:
        bad = list(_non_finite(to_dict(), ""))
        if bad:
            raise ValueError(
                "these inputs give results too large to compute: "
                f"{', '.join(bad[:5])} would not be a finite number; use smaller values"
            )
    return result


def _non_finite(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, float) and not math.isfinite(value):
        yield path or "the result"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _non_finite(item, f"{path}[{index}]")


def print_result(args: argparse.Namespace) -> int:
    """The CLI's way to show a handler's object: its text, or with ``--json`` its dict."""
    result = finite_result(args)
    print(_json_text(result) if args.json else str(result))
    return 0


def print_runtime_advice(args: argparse.Namespace) -> int:
    """The advice (the deciding reason first, the overridden ones under their heading), then
    the memory estimate that every fit check used, with its assumptions."""
    advice = finite_result(args)
    if args.json:
        print(_json_text(advice))
        return 0
    text = str(advice)
    print(text)
    if advice.memory is not None:
        heading, estimate = MEMORY_HEADING, str(advice.memory).splitlines()
        if estimate and estimate[0] in text:  # the advice's details already give the sum
            heading, estimate = MEMORY_ASSUMPTIONS_HEADING, estimate[1:]
        if estimate:
            print(f"\n{heading}")
            print("\n".join(f"  {line.strip()}" for line in estimate))
    return 0


MEMORY_HEADING = "Memory estimate (advice.memory), used by every fit check:"
MEMORY_ASSUMPTIONS_HEADING = "Assumptions behind the memory estimate (advice.memory):"


def print_gpus(args: argparse.Namespace) -> int:
    """The report's text, or with --processes a table of the processes; --json: the dict."""
    from labadvisor.terminal import gpu_process_table

    result = finite_result(args)
    if args.json:
        print(_json_text(result))
    elif args.processes:
        print(gpu_process_table(result))
    else:
        print(result)
    return 0


def print_usage(args: argparse.Namespace) -> int:
    """The summary in a few lines, or one line saying there is nothing recorded (exit 0:
    an empty ledger is an answer, not a failure); --json: the dict (``has_data`` says)."""
    from labadvisor.terminal import usage_text

    result = finite_result(args)
    print(_json_text(result) if args.json else usage_text(result))
    return 0


def _json_text(result: Any) -> str:
    return json.dumps(result.to_dict(), indent=2, allow_nan=False)
