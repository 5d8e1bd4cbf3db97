"""`labadvisor context` and `labadvisor context use`: output, exit codes, one-line errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docker_engines import FakeEngine, closed_port, isolate_docker_env, write_context

from labadvisor.cli import main
from labadvisor.cli_context import (
    SET_ASIDE_VARIABLE as SET_ASIDE,
)
from labadvisor.cli_context import (
    add_context_parser,
    handle_context_list,
    handle_context_use,
)


@pytest.fixture
def config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    directory = isolate_docker_env(monkeypatch, tmp_path)
    monkeypatch.delenv(SET_ASIDE, raising=False)  # in-process switches export it
    write_context(directory, "docker-cloud", "tcp://127.0.0.1:2999", "Docker Offload")
    return directory


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="labadvisor")
    add_context_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_handlers_are_wired_by_set_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="labadvisor")
    add_context_parser(parser.add_subparsers(dest="command", required=True))
    assert parser.parse_args(["context"]).func is handle_context_list
    assert parser.parse_args(["context", "ls"]).func is handle_context_list
    assert parser.parse_args(["context", "use", "offload"]).func is handle_context_use


def test_list_prints_a_table_and_what_decided(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir / "config.json").write_text('{"currentContext": "docker-cloud"}')
    code, out, err = run(capsys, "context")
    lines = out.splitlines()
    assert code == 0 and err == ""
    assert lines[0].split() == ["CONTEXT", "ROLE", "TLS", "ENDPOINT", "DESCRIPTION"]
    assert lines[1].split()[:4] == ["default", "local", "no", "unix:///var/run/docker.sock"]
    assert lines[2].split() == [
        "docker-cloud", "*", "offload", "no", "tcp://127.0.0.1:2999", "Docker", "Offload",
    ]  # fmt: skip
    assert lines[3] == f"current: docker-cloud (currentContext in {config_dir / 'config.json'})"


@pytest.mark.parametrize(
    "argv", [("context", "--json"), ("context", "ls", "--json"), ("context", "--json", "list")]
)
def test_list_json(
    config_dir: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, out, _ = run(capsys, *argv)
    payload = json.loads(out)
    assert code == 0
    assert [c["name"] for c in payload["contexts"]] == ["default", "docker-cloud"]
    assert payload["current"]["name"] == "default" and payload["current"]["source"] == "default"


def test_use_without_global_prints_shell_lines(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.environ["DOCKER_HOST"] = "tcp://10.0.0.5:2375"
    code, out, err = run(capsys, "context", "use", "offload", "--no-check")
    assert code == 0
    assert out.splitlines() == [
        "unset DOCKER_HOST",
        "export DOCKER_CONTEXT=docker-cloud",
        f'export {SET_ASIDE}=\'{{"DOCKER_HOST": "tcp://10.0.0.5:2375"}}\'',
    ]
    assert 'eval "$(labadvisor context use offload)"' in err
    assert not (config_dir / "config.json").exists()


def test_eval_of_the_output_switches_a_real_shell(config_dir: Path) -> None:
    """End to end through `python -m labadvisor`, a bash `eval`, and the docker CLI."""
    docker_cli = "/usr/bin/docker"
    if not os.access(docker_cli, os.X_OK):
        pytest.skip("no /usr/bin/docker (Debian package docker.io)")
    script = (
        f'eval "$({sys.executable} -m labadvisor context use offload --no-check)" && '
        f'echo "host=${{DOCKER_HOST:-unset}}" && '
        f"{docker_cli} context ls --format '{{{{if .Current}}}}{{{{.Name}}}}{{{{end}}}}'"
    )
    env = {**os.environ, "DOCKER_HOST": "tcp://10.0.0.5:2375"}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line] == ["host=unset", "docker-cloud"]


def test_use_global_writes_config_json(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "context", "use", "docker-cloud", "--global", "--no-check")
    assert code == 0 and err == ""
    assert out.startswith("Switched to docker-cloud (offload, tcp://127.0.0.1:2999) for all")
    assert json.loads((config_dir / "config.json").read_text())["currentContext"] == "docker-cloud"
    code, out, _ = run(capsys, "context", "use", "local", "--global", "--json", "--no-check")
    assert code == 0
    payload = json.loads(out)
    assert (payload["context"], payload["scope"], payload["previous"]) == (
        "default",
        "global",
        "docker-cloud",
    )


def test_use_with_a_check_that_succeeds(
    config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeEngine(unix_path=tmp_path / "e.sock") as fake:
        write_context(config_dir, "lab", fake.host)
        code, out, _ = run(capsys, "context", "use", "lab", "--json")
    assert code == 0 and json.loads(out)["checked"] is True


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (("use", "nope"), 2, ["'nope'", "valid contexts: default, docker-cloud"]),
        (("use", "bad name"), 2, ["'bad name'", "must match"]),
        (("use", "docker-cloud", "--timeout", "0"), 2, ["timeout"]),
        (("use", "docker-cloud", "--timeout", "0.3"), 1, ["'docker-cloud'", "tcp://127.0.0.1"]),
    ],
)
def test_errors_are_one_line_with_an_exit_code(
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    code: int,
    words: list[str],
) -> None:
    write_context(config_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
    got, out, err = run(capsys, "context", *argv)
    assert got == code and out == ""
    assert err.count("\n") == 1 and err.startswith("labadvisor context use: error: ")
    assert "Traceback" not in err
    for word in words:
        assert word in err


def test_ambiguous_role_is_bad_input(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (config_dir / "contexts").rename(config_dir / "old-contexts")
    write_context(config_dir, "cloud-a", "unix:///home/u/.docker/cloud/a.sock")
    write_context(config_dir, "cloud-b", "unix:///home/u/.docker/cloud/b.sock")
    code, _, err = run(capsys, "context", "use", "offload", "--no-check")
    assert code == 2 and "cloud-a, cloud-b" in err


def test_broken_store_or_config_exit_1(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_dir / "config.json").write_text("{")
    code, _, err = run(capsys, "context", "use", "docker-cloud", "--no-check", "--global")
    assert code == 1 and "not valid JSON" in err and err.count("\n") == 1
    code, _, err = run(capsys, "context")
    assert code == 1 and err.startswith("labadvisor context: error: ")


def test_main_entry_point_dispatches_to_the_handlers(config_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labadvisor", "context", "use", "nope"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("labadvisor context use: error: no Docker context named 'nope'")


def test_use_may_be_left_out(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.environ["DOCKER_HOST"] = "tcp://10.0.0.5:2375"
    assert main(["context", "offload", "--no-check"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "unset DOCKER_HOST",
        "export DOCKER_CONTEXT=docker-cloud",
        f'export {SET_ASIDE}=\'{{"DOCKER_HOST": "tcp://10.0.0.5:2375"}}\'',
    ]
    assert main(["context", "--global", "docker-cloud", "--no-check"]) == 0
    assert json.loads((config_dir / "config.json").read_text())["currentContext"] == "docker-cloud"


def test_switch_options_without_a_target_are_a_usage_error(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["context", "--global"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("usage: labadvisor context")
    assert "labadvisor context: error: --global and --no-check need a target" in err
    assert not (config_dir / "config.json").exists()


# The shell form of `use` keeps DOCKER_HOST (and its TLS variables) for the way back.


def _bash(script: str, config_dir: Path, **variables: str) -> list[str]:
    return _bash_run(script, config_dir, **variables).stdout.splitlines()


def _bash_run(script: str, config_dir: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")},
        "DOCKER_CONFIG": str(config_dir),
        **variables,
    }
    env.pop(SET_ASIDE, None)
    labadvisor = f"{sys.executable} -m labadvisor"
    result = subprocess.run(
        ["bash", "-c", script.replace("labadvisor", labadvisor)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


SHOW = (
    'echo "host=${DOCKER_HOST-unset} verify=${DOCKER_TLS_VERIFY-unset} '
    "certs=${DOCKER_CERT_PATH-unset} context=${DOCKER_CONTEXT-unset} "
    f'saved=${{{SET_ASIDE}+set}}"'
)


@pytest.mark.parametrize("back", ["local", "default"])
def test_the_shell_gets_its_docker_host_back(config_dir: Path, back: str) -> None:
    write_context(config_dir, "docker-cloud", f"tcp://127.0.0.1:{closed_port()}")
    lines = _bash(
        f'eval "$(labadvisor context use docker-cloud --no-check)"; {SHOW}; '
        f'eval "$(labadvisor context use {back} --no-check)"; {SHOW}',
        config_dir,
        DOCKER_HOST="tcp://127.0.0.1:1",
        DOCKER_TLS_VERIFY="1",
        DOCKER_CERT_PATH="/certs with space",
    )
    assert lines == [
        "host=unset verify=unset certs=unset context=docker-cloud saved=set",
        "host=tcp://127.0.0.1:1 verify=1 certs=/certs with space context=unset saved=",
    ]


def test_the_round_trip_with_engines_that_answer(config_dir: Path) -> None:
    """Both switches check their engine, the way back against the restored DOCKER_HOST; a
    switch between two named contexts on the way keeps what was set aside."""
    with FakeEngine() as local, FakeEngine() as cloud, FakeEngine() as other:
        write_context(config_dir, "docker-cloud", cloud.host)
        write_context(config_dir, "lab", other.host)
        lines = _bash(
            'eval "$(labadvisor context use offload)"; '
            'eval "$(labadvisor context use lab)"; echo "${DOCKER_CONTEXT}"; '
            'eval "$(labadvisor context use local)"; echo "${DOCKER_HOST-unset}"',
            config_dir,
            DOCKER_HOST=local.host,
        )
    assert lines == ["lab", local.host]


def test_the_way_back_to_a_dead_docker_host_needs_no_no_check(config_dir: Path) -> None:
    """Issue 12's round trip as written: the engine DOCKER_HOST named is down, every switch
    checks, and the way back still restores it, saying on stderr that it did not answer."""
    dead = f"tcp://127.0.0.1:{closed_port()}"
    with FakeEngine() as cloud:
        write_context(config_dir, "docker-cloud", cloud.host)
        result = _bash_run(
            f"export DOCKER_HOST={dead}; "
            'eval "$(labadvisor context use docker-cloud)"; '
            'eval "$(labadvisor context use local)"; '
            "echo $DOCKER_HOST",
            config_dir,
        )
    assert result.stdout.splitlines() == [dead]
    way_back = result.stderr.split("Switched to default", 1)[1]
    assert f"the local engine at {dead} did not answer" in way_back
    assert "this kernel" not in result.stderr and "Traceback" not in result.stderr


def test_the_shell_is_told_of_the_shell_not_of_a_kernel(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shell form and --global speak of this shell and of `eval "$(…)"`, never of a
    kernel or of use(..., scope='kernel'); already being there is a notice, exit 0."""
    (config_dir / "config.json").write_text('{"currentContext": "docker-cloud"}')
    code, out, err = run(capsys, "context", "use", "docker-cloud", "--no-check")
    assert code == 0 and out.splitlines() == ["export DOCKER_CONTEXT=docker-cloud"]
    assert err.startswith(
        "# Already on docker-cloud (offload, tcp://127.0.0.1:2999) for this shell; now set "
        "explicitly (DOCKER_CONTEXT)\n"
    )
    assert "was docker-cloud" not in err
    os.environ["DOCKER_CONTEXT"] = "default"  # as after an eval of `use default`
    code, out, err = run(capsys, "context", "use", "docker-cloud", "--global", "--no-check")
    assert (code, err) == (0, "")
    assert out.startswith("Already on docker-cloud (offload, tcp://127.0.0.1:2999) for all")
    assert (
        "; nothing changed. this shell keeps using default because DOCKER_CONTEXT is set; " in out
    )
    assert 'eval "$(labadvisor context use docker-cloud)" switches it too' in out
    assert "kernel" not in out
    code, out, err = run(capsys, "context", "use", "docker-cloud", "--no-check")
    assert (
        code == 0
        and "# Switched to docker-cloud (offload, tcp://127.0.0.1:2999) for this shell; was default"
        in err
    )


