"""The labadvisor console command, run as a real subprocess."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from command_lines import (
    argument_lists,
    make_hostile_home,
    sandboxed_process_state,
    strict_json,
)
from docker_engines import closed_port, isolate_docker_env, write_context
from fake_nvml import FakeProcess, GiB, l4
from gpu_fixtures import InstallFake
from hypothesis import HealthCheck, given, settings

import labadvisor
from labadvisor import advise_runtime, gpu
from labadvisor.cli import main
from labadvisor.commands import (
    MEMORY_ASSUMPTIONS_HEADING,
    MEMORY_HEADING,
    NoUsageLedger,
    Surface,
    build_parser,
)
from labadvisor.explain import NOT_FOLLOWED_HEADING
from labadvisor.options import deployment_options, runtime_options
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
