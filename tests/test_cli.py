"""The labadvisor console command, run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys


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
