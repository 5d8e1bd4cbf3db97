"""The ``%labadvisor`` line magic.

Load it with ``%load_ext labadvisor``, or for every session through IPython's
``extensions`` setting, e.g. in ``~/.ipython/profile_default/ipython_config.py`` (IPython)
or ``~/.ipython/profile_default/ipython_kernel_config.py`` (Jupyter kernels)::

    c.InteractiveShellApp.extensions = ["labadvisor"]

Commands (``%labadvisor --help`` prints them with every option)::

    %labadvisor                                   the dashboard (all four panels)
    %labadvisor gpu [--refresh] [--panel]         GPU detection report, or the live panel
    %labadvisor context [local|offload|NAME] [--global] [--no-check] [--panel]
    %labadvisor runtime --model 13GB --workload code-generation --hours 6 [--sensitive]
    %labadvisor deploy --users 80 [--nodes 3] [--ha] [--sharing mig] [--current compose]
    %labadvisor costs --hours 6 [--rate 0.5]

Results are the library's own objects (advice, reports, switch results), so they display
richly and can be kept: ``advice = %labadvisor runtime --model 13GB``. Bad arguments and
bad values raise ``UsageError`` with the reason and the usage line, never a traceback.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

COMMANDS = ("dashboard", "gpu", "context", "runtime", "deploy", "costs")

# The options each command accepts (argparse dests); any other option given is an error.
_OPTIONS: dict[str, frozenset[str]] = {
    "dashboard": frozenset({"gpu"}),
    "gpu": frozenset({"refresh", "panel"}),
    "context": frozenset({"global_scope", "no_check", "panel"}),
    "runtime": frozenset(
        {"model", "params", "preset", "dtype", "workload", "hours", "team", "gpu", "sensitive"}
    ),
    "deploy": frozenset({"users", "nodes", "ha", "sharing", "k8s_experience", "current"}),
    "costs": frozenset({"hours", "rate", "local_monthly", "days", "team"}),
}

USAGE = {
    "dashboard": "%labadvisor [--gpu auto|none|yes|GB]",
    "gpu": "%labadvisor gpu [--refresh] [--panel]",
    "context": "%labadvisor context [local|offload|NAME] [--global] [--no-check] [--panel]",
    "runtime": (
        "%labadvisor runtime (--model SIZE | --params B [--dtype D] | --preset NAME)\n"
        "                    [--workload W] [--hours H] [--team N] [--gpu G] [--sensitive]"
    ),
    "deploy": (
        "%labadvisor deploy --users N [--nodes N] [--ha] [--sharing mig|time-slicing]\n"
        "                   [--k8s-experience yes|no] [--current compose|k3s]"
    ),
    "costs": "%labadvisor costs --hours H [--rate USD] [--local-monthly USD] [--days D] [--team N]",
}
USAGE_TEXT = "usage:\n" + "\n".join(f"  {line}" for line in USAGE.values()) + "\n"

EPILOG = """examples:
  %labadvisor runtime --model 13GB --workload code-generation --hours 6
  %labadvisor runtime --params 7 --dtype int4 --gpu 8 --sensitive
  %labadvisor deploy --users 80 --nodes 3 --ha --sharing mig --current compose
  %labadvisor costs --hours 6 --rate 0.5
  %labadvisor context offload          (this kernel only; --global for all terminals)
  %labadvisor gpu --panel              (live utilization and memory)"""


def _gpu_value(text: str) -> Any:
    named = {"auto": "auto", "none": None, "no": None, "false": None, "yes": True, "true": True}
    return named.get(text.strip().lower(), text)


def _yes_no(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("yes", "true", "y", "1"):
        return True
    if lowered in ("no", "false", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


@magics_class
class LabAdvisorMagics(Magics):
    @magic_arguments()
    @argument("command", nargs="?", choices=COMMANDS, help="what to show (default: dashboard)")
    @argument("target", nargs="?", help="context: local, offload or a context name")
    @argument("-h", "--help", action="store_true", help="show this help")
    # runtime
    @argument("--model", metavar="SIZE", help="runtime: model size, e.g. 13GB or 500MB")
    @argument("--params", type=float, metavar="BILLIONS", help="runtime: parameters (billions)")
    @argument("--preset", metavar="NAME", help="runtime: a model preset, e.g. llama-2-7b")
    @argument("--dtype", default="fp16", help="runtime: fp32, fp16, bf16, int8, int4")
    @argument("--workload", default="completion", help="runtime: e.g. code-generation, testing")
    @argument("--gpu", type=_gpu_value, default="auto", help="auto, none, yes, or free GB")
    @argument("--sensitive", action="store_true", help="runtime: code must stay local")
    # runtime and costs
    @argument("--hours", type=float, metavar="H", help="Offload hours per day")
    @argument("--team", type=int, default=1, metavar="N", help="team size")
    # costs
    @argument("--rate", type=float, metavar="USD", help="costs: Offload USD per hour")
    @argument("--local-monthly", type=float, metavar="USD", help="costs: local USD per month")
    @argument("--days", type=int, help="costs: days per month")
    # deploy
    @argument("--users", type=int, help="deploy: number of lab users")
    @argument("--nodes", type=int, default=1, help="deploy: number of servers")
    @argument("--ha", action="store_true", help="deploy: high availability needed")
    @argument("--sharing", metavar="MODE", help="deploy: GPU sharing, mig or time-slicing")
    @argument("--k8s-experience", type=_yes_no, metavar="yes|no", help="deploy: team knows k8s")
    @argument("--current", metavar="PLATFORM", help="deploy: platform in use (compose, k3s)")
    # context and gpu
    @argument("--global", dest="global_scope", action="store_true", help="context: all terminals")
    @argument("--no-check", action="store_true", help="context: do not ping the engine first")
    @argument("--refresh", action="store_true", help="gpu: detect again")
    @argument("--panel", action="store_true", help="gpu/context: show the interactive panel")
    @line_magic
    def labadvisor(self, line: str = "") -> Any:
        """Advice on where notebook AI/ML work runs and how a lab is deployed."""
        args = _parse(self.labadvisor, line)
        if args is None:
            return None
        command = args.command or "dashboard"
        try:
            _check_options(args, command)
            return _RUN[command](args)
        except UsageError as exc:
            raise UsageError(f"{exc}\n\nusage:\n  {USAGE[command]}") from None
        except ValueError as exc:
            raise UsageError(
                f"%labadvisor {command}: {exc}\n\nusage:\n  {USAGE[command]}"
            ) from None
        except Exception as exc:
            from labadvisor.contexts import ContextError

            if isinstance(exc, ContextError):
                raise UsageError(f"%labadvisor {command}: {exc}") from None
            raise


def _parse(magic: Any, line: str) -> argparse.Namespace | None:
    parser = magic.parser
    try:
        args = parse_argstring(magic, line)
    except UsageError as exc:
        raise UsageError(f"{exc}\n\n{USAGE_TEXT}Try %labadvisor --help.") from None
    except SystemExit:  # argparse exits on some errors; a magic must not
        raise UsageError(f"invalid arguments: {line!r}\n\n{USAGE_TEXT}") from None
    except ValueError as exc:  # unbalanced quotes, from the argument splitter
        raise UsageError(f"cannot split {line!r}: {exc}\n\n{USAGE_TEXT}") from None
    if args.help:
        print(parser.format_help())
        return None
    return args


def _check_options(args: argparse.Namespace, command: str) -> None:
    if command != "context" and args.target is not None:
        raise UsageError(
            f"unexpected argument {args.target!r} for %labadvisor {command}; only "
            "`%labadvisor context` takes a target (local, offload or a context name)"
        )
    defaults = {a.dest: a.default for a in LabAdvisorMagics.labadvisor.parser._actions}
    extra = [
        dest
        for dest, default in defaults.items()
        if dest not in ("command", "target", "help")
        and dest not in _OPTIONS[command]
        and getattr(args, dest) != default
    ]
    if extra:
        flags = ", ".join(
            "--" + ("global" if d == "global_scope" else d.replace("_", "-")) for d in extra
        )
        valid = ", ".join(
            "--" + ("global" if d == "global_scope" else d.replace("_", "-"))
            for d in sorted(_OPTIONS[command])
        )
        raise UsageError(
            f"{flags} {'does' if len(extra) == 1 else 'do'} not apply to %labadvisor {command}; "
            f"its options: {valid or 'none'}"
        )


def _dashboard(args: argparse.Namespace) -> Any:
    from labadvisor.widgets import dashboard

    return dashboard(gpu=args.gpu)


def _gpu(args: argparse.Namespace) -> Any:
    if args.panel:
        from labadvisor.widgets.gpu_view import GpuPanel

        panel = GpuPanel()
        if args.refresh:
            panel.state.refresh()
        return panel
    from labadvisor import gpu

    return gpu.detect(refresh=args.refresh)


def _context(args: argparse.Namespace) -> Any:
    from labadvisor import contexts

    if args.panel:
        if args.target is not None:
            raise UsageError("--panel shows the context panel; switch with its toggle instead")
        from labadvisor.widgets.context_view import ContextPanel

        return ContextPanel()
    if args.target is None:
        if args.global_scope or args.no_check:
            raise UsageError("--global and --no-check need a target: local, offload or a name")
        from IPython.display import display

        display(contexts.current())
        return contexts.list_contexts()
    scope = "global" if args.global_scope else "kernel"
    return contexts.use(args.target, scope=scope, check=not args.no_check)


def _runtime(args: argparse.Namespace) -> Any:
    from labadvisor.runtime import advise_runtime

    given = [flag for flag in ("model", "params", "preset") if getattr(args, flag) is not None]
    if len(given) != 1:
        raise UsageError(
            "%labadvisor runtime needs exactly one of --model SIZE, --params BILLIONS or "
            f"--preset NAME (got {', '.join('--' + g for g in given) or 'none'})"
        )
    params = args.params
    if args.preset is not None:
        from labadvisor.memory import find_preset

        params = find_preset(args.preset).params_b
    return advise_runtime(
        args.model,
        params_b=params,
        dtype=args.dtype,
        workload=args.workload,
        gpu=args.gpu,
        hours_per_day=args.hours,
        team_size=args.team,
        sensitive=args.sensitive,
    )


def _deploy(args: argparse.Namespace) -> Any:
    from labadvisor.deployment import advise_deployment

    if args.users is None:
        raise UsageError("%labadvisor deploy needs --users N (the number of lab users)")
    return advise_deployment(
        args.users,
        nodes=args.nodes,
        high_availability=args.ha,
        gpu_sharing=args.sharing,
        kubernetes_experience=args.k8s_experience,
        current=args.current,
    )


def _costs(args: argparse.Namespace) -> Any:
    from labadvisor.costs import monthly_costs

    if args.hours is None:
        raise UsageError("%labadvisor costs needs --hours H (Offload hours per day)")
    return monthly_costs(
        args.hours,
        offload_rate=args.rate,
        local_monthly=args.local_monthly,
        days=args.days,
        team_size=args.team,
    )


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.prog = "%labadvisor"
    # argparse %-formats the usage; "%(prog)s" becomes "%labadvisor" again.
    lines = (line.replace("%labadvisor", "%(prog)s") for line in USAGE.values())
    parser.usage = "\n" + "\n".join(f"  {line}" for line in lines)
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Where notebook AI/ML work should run (local CPU/GPU or Docker Offload) and how a lab "
        "is deployed (Docker Compose or K3s)."
    )


_configure(LabAdvisorMagics.labadvisor.parser)

_RUN = {
    "dashboard": _dashboard,
    "gpu": _gpu,
    "context": _context,
    "runtime": _runtime,
    "deploy": _deploy,
    "costs": _costs,
}


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%labadvisor``; loading again re-registers the same magic, harmlessly."""
    ipython.register_magics(LabAdvisorMagics)


def unload_ipython_extension(ipython: Any) -> None:
    ipython.magics_manager.magics["line"].pop("labadvisor", None)
