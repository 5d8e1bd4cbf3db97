"""The labadvisor console command, run as a real subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from command_lines import (
    HOSTILE_VALUES,
    argument_lists,
    command_shapes,
    make_hostile_home,
    sandboxed_process_state,
    strict_json,
)
from docker_engines import closed_port, isolate_docker_env, write_context
from fake_nvml import FakeProcess, GiB, l4
from gpu_fixtures import GpuContainer, InstallFake
from hypothesis import HealthCheck, given, settings

import labadvisor
from labadvisor import advise_deployment, advise_runtime, gpu, monthly_costs
from labadvisor.cli import main
from labadvisor.commands import (
    MEMORY_ASSUMPTIONS_HEADING,
    MEMORY_HEADING,
    CommandLineError,
    NoUsageLedger,
    Surface,
    build_parser,
    one_line,
    parse,
)
from labadvisor.explain import NOT_FOLLOWED_HEADING
from labadvisor.options import cost_options, deployment_options, runtime_options
from labadvisor.usage import Batch, GpuReading, HolderReading, Sample, SqliteLedger


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
    # A sentence first, as the panel has it (issue 13), then the detection's own words.
    assert text.returncode == 0 and text.stdout.startswith("This kernel ")
    assert gpu.detect().message.rstrip(".") in text.stdout.splitlines()[0]
    assert "GPU detection:" not in text.stdout
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


# Hostile input: one line and exit 2, never a traceback, never NaN or Infinity in JSON.

HUGE_INT = "9" * 400


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """Variables for a child process with its own Docker store and no override file."""
    config_dir = isolate_docker_env(monkeypatch, tmp_path)
    write_context(config_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("LABADVISOR_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return dict(os.environ)


def run_in(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "labadvisor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def assert_one_line_error(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert out.returncode == 2, out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr
    error = out.stderr.rstrip("\n").splitlines()[-1]
    assert ": error: " in error
    for word in words:
        assert word in error, error


@pytest.mark.parametrize("timeout", ["1e10", "0", "nan"])
def test_timeout_outside_its_range_exits_2_naming_it(
    isolated_env: dict[str, str], timeout: str
) -> None:
    out = run_in(isolated_env, "context", "use", "docker-cloud", "--timeout", timeout)
    assert_one_line_error(out, "--timeout", "more than 0 and at most 600 seconds")
    assert out.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["runtime", "--model", "1GB", "--team", HUGE_INT],
        ["costs", "--hours", "2", "--team", HUGE_INT],
        ["costs", "--hours", "2", "--days", HUGE_INT],
        ["deploy", "--users", HUGE_INT],
        ["deploy", "--users", "3", "--nodes", "-" + HUGE_INT],
    ],
)
def test_a_400_digit_integer_exits_2(isolated_env: dict[str, str], argv: list[str]) -> None:
    out = run_in(isolated_env, *argv)
    assert_one_line_error(out, "expected a whole number of at most 9007199254740992")
    assert "(400 characters)" in out.stderr or "(401 characters)" in out.stderr
    assert len(out.stderr.splitlines()[-1]) < 400  # the value is cut


@pytest.mark.parametrize(
    "argv",
    [
        ["costs", "--hours", "24", "--rate", "1e308", "--json"],
        ["costs", "--hours", "24", "--rate", "1e308"],
        ["runtime", "--params", "1e308", "--gpu", "none", "--json"],
    ],
)
def test_inputs_that_would_give_infinity_exit_2(
    isolated_env: dict[str, str], argv: list[str]
) -> None:
    out = run_in(isolated_env, *argv)
    assert_one_line_error(out)
    assert "Infinity" not in out.stdout and "inf" not in out.stdout


def _unreadable_file(tmp_path: Path) -> Path:
    # Root reads any mode; /proc/self/mem fails every read at offset 0 (EIO) for anyone.
    mem = Path("/proc/self/mem")
    if mem.exists():
        return mem
    path = tmp_path / "config.toml"
    path.write_text("")
    path.chmod(0)
    return path


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, ["cannot be read"]),
        (b"\xff\xfe not utf-8", ["is not UTF-8 text"]),
        (b"x = " + b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
        (b"x = [1,", ["is not valid TOML"]),
        (b'[offload-vs-local.costs.defaults]\noffload_rate = "x"\n', ["offload_rate must be"]),
        (b"[nonsense]\n", ["unknown data set(s) nonsense"]),
    ],
)
def test_an_unusable_override_file_exits_2_in_one_line(
    isolated_env: dict[str, str], tmp_path: Path, content: bytes | None, words: list[str]
) -> None:
    if content is None:
        path = _unreadable_file(tmp_path)
    else:
        path = tmp_path / "config.toml"
        path.write_bytes(content)
    env = {**isolated_env, "LABADVISOR_CONFIG": str(path)}
    for argv in (["costs", "--hours", "2"], ["runtime", "--model", "2GB", "--json"]):
        out = run_in(env, *argv)
        assert_one_line_error(out, f"the override file {path} ($LABADVISOR_CONFIG)", *words)
        assert out.stderr.count("\n") == 1
    # Commands that do not read the guides still work: leaving Offload needs no advice.
    assert run_in(env, "context", "use", "local", "--no-check").returncode == 0
    assert run_in(env, "runtime", "--help").returncode == 0


def test_values_quoted_in_messages_are_cut_to_100_characters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    huge = "x" * 2_000_000
    for argv in (
        ["runtime", "--model", huge],
        ["costs", "--hours", huge],
        ["deploy", "--users", "3", "--k8s-experience", huge],
        ["bogus" + huge],
        ["costs", "--hours", "2", huge],
        ["runtime", "--model", "2GB", "--workload", "a " * 500_000],
    ):
        assert main(argv) == 2
        error = capsys.readouterr().err.rstrip("\n").splitlines()[-1]
        assert len(error) < 600, argv[:2]
        assert "x" * 100 not in error and "a " * 100 not in error


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(argv=argument_lists("cli"))
def test_no_argument_list_gives_a_traceback_or_non_json(
    hostile_sandbox: Path, argv: list[str]
) -> None:
    with sandboxed_process_state(hostile_sandbox):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(argv)  # an exception here is a traceback in a terminal
    assert code in (0, 1, 2), (code, stderr.getvalue())
    if code == 0 and "--json" in argv and "--help" not in argv and "-h" not in argv:
        strict_json(stdout.getvalue())
    if code != 0:
        lines = stderr.getvalue().splitlines()
        assert lines and ": error: " in lines[-1]
        assert len(lines[-1]) < 1500, lines[-1][:200]


@pytest.fixture(scope="module")
def hostile_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hostile_home(tmp_path_factory)


# runtime: the inputs advise_runtime takes (issue 10).


def test_runtime_takes_every_input_of_advise_runtime(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "runtime", "--preset", "llama-2-13b", "--dtype", "int8", "--context-tokens", "2048",
        "--batch-size", "2", "--task", "lora", "--gpu", "16", "--interactive", "--team", "3",
        "--hours", "2",
    ]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    expected = advise_runtime(
        preset="llama-2-13b",
        dtype="int8",
        context_tokens=2048,
        batch_size=2,
        task="lora",
        gpu="16",
        interactive=True,
        team_size=3,
        hours_per_day=2.0,
    )  # fmt: skip  (--gpu is passed on as typed: the adviser reads "16")
    data = strict_json(capsys.readouterr().out)
    assert data == json.loads(json.dumps(expected.to_dict()))
    assert data["task"] == "lora" and data["memory"]["context_tokens"] == 2048
    assert data["workload_assumed"] is True  # no --workload: the default is marked assumed
    assert "latency.interactive" in {reason["rule"] for reason in data["reasons"]}


def test_runtime_offline_and_sensitive_never_give_offload(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for flag in ("--offline", "--sensitive"):
        assert main(["runtime", "--model", "13GB", "--gpu", "none", flag, "--json"]) == 0
        assert strict_json(capsys.readouterr().out)["choice"] != "offload", flag
    assert main(["runtime", "--model", "13GB", "--gpu", "none", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["choice"] == "offload"  # what the flags changed


def test_runtime_text_decides_first_then_what_was_overridden_then_the_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["runtime", "--model", "13GB", "--workload", "code-generation", "--gpu", "24"]) == 0
    out = capsys.readouterr().out
    advice = advise_runtime(13, workload="code-generation", gpu=24)
    assert out.startswith(str(advice))  # the advice's own text, unchanged
    lines = out.splitlines()
    why = lines.index("Why:")
    decided = advice.deciding_reason
    assert lines[why + 1] == f"  - {decided.text}"  # the deciding reason first
    assert NOT_FOLLOWED_HEADING in lines[why:]
    overridden = [r for r in advice.reasons if r.effect == "overridden"]
    assert overridden and all(f"  - {r.text}" in lines for r in overridden)
    assert lines.index(NOT_FOLLOWED_HEADING) > lines.index(f"  - {decided.text}")
    # The memory estimate the fit checks used: its sum in the details, its assumptions after.
    assert advice.memory is not None
    estimate = str(advice.memory).splitlines()
    assert estimate[0] in out
    assert MEMORY_ASSUMPTIONS_HEADING in lines or MEMORY_HEADING in lines
    for assumption in estimate[1:]:
        assert f"  {assumption.strip()}" in lines


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--task", "pretraining"], ["unknown task 'pretraining'", "inference, lora, qlora"]),
        (["--context-tokens", "many"], ["--context-tokens", "expected a whole number"]),
        (["--batch-size", "0"], ["batch_size"]),
        (["--dtype", "fp12"], ["fp12", "int4"]),
    ],
)
def test_runtime_bad_new_inputs_exit_2_naming_them(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    assert main(["runtime", "--model", "2GB", "--gpu", "none", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    for word in words:
        assert word in err.splitlines()[-1]


# gpu --processes (issue 14).


def test_gpu_processes_as_a_table_and_as_json(
    fake_nvml: InstallFake, gpu_device_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    me = os.getpid()
    fake_nvml([l4(0, processes=[FakeProcess(me, 3 * GiB, utilization=(81, 6))])])
    assert main(["gpu", "--processes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "GPU processes: 1 process(es) hold 3.2 GB on 1 GPU unit"
    assert lines[2].split() == ["DEVICE", "PID", "MEMORY", "SM", "HOLDER"]
    assert lines[3].split() == ["GPU", "0", str(me), "3.2", "GB", "81%", "this", "kernel"]
    assert main(["gpu", "--processes", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    expected = gpu.processes().to_dict()
    assert data.pop("read_at") and expected.pop("read_at")
    assert data == expected
    assert data["devices"][0]["processes"][0]["holder"] == "this-kernel"


@pytest.mark.docker
def test_gpu_processes_name_a_container_by_the_current_contexts_engine(
    fake_nvml: InstallFake, gpu_container: GpuContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_nvml([l4(0, processes=[FakeProcess(gpu_container.pid, 3 * GiB)])])
    assert main(["gpu", "--processes", "--json"]) == 0
    (process,) = strict_json(capsys.readouterr().out)["devices"][0]["processes"]
    assert (process["holder"], process["container_name"]) == ("container", gpu_container.name)
    assert main(["gpu", "--processes"]) == 0
    assert f"container {gpu_container.name}" in capsys.readouterr().out


def test_gpu_processes_without_nvml_say_why(
    nvml_backend: object, capsys: pytest.CaptureFixture[str]
) -> None:
    found = gpu.processes()
    if found.status == "ok":
        pytest.skip("this machine has NVML")
    assert main(["gpu", "--processes"]) == 0
    out = capsys.readouterr().out
    assert out == f"No GPU processes to list: {found.message}\n"


# usage (issue 15): read from the ledger, never created by a read.


@pytest.fixture
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "labadvisor" / "usage.sqlite3"


def test_usage_without_a_ledger_says_so_in_one_line_and_creates_nothing(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["usage"]) == 0
    out, err = capsys.readouterr()
    assert out == NoUsageLedger(str(data_home)).message + "\n" and err == ""
    assert out.startswith(f"No usage recorded yet: there is no usage ledger at {data_home} ")
    assert main(["usage", "--days", "7", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    assert data["has_data"] is False and data["location"] == str(data_home)
    assert not data_home.exists() and not data_home.parent.parent.exists()


def test_usage_with_an_empty_ledger_says_so_in_one_line(
    data_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_home.parent.mkdir(parents=True)
    with SqliteLedger(data_home) as ledger:
        assert ledger.write(Batch(()))
    assert main(["usage", "--days", "7"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("No usage recorded yet: the usage ledger at ")
    assert main(["usage", "--json"]) == 0
    assert strict_json(capsys.readouterr().out)["has_data"] is False


def test_usage_summarises_the_ledger(data_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from labadvisor.usage import summary

    data_home.parent.mkdir(parents=True)
    start = int(time.time() // 60 * 60) - 3600
    holders = (HolderReading("GPU 0", "train.ipynb", 5 * 10**9, "k-1"),)
    samples = [
        Sample(ts, 60.0, "alice", "host", (GpuReading("GPU 0", 90, 6 * 10**9, 10**10),), holders)
        for ts in range(start, start + 1800, 60)
    ]
    with SqliteLedger(data_home) as ledger:
        assert ledger.write(Batch(tuple(samples)))
    assert main(["usage", "--days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Usage over the last 7 days") and "GPU busy" in out[0]
    assert out[1:] == ["Peak GPU memory:", "  train.ipynb: 5.0 GB"]
    assert main(["usage", "--days", "7", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    expected = summary(7, data_home).to_dict()
    assert data["has_data"] is True and data["sampled_hours"] == expected["sampled_hours"]
    assert data["peak_gpu_memory_gb"] == {"train.ipynb": 5.0}


@pytest.mark.parametrize("days", ["0", "3661", "-1", "x"])
def test_usage_days_out_of_range_exit_2(
    data_home: Path, capsys: pytest.CaptureFixture[str], days: str
) -> None:
    assert main(["usage", f"--days={days}"]) == 2
    assert "--days" in capsys.readouterr().err.splitlines()[-1]
    assert not data_home.exists()


# usage --lab (issue 16): the lab's ledger, by URL or $LABADVISOR_USAGE_URL.


def test_usage_lab_summarises_a_lab_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from labadvisor.usage import lab_summary
    from labadvisor.usage.demo import demo_lab

    path = demo_lab(tmp_path / "lab.sqlite3", users=4, days=2)
    assert main(["usage", "--lab", str(path), "--days", "2"]) == 0
    assert capsys.readouterr().out == f"{lab_summary(path, 2)}\n"
    monkeypatch.setenv("LABADVISOR_USAGE_URL", str(path))
    assert main(["usage", "--days", "2", "--lab", "--json"]) == 0  # --lab alone: the variable
    data = strict_json(capsys.readouterr().out)
    assert data["location"] == str(path)
    assert data["active_users"] == lab_summary(path, 2).active_users > 0
    missing = tmp_path / "missing.sqlite3"
    assert main(["usage", "--lab", str(missing)]) == 2
    assert f"no usage ledger at {missing}" in capsys.readouterr().err
    assert not missing.exists()


def test_usage_lab_never_shows_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://bob:s3cret@127.0.0.1:{closed_port()}/lab"
    for argv in (
        ["usage", "--lab", url],  # the database does not answer: exit 1
        ["usage", "--days", "2", url],  # misplaced: quoted in the usage error
        ["usage", f"--lab={url}", "--days=0"],
    ):
        code = main(argv)
        out, err = capsys.readouterr()
        assert code in (1, 2) and out == "", argv
        assert "s3cret" not in err and ("bob:***@127.0.0.1" in err or "--days" in err), err


# deploy, costs and runtime: the inputs of issue 11.


def test_deploy_takes_every_input_of_advise_deployment(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "deploy", "--users", "40", "--concurrent-users", "60", "--expected-users", "120",
        "--nodes", "2", "--sharing", "mig", "--gpu", "A100", "--gpu-count", "4",
        "--trigger", "load-balancing", "--trigger", "GPU scheduling conflicts",
        "--k8s-experience", "yes", "--current", "compose", "--prefer", "k3s",
        "--ops-rate", "40", "--server-monthly", "120",
    ]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    expected = advise_deployment(
        40, concurrent_users=60, expected_users=120, nodes=2, gpu_sharing="mig", gpu="A100",
        gpu_count=4, migration_triggers=["load-balancing", "GPU scheduling conflicts"],
        kubernetes_experience=True, current="compose", prefer="k3s", ops_hourly_rate=40,
        server_monthly=120,
    )  # fmt: skip
    data = strict_json(capsys.readouterr().out)
    assert data == json.loads(json.dumps(expected.to_dict()))
    assert data["concurrent_users"] == 60 and data["expected_users"] == 120
    assert data["triggers"] == expected.to_dict()["triggers"] != []
    assert main(argv) == 0
    assert capsys.readouterr().out == f"{expected}\n"  # the plan, as print(advice) shows it


def test_deploy_text_keeps_a_working_k3s_and_shows_the_way_back_from_a_broken_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["deploy", "--users", "20", "--current", "k3s", "--k8s-experience", "yes"]) == 0
    working = capsys.readouterr().out
    assert working.startswith("Deployment advice: K3s")
    assert "You run K3s and it works: stay on K3s" in working
    assert main(["deploy", "--users", "20", "--current", "k3s", "--current-broken"]) == 0
    broken = capsys.readouterr().out
    assert broken.startswith("Deployment advice: Docker Compose")
    assert (
        "Migration k3s → docker-compose:" in broken and "Rollback (docker-compose → k3s)" in broken
    )
    assert broken == f"{advise_deployment(20, current='k3s', current_ok=False)}\n"


def test_deploy_growing_lab_shows_the_monthly_cost_of_each_platform(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["deploy", "--users", "30", "--expected-users", "120", "--current", "compose"]
    assert main([*argv, "--ops-rate", "60"]) == 0
    out = capsys.readouterr().out
    expected = advise_deployment(30, expected_users=120, current="compose", ops_hourly_rate=60)
    assert out == f"{expected}\n"
    assert "Per month: Docker Compose $" in out and "at $60/h" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (
            ["--trigger", "cosmic-rays"],
            ["unknown migration trigger 'cosmic-rays'", "load-balancing"],
        ),
        (["--prefer", "nomad"], ["nomad", "k3s"]),
        (["--gpu-count", "-1"], ["gpu_count", "at least 0"]),
        (["--gpu-count", "two"], ["--gpu-count", "expected a whole number"]),
        (["--concurrent-users", "0"], ["concurrent_users"]),
        (["--expected-users", "1.5"], ["--expected-users", "expected a whole number"]),
        (["--ops-rate", "nan"], ["nan"]),
        (["--server-monthly", "-5"], ["server_monthly"]),
        (["--ops-rate", "1e308", "--json"], ["too large"]),
        (["--gpu", ""], ["gpu must be None, 'auto'"]),
    ],
)
def test_deploy_bad_new_inputs_exit_2_naming_them(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    assert main(["deploy", "--users", "5", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    for word in words:
        assert word in err.splitlines()[-1], err


def test_deploy_current_broken_needs_a_current_platform(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["deploy", "--users", "5", "--current-broken"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: labadvisor deploy")
    assert err.splitlines()[-1].endswith("--current-broken needs --current PLATFORM (the "
                                         "platform that is not working)")  # fmt: skip


def test_deploy_gpu_auto_checks_this_machines_gpus(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--users", "5", "--gpu", "auto", "--sharing", "mig", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    expected = advise_deployment(5, gpu="auto", gpu_sharing="mig").to_dict()
    assert data["gpu"] == json.loads(json.dumps(expected["gpu"]))


def test_costs_takes_every_input_of_monthly_costs(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "costs", "--hours", "6,2,4", "--rate", "0.8", "--days", "22", "--hardware", "buy-gpu",
        "--local-monthly", "60", "--hardware-price", "2400", "--amortize-months", "36",
        "--storage-gb", "50",
    ]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    expected = monthly_costs(
        [6, 2, 4], offload_rate=0.8, days=22, hardware="buy-gpu", local_monthly=60,
        hardware_price=2400, amortize_months=36, storage_gb=50,
    )  # fmt: skip
    data = strict_json(capsys.readouterr().out)
    assert data == json.loads(json.dumps(expected.to_dict()))
    assert data["member_hours"] == [6, 2, 4] and data["team_size"] == 3
    assert data["hardware"] == "buy-gpu" and data["amortize_months"] == 36
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out == f"{expected}\n"
    # The band, and the plan for the GPU bought (its payback, or that it never pays).
    assert "across the guide's rates: " in out and "6, 2, 4 h/day" in out
    assert "buying a GPU" in out and ("pays for itself" in out)


@pytest.mark.parametrize(
    ("hardware", "words"),
    [
        ("owned-gpu", ["your owned GPU workstation"]),
        ("buy-gpu", ["buying a GPU", "pays for itself"]),
        ("cpu-only", ["this machine's CPU", "adds no GPU cost"]),
    ],
)
def test_costs_hardware_names_the_local_option(
    capsys: pytest.CaptureFixture[str], hardware: str, words: list[str]
) -> None:
    assert main(["costs", "--hours", "6", "--team", "3", "--hardware", hardware]) == 0
    out = capsys.readouterr().out
    assert out == f"{monthly_costs(6, team_size=3, hardware=hardware)}\n"
    for word in words:
        assert word in out
    if hardware == "cpu-only":
        assert "is cheaper" not in out.split(";")[1]  # never "local is cheaper" for a CPU


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--hours", "6,x,4"], ["--hours", "'x' in '6,x,4' is not a number"]),
        (["--hours", "6,"], ["--hours", "'' in '6,' is not a number"]),
        (["--hours", "6,30"], ["hours_per_day must be between 0 and 24, got 30.0"]),
        (["--hours", "6,2", "--team", "3"], ["team_size is 3", "lists 2 members"]),
        (["--hours", "2", "--hardware", "rented-gpu"], ["'rented-gpu'", "buy-gpu", "cpu-only"]),
        (["--hours", "2", "--hardware-price", "900"], ["apply to hardware='buy-gpu' only"]),
        (["--hours", "2", "--hardware", "buy-gpu", "--amortize-months", "0"], ["amortize_months"]),
        (["--hours", "2", "--amortize-months", "1.5"], ["--amortize-months", "whole number"]),
        (["--hours", "2", "--storage-gb", "-1"], ["storage_gb must be at least 0"]),
        (["--hours", "2", "--storage-gb", "inf"], ["storage_gb must be a finite number"]),
    ],
)
def test_costs_bad_new_inputs_exit_2_naming_them(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: list[str]
) -> None:
    assert main(["costs", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    for word in words:
        assert word in err.splitlines()[-1], err


def test_runtime_hardware_is_passed_to_the_cost_comparison(
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = ["runtime", "--model", "13GB", "--gpu", "none", "--hours", "6"]
    assert main([*base, "--hardware", "buy-gpu", "--json"]) == 0
    data = strict_json(capsys.readouterr().out)
    expected = advise_runtime("13GB", gpu=None, hours_per_day=6, hardware="buy-gpu").to_dict()
    assert data == json.loads(json.dumps(expected))
    assert data["cost"]["hardware"] == "buy-gpu"
    assert main([*base, "--json"]) == 0  # no --hardware: what the GPU check found (none)
    assert strict_json(capsys.readouterr().out)["cost"]["hardware"] == "cpu-only"
    assert main([*base, "--hardware", "gpu-farm"]) == 2
    assert "unknown hardware 'gpu-farm'" in capsys.readouterr().err


@pytest.mark.parametrize("spelling", ["measured", "Measured", " MEASURED "])
def test_hours_measured_is_passed_to_the_library(spelling: str) -> None:
    parser = build_parser("cli")
    costs = parse(parser, ["costs", "--hours", spelling])
    runtime = parse(parser, ["runtime", "--model", "2GB", "--hours", spelling])
    assert costs.hours == runtime.hours == "measured"
    assert parse(parser, ["costs", "--hours", "6,2"]).hours == [6.0, 2.0]
    with pytest.raises(CommandLineError, match="expected a number of hours per day or measured"):
        parse(parser, ["runtime", "--model", "2GB", "--hours", "6,2"])  # one number: no list


# "measured" is typed as the library's hours_per_day will take it (issue 15).
MEASURED: Any = "measured"


def _library_answer(call: Callable[[], object]) -> tuple[int, str]:
    # What the CLI must show for this call: its text (exit 0) or its ValueError (exit 2).
    try:
        return 0, str(call())
    except ValueError as exc:
        return 2, one_line(str(exc))


@pytest.mark.parametrize(
    ("argv", "call"),
    [
        (["costs", "--hours", "measured"], lambda: monthly_costs(MEASURED)),
        (
            ["costs", "--hours", "measured", "--hardware", "cpu-only"],
            lambda: monthly_costs(MEASURED, hardware="cpu-only"),
        ),
        (
            ["runtime", "--model", "2GB", "--gpu", "none", "--hours", "measured"],
            lambda: advise_runtime(2, gpu=None, hours_per_day=MEASURED),
        ),
    ],
)
def test_hours_measured_answers_as_the_library_does(
    data_home: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    call: Callable[[], object],
) -> None:
    # Whatever the library answers for "measured" (an error before it reads the ledger, or
    # the ledger's hours, or "no data yet" here: an empty data home), the CLI says the same.
    status, expected = _library_answer(call)
    assert main(argv) == status
    out, err = capsys.readouterr()
    if status == 0:
        assert out.startswith(expected)
    else:
        assert out == "" and err.splitlines()[-1].endswith(f": error: {expected}")


def test_help_lists_the_new_choices_from_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deploy", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("-\n", "-").split()).replace("- ", "-")
    options = deployment_options()
    for name in ("migration_triggers", "prefer"):
        for label, value in options[name]:
            assert (value or label) in text, value
    for _, value in options["gpu"]:
        if value not in (None, "auto"):
            assert value in text
    for command in ("costs", "runtime"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        for label, value in cost_options()["hardware"]:
            assert f"{value} ({label})" in text


NEW_OPTIONS = {
    "deploy": (
        "--concurrent-users", "--expected-users", "--trigger", "--gpu", "--gpu-count",
        "--current-broken", "--prefer", "--ops-rate", "--server-monthly",
    ),
    "costs": (
        "--hours", "--hardware", "--hardware-price", "--amortize-months", "--storage-gb",
    ),
    "runtime": ("--hours", "--hardware"),
}  # fmt: skip
# Each new option after words that reach the adviser (--current-broken needs --current).
BASE = {
    "deploy": ["deploy", "--users", "3", "--current", "k3s"],
    "costs": ["costs", "--hours", "2", "--hardware", "buy-gpu"],
    "runtime": ["runtime", "--model", "2GB", "--gpu", "none", "--hours", "2"],
}


@pytest.mark.parametrize("surface", ["cli", "magic"])
def test_the_property_tests_draw_the_new_options(surface: Surface) -> None:
    shapes = dict((tuple(words), options) for words, options in command_shapes(surface))
    for command, names in NEW_OPTIONS.items():
        drawn = {option for option, _ in shapes[(command,)]}
        assert set(names) <= drawn, command
    assert {"6,2,4", "measured", "buy-gpu", "load-balancing", "A100"} <= set(HOSTILE_VALUES)


@pytest.mark.parametrize(
    ("command", "option"),
    [(command, option) for command, names in NEW_OPTIONS.items() for option in names],
)
def test_each_new_option_with_each_hostile_value_exits_cleanly(
    hostile_sandbox: Path, command: str, option: str
) -> None:
    takes_value = option != "--current-broken"
    values = HOSTILE_VALUES if takes_value else ("",)
    for value in values:
        for json_flag in ([], ["--json"]):
            argv = [*BASE[command], *([f"{option}={value}"] if takes_value else [option])]
            argv += json_flag
            with sandboxed_process_state(hostile_sandbox):
                stdout, stderr = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    code = main(argv)
            assert code in (0, 2), (argv[-2:], code, stderr.getvalue()[-300:])
            if code == 0 and json_flag:
                strict_json(stdout.getvalue())
            if code != 0:
                lines = stderr.getvalue().splitlines()
                assert stdout.getvalue() == "" and ": error: " in lines[-1]
                assert len(lines[-1]) < 1500, lines[-1][:200]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["costs", "--hours", "2", "--ha"], "--ha does not apply to labadvisor costs"),
        (["costs", "--hours", "2", "--hard", "cpu-only"], "unrecognized arguments: --hard"),
        (["deploy", "--users", "5", "--current-b"], "unrecognized arguments: --current-b"),
    ],
)
def test_options_are_taken_only_as_spelled_in_full(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    # With abbreviations, `costs --ha` was a guess among --hardware and --hardware-price.
    assert main(argv) == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("surface", ["cli", "magic"])
def test_the_advice_examples_in_the_help_run(
    surface: Surface, capsys: pytest.CaptureFixture[str]
) -> None:
    import shlex

    epilog = build_parser(surface).epilog or ""
    examples = [
        shlex.split(line.split("   (")[0])[1:]
        for line in epilog.splitlines()[1:]
        if line.split()[1] in ("runtime", "deploy", "costs")
    ]
    assert len(examples) >= 7
    for argv in examples:
        assert main([*argv, "--json"]) == 0, argv
        strict_json(capsys.readouterr().out)