def test_without_a_docker_host_nothing_is_kept(config_dir: Path) -> None:
    lines = _bash(
        f'eval "$(labadvisor context use offload --no-check)"; {SHOW}; '
        f'eval "$(labadvisor context use local --no-check)"; {SHOW}',
        config_dir,
    )
    assert lines == [
        "host=unset verify=unset certs=unset context=docker-cloud saved=",
        "host=unset verify=unset certs=unset context=default saved=",
    ]


@pytest.mark.parametrize(
    "saved", ["{", "[]", "{}", '{"PATH": "/evil"}', '{"DOCKER_HOST": 1}', "x" * 10_000]
)
def test_a_tampered_set_aside_variable_is_ignored_with_a_note(
    config_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    saved: str,
) -> None:
    monkeypatch.setenv(SET_ASIDE, saved)
    assert main(["context", "use", "local", "--no-check"]) == 0
    out, err = capsys.readouterr()
    # Dropped from the shell, and nothing of it exported.
    assert out.splitlines() == [f"unset {SET_ASIDE}", "export DOCKER_CONTEXT=default"]
    assert f"ignoring ${SET_ASIDE}" in err


@pytest.mark.parametrize("timeout", ["1e10", "0", "-1", "nan", "inf", "600.001", "-0"])
def test_timeout_outside_0_to_600_is_refused(
    config_dir: Path, capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    assert main(["context", "use", "docker-cloud", f"--timeout={timeout}"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("labadvisor context use: error: --timeout must be more than 0 and ")
    assert "at most 600 seconds" in err
    assert "DOCKER_CONTEXT" not in os.environ


def test_timeout_600_is_accepted(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["context", "use", "docker-cloud", "--timeout", "600", "--no-check"]) == 0


def test_a_file_system_failure_is_one_line_and_exit_1(
    config_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a read-only ~/.docker holding config.json.lock gave: an OSError from the write.
    from labadvisor.contexts import store

    def read_only(*args: object) -> bool:
        raise PermissionError(13, "Permission denied", str(config_dir / "config.json.lock"))

    monkeypatch.setattr(store, "set_current_context", read_only)
    assert main(["context", "use", "docker-cloud", "--global", "--no-check"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("labadvisor context use: error: [Errno 13] Permission denied")


def test_a_huge_name_is_cut_in_the_message(
    config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["context", "use", "n" * 100_000, "--no-check"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and len(err) < 1000
    assert "n" * 97 in err and "n" * 98 not in err and "(100000 characters)" in err
