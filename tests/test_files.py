"""labadvisor.files: the one atomic write and the inter-process lock, under load and faults.

Stress runs real processes through the real code; permission faults run in a child that
drops to ``nobody`` (see tests/unprivileged.py), since root ignores permission bits.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from unprivileged import give_away, run_unprivileged, shared_dir

import labadvisor
from labadvisor import files

REPO = str(Path(labadvisor.__file__).parent.parent)

WRITER = """
import json, sys
from labadvisor import files
path, me, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
for _ in range(rounds):
    with files.locked(path):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        data[me] = data.get(me, 0) + 1
        data["total"] = data.get("total", 0) + 1
        files.write(path, json.dumps(data, indent=1).encode())
"""

READER = """
import json, os, sys
path, stop = sys.argv[1], sys.argv[2]
reads = bad = 0
while not os.path.exists(stop):
    try:
        with open(path, encoding="utf-8") as handle:
            json.load(handle)
    except (OSError, ValueError) as exc:
        bad += 1
        print(repr(exc), file=sys.stderr)
    reads += 1
print(reads, bad)
"""


def python(code: str, *args: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": REPO}
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_many_processes_never_lose_an_update_and_the_file_always_parses(tmp_path: Path):
    target = tmp_path / "shared.json"
    target.write_text("{}")
    stop = tmp_path / "stop"
    writers, rounds = 8, 50
    reader = python(READER, target, stop)
    procs = [python(WRITER, target, f"w{i}", rounds) for i in range(writers)]
    try:
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
    finally:
        stop.touch()
    out, err = reader.communicate(timeout=30)
    reads, bad = map(int, out.split())
    assert bad == 0, err
    assert reads > 0
    data = json.loads(target.read_text())
    assert data == {"total": writers * rounds, **{f"w{i}": rounds for i in range(writers)}}
    # No temporary file is left behind; the lock file stays beside the target.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.json", "shared.json.lock", "stop"]


def test_a_new_file_gets_the_umask_mode_and_an_existing_one_keeps_its_mode(tmp_path: Path):
    fresh = tmp_path / "fresh.json"
    old_umask = os.umask(0o027)
    try:
        files.write(fresh, b"{}")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    files.write(tmp_path / "private", b"x", new_mode=0o600)
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    fresh.chmod(0o604)
    files.write(fresh, b"[1]")
    assert fresh.read_bytes() == b"[1]" and stat.S_IMODE(fresh.stat().st_mode) == 0o604


def test_a_planted_tmp_symlink_is_not_followed(tmp_path: Path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "checklist.json"
    for name in ("checklist.json.tmp", ".checklist.json.tmp", "checklist.json.new"):
        (tmp_path / name).symlink_to(victim)
    with files.locked(target):
        files.write(target, b'{"a": true}')
    assert victim.read_text() == "precious"
    assert target.read_text() == '{"a": true}' and not target.is_symlink()
    assert (tmp_path / "checklist.json.tmp").is_symlink()


def test_a_planted_lock_symlink_is_refused_not_followed(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data.json.lock").symlink_to(elsewhere / "created-by-us")
    refused = pytest.raises(files.FileWriteError, match=r"cannot open the lock file .*json\.lock")
    with refused, files.locked(tmp_path / "data.json"):
        pytest.fail("the lock must not be taken through a symlink")
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_target_is_written_through(tmp_path: Path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "real.json"
    real.write_text("{}")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with files.locked(link) as target:
        assert target == real
        files.write(link, b'{"x": 1}')
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == '{"x": 1}' and stat.S_IMODE(real.stat().st_mode) == 0o640
    # The lock sits beside the file that is replaced, not beside the link.
    assert sorted(p.name for p in dotfiles.iterdir()) == ["real.json", "real.json.lock"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dotfiles", "link.json"]


def test_a_missing_directory_is_a_value_error_naming_it(tmp_path: Path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(ValueError, match=f"the directory {missing} does not exist"):
        files.write(missing / "file.json", b"{}")
    missing_dir = pytest.raises(ValueError, match=f"the directory {missing} does not exist")
    with missing_dir, files.locked(missing / "file.json"):
        pytest.fail("no lock in a missing directory")
    (tmp_path / "plain").write_text("")
    with pytest.raises(ValueError, match="is not a directory"):
        files.write(tmp_path / "plain" / "file.json", b"{}")
    assert not missing.parent.exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "data.json"
    target.write_text("old")

    def full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(files.FileWriteError, match="No space left on device") as raised:
        files.write(target, b"new")
    assert raised.value.errno == 28
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.json"]


def test_a_read_only_directory_with_an_existing_lock_gives_a_clean_error():
    with shared_dir() as directory:
        target = directory / "config.json"
        target.write_text("{}")
        (directory / "config.json.lock").write_text("")
        for path in (target, directory / "config.json.lock"):
            path.chmod(0o600)
            give_away(path)
        directory.chmod(0o555)

        def write() -> str:
            with files.locked(target):
                files.write(target, b'{"new": 1}')
            return "written"

        try:
            answer = run_unprivileged(write)
        finally:
            directory.chmod(0o755)
        assert answer.startswith("raised FileWriteError: "), answer
        assert f"cannot write {target}: Permission denied" in answer
        assert target.read_text() == "{}"
        assert sorted(p.name for p in directory.iterdir()) == ["config.json", "config.json.lock"]


def test_a_lock_nobody_may_write_is_still_taken_read_only():
    # Another user's lock file (0644): flock works on a read-only descriptor, so the writer
    # waits for the lock like everyone else instead of failing on it.
    with shared_dir() as directory:
        target = directory / "data.json"
        lock = directory / "data.json.lock"
        lock.write_text("")
        lock.chmod(0o644)
        if os.geteuid() == 0:
            os.chown(lock, 0, 0)

        def write() -> str:
            with files.locked(target):
                files.write(target, b"[]")
            return target.read_text()

        assert run_unprivileged(write) == repr("[]")


def test_writers_wait_for_each_other(tmp_path: Path):
    target = tmp_path / "data.json"
    target.write_text('{"total": 0}')
    with files.locked(target):
        writer = python(WRITER, target, "late", 1)
        time.sleep(0.5)
        assert writer.poll() is None, "the writer did not wait for the lock"
    assert writer.wait(timeout=30) == 0
    assert json.loads(target.read_text()) == {"total": 1, "late": 1}
