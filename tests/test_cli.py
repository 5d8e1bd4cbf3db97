"""The labadvisor console command, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import labadvisor
from labadvisor import advise_runtime, gpu
from labadvisor.cli import main
from labadvisor.commands import Surface, build_parser
from labadvisor.options import deployment_options, runtime_options


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labadvisor", *args], capture_output=True, text=True, timeout=60
    )


def test_runtime_command_prints_advice() -> None:
    out = run(
        "runtime",
        "--model",
        "13GB",
        "--workload",
        "code-generation",
        "--hours",
        "6",
        "--gpu",
        "none",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Runtime advice: Docker Offload")
    assert "break-even at 5.0 h/day" in out.stdout


def test_runtime_json() -> None:
    out = run("runtime", "--params", "7", "--dtype", "int4", "--gpu", "8", "--json")
    data = json.loads(out.stdout)
    assert data["choice"] == "local-gpu" and data["size_gb"] == 3.5


def test_deploy_and_costs_json() -> None:
    deploy = json.loads(run("deploy", "--users", "80", "--nodes", "2", "--json").stdout)
    assert deploy["choice"] == "k3s"
    assert {"deploy.users", "deploy.multi-node"} <= {r["rule"] for r in deploy["reasons"]}
    costs = json.loads(run("costs", "--hours", "6", "--json").stdout)
    assert costs["cheaper"] == "local" and costs["breakeven_hours_per_day"] == 5.0


def test_deploy_with_migration_text() -> None:
    out = run("deploy", "--users", "60", "--current", "compose", "--k8s-experience", "no")
    assert out.returncode == 0
    assert "Migration docker-compose → k3s" in out.stdout and "Warnings:" in out.stdout


def test_bad_input_exits_2_with_a_message_and_no_traceback() -> None:
    for args, message in [
        (("costs", "--hours", "30"), "hours_per_day must be between 0 and 24, got 30.0"),
        (("runtime", "--model", "13GB", "--workload", "poetry"), "unknown workload 'poetry'"),
        (("deploy", "--users", "0"), "users must be a whole number"),
        (("deploy", "--users", "5", "--sharing", "vgpu"), "valid values: None, mig, time-slicing"),
        (("runtime", "--model", "huge"), "'huge' is not a size"),
        (("runtime", "--model=-5GB"), "model_size_gb must be at least 0, got '-5GB'"),
    ]:
        out = run(*args)
        assert out.returncode == 2, args
        assert message in out.stderr
        assert "Traceback" not in out.stderr
    usage = run("runtime")
    assert usage.returncode == 2 and "usage:" in usage.stderr and "Traceback" not in usage.stderr


def test_version_prints_the_package_version() -> None:
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"labadvisor {labadvisor.__version__}"


def test_gpu_command_reports_detection_as_text_or_json() -> None:
    text = run("gpu", "--refresh")
    assert text.returncode == 0 and text.stdout.startswith("GPU detection")
    data = json.loads(run("gpu", "--json").stdout)
    assert data["status"] == gpu.detect().status  # this machine, as the library sees it


def test_preset_and_shell_quoted_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runtime", "--preset", "llama-2-13b", "--gpu", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["size_gb"] == pytest.approx(26.0, abs=0.1)
    quoted = ["runtime", "--model", "13 GB", "--workload", "code generation", "--gpu", "none"]
    assert main([*quoted, "--json"]) == 0
    expected = advise_runtime("13 GB", workload="code generation", gpu=None).to_dict()
    assert json.loads(capsys.readouterr().out) == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runtime", "--model", "2GB", "--users", "3"], "--users does not apply to labadvisor "),
        (["runtime", "--model", "2GB", "--params", "3"], "got --model, --params"),
        (["deploy"], "needs --users N"),
        (["gpu", "local"], "only `labadvisor context` takes a target"),
        (["costs", "--hours", "2", "--frobnicate"], "unrecognized arguments: --frobnicate"),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_usage_errors_print_the_command_usage_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    usage, error = err.rstrip("\n").rsplit("\n", 1)
    assert out == "" and usage.startswith("usage:") and "labadvisor" in usage
    assert error.startswith("labadvisor") and ": error: " in error and message in error


def test_help_lists_the_choices_the_advisers_accept(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runtime", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("preset", "dtype", "workload"):
        for _, value in runtime_options()[name]:
            assert value in text, value
    assert main(["deploy", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for name in ("gpu_sharing", "current"):
        for label, value in deployment_options()[name]:
            assert (value or label) in text


@pytest.mark.parametrize("surface", ["cli", "magic"])
def test_each_usage_line_names_every_option_of_its_command(surface: Surface) -> None:
    parser = build_parser(surface)
    commands = dict.fromkeys(parser.subcommands.values())
    nested = [sub for command in commands for sub in command.subcommands.values()]
    for command in [*commands, *nested]:
        usage = command.format_usage()
        missing = [name for name in command.own_options() if name not in usage]
        assert not missing, f"{command.prog}: {missing} not in {usage}"


def test_the_cli_and_the_magic_share_one_grammar() -> None:
    cli, magic = build_parser("cli"), build_parser("magic")
    assert set(magic.subcommands) == {*cli.subcommands, "dashboard"}
    for name, command in cli.subcommands.items():
        surface_only = {"--json", "--panel"}
        assert set(command.own_options()) - surface_only == (
            set(magic.subcommands[name].own_options()) - surface_only
        ), name
