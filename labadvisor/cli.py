"""The ``labadvisor`` command: runtime, deploy, costs and context sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any


def _gpu_argument(value: str) -> Any:
    lowered = value.strip().lower()
    named = {"auto": "auto", "none": None, "no": None, "false": None, "yes": True, "true": True}
    return named.get(lowered, value)


def _yes_no(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("yes", "true", "1", "y"):
        return True
    if lowered in ("no", "false", "0", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labadvisor",
        description="Where to run AI/ML work (local CPU/GPU or Docker Offload) and how to "
        "deploy a multi-user lab (Docker Compose or K3s).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    runtime = sub.add_parser("runtime", help="local CPU, local GPU or Docker Offload?")
    size = runtime.add_mutually_exclusive_group(required=True)
    size.add_argument("--model", metavar="SIZE", help="model size, e.g. 13GB or 500MB")
    size.add_argument("--params", type=float, metavar="BILLIONS", help="parameters in billions")
    runtime.add_argument(
        "--dtype", default="fp16", help="with --params: fp32, fp16, bf16, int8, int4"
    )
    runtime.add_argument("--workload", default="completion", help="e.g. code-generation, testing")
    runtime.add_argument("--hours", type=float, metavar="H", help="Offload hours per day (costs)")
    runtime.add_argument("--team", type=int, default=1, help="team size")
    runtime.add_argument(
        "--gpu",
        type=_gpu_argument,
        default="auto",
        help="auto (detect), none, yes, or free GPU memory in GB",
    )
    runtime.add_argument("--sensitive", action="store_true", help="code must not leave the machine")
    runtime.add_argument("--json", action="store_true", help="print JSON")
    runtime.set_defaults(func=_run_runtime)

    deploy = sub.add_parser("deploy", help="Docker Compose or K3s?")
    deploy.add_argument("--users", type=int, required=True)
    deploy.add_argument("--nodes", type=int, default=1)
    deploy.add_argument("--ha", action="store_true", help="high availability needed")
    deploy.add_argument("--sharing", help="GPU sharing: mig or time-slicing")
    deploy.add_argument("--k8s-experience", type=_yes_no, metavar="yes|no")
    deploy.add_argument("--current", help="platform in use now: docker-compose or k3s")
    deploy.add_argument("--json", action="store_true", help="print JSON")
    deploy.set_defaults(func=_run_deploy)

    costs = sub.add_parser("costs", help="monthly cost: local vs Docker Offload")
    costs.add_argument("--hours", type=float, required=True, metavar="H")
    costs.add_argument("--rate", type=float, help="Offload USD per hour")
    costs.add_argument("--local-monthly", type=float, help="local USD per month")
    costs.add_argument("--days", type=int, help="days per month")
    costs.add_argument("--team", type=int, default=1)
    costs.add_argument("--json", action="store_true", help="print JSON")
    costs.set_defaults(func=_run_costs)

    try:
        from labadvisor.cli_context import add_context_parser
    except ImportError:  # the context commands ship with labadvisor.contexts
        pass
    else:
        add_context_parser(sub)
    return parser


def _emit(result: Any, as_json: bool) -> None:
    print(json.dumps(result.to_dict(), indent=2) if as_json else str(result))


def _run_runtime(args: argparse.Namespace) -> int:
    from labadvisor.runtime import advise_runtime

    advice = advise_runtime(
        args.model,
        params_b=args.params,
        dtype=args.dtype,
        workload=args.workload,
        gpu=args.gpu,
        hours_per_day=args.hours,
        team_size=args.team,
        sensitive=args.sensitive,
    )
    _emit(advice, args.json)
    return 0


def _run_deploy(args: argparse.Namespace) -> int:
    from labadvisor.deployment import advise_deployment

    advice = advise_deployment(
        args.users,
        nodes=args.nodes,
        high_availability=args.ha,
        gpu_sharing=args.sharing,
        kubernetes_experience=args.k8s_experience,
        current=args.current,
    )
    _emit(advice, args.json)
    return 0


def _run_costs(args: argparse.Namespace) -> int:
    from labadvisor.costs import monthly_costs

    _emit(
        monthly_costs(
            args.hours,
            days=args.days,
            local_monthly=args.local_monthly,
            offload_rate=args.rate,
            team_size=args.team,
        ),
        args.json,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as exc:
        print(f"labadvisor {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
