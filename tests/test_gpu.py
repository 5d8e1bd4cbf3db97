"""GPU detection, visibility and sampling, driven through the fake NVML in fake_nvml.py; the
real pynvml path runs too (this machine has no GPU), and @pytest.mark.gpu tests need one."""

from __future__ import annotations

import ctypes
import inspect
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pynvml
import pytest
from fake_nvml import FakeMig, FakeNvml, GiB, a100_mig, l4
from gpu_fixtures import InstallFake

from labadvisor import gpu
from labadvisor.gpu import GpuDevice, GpuReport, MigDevice, detect
from labadvisor.gpu.visibility import GpuSlot, MigSlot, select

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")


# --- the fake itself must not drift from pynvml ------------------------------------------


def test_fake_implements_only_real_pynvml_functions_with_their_parameters() -> None:
    for name in FakeNvml().functions():
        real = getattr(pynvml, name, None)
        assert real is not None, f"{name} is not a pynvml function"
        fake_params = list(inspect.signature(getattr(FakeNvml, name)).parameters)[1:]
        real_params = list(inspect.signature(real).parameters)
        assert len(fake_params) == len(real_params), (name, fake_params, real_params)


# --- one device, every field -----------------------------------------------------------------


def test_single_l4_reports_every_field(fake_nvml: InstallFake) -> None:
    fake_nvml([l4()])
    report = detect()
    assert report.status == "ok"
    assert report.driver_version == "550.54.15"
    assert report.cuda_driver_version == "12.4"
    (device,) = report.devices
    assert device.index == 0 and device.cuda_index == 0
    assert device.name == "NVIDIA L4"
    assert device.uuid == "GPU-5c4d2a1e-0000-1111-2222-333344445550"
    assert device.memory_total == 23034 * 1024**2
    assert device.memory_used == 300 * 1024**2
    assert device.memory_free == device.memory_total - device.memory_used
    assert (device.utilization_gpu, device.utilization_memory) == (7, 3)
    assert device.compute_capability == (8, 9)
    assert device.temperature_c == 41
    assert device.power_w == 27.0 and device.power_limit_w == 72.0
    assert device.mig_mode is False and device.mig_devices == ()
    assert device.valid and dict(device.unavailable) == {}
    assert report.best_device() is device
    assert "GPU 0 NVIDIA L4" in report.message and "23.8 GB free" in report.message


def test_best_device_has_most_free_memory_and_first_wins_a_tie(
    fake_nvml: InstallFake,
) -> None:
    fake_nvml([l4(0, memory_used=10 * GiB), l4(1, memory_used=1 * GiB), l4(2, memory_used=1 * GiB)])
    best = detect().best_device()
    assert best is not None and best.index == 1
    assert best.memory_free == 23034 * 1024**2 - 1 * GiB


def test_no_gpu_at_all_is_no_devices(fake_nvml: InstallFake) -> None:
    fake_nvml([])
    report = detect()
    assert report.status == "no-devices"
    assert report.devices == () and report.best_device() is None
    assert report.driver_version == "550.54.15"


# --- MIG -----------------------------------------------------------------------------------


def test_mig_instances_are_the_devices_cuda_uses(fake_nvml: InstallFake) -> None:
    fake_nvml([a100_mig(0, instances=2), l4(1, memory_used=20 * GiB)])
    report = detect()
    assert report.status == "ok"
    a100, small = report.devices
    assert a100.mig_mode is True and a100.cuda_index is None
    assert [m.index for m in a100.mig_devices] == [0, 1]
    first = a100.mig_devices[0]
    assert first.name == "NVIDIA A100-SXM4-40GB MIG 3g.20gb"
    assert first.parent_index == 0 and first.cuda_index == 0
    assert (first.gpu_instance_id, first.compute_instance_id) == (1, 0)
    assert first.memory_total == 19968 * 1024**2
    assert first.memory_free == 19968 * 1024**2 - 13 * 1024**2
    # CUDA enumerates one MIG device per process: the second instance is listed, not usable
    second = a100.mig_devices[1]
    assert second.cuda_index is None and second.cuda_visible is False
    assert small.cuda_index == 1
    assert any("one MIG device per process" in note for note in report.notes)
    # the parent's utilization is not available in MIG mode, and says why
    assert a100.utilization_gpu is None and "Not Supported" in a100.unavailable["utilization"]
    best = report.best_device()
    assert isinstance(best, MigDevice) and best.label == "GPU 0 MIG 0"
    assert best.memory_free == first.memory_free and best.memory_total == first.memory_total
    assert report.units() == [first, small]


def test_best_device_is_the_mig_instance_cuda_enumerates_not_the_emptiest(
    fake_nvml: InstallFake,
) -> None:
    a100 = a100_mig(0, instances=2)
    a100.mig[0].memory_used = 15 * GiB  # the first instance is busy, the second idle
    a100.mig[1].memory_used = 0
    fake_nvml([a100])
    report = detect()
    assert report.best_device() is report.devices[0].mig_devices[0]
    note = next(n for n in report.notes if "MIG" in n)
    assert "GPU 0 MIG 0" in note and "MIG UUID" in note


def test_mig_slots_with_gaps_are_skipped(fake_nvml: InstallFake) -> None:
    gpu0 = a100_mig(0, instances=0)
    gpu0.mig = [FakeMig("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "MIG-x1", 4864 * 1024**2, slot=3)]
    fake_nvml([gpu0])
    (device,) = detect().devices
    assert [m.index for m in device.mig_devices] == [3]


def test_mig_mode_without_instances_is_no_usable_device(fake_nvml: InstallFake) -> None:
    fake_nvml([a100_mig(0, instances=0)])
    report = detect()
    assert report.status == "no-devices"
    assert "MIG" in report.message
    assert report.devices[0].mig_mode is True and report.best_device() is None


# --- every optional query guarded on its own --------------------------------------------------


def test_functions_missing_from_an_older_driver_fall_back_or_leave_none(
    fake_nvml: InstallFake,
) -> None:
    fake = fake_nvml(
        [l4()],
        missing={
            "nvmlSystemGetCudaDriverVersion_v2",
            "nvmlDeviceGetTemperatureV",
            "nvmlDeviceGetCudaComputeCapability",
        },
    )
    report = detect()
    (device,) = report.devices
    assert report.status == "ok"
    assert report.cuda_driver_version == "12.4"  # from the unversioned call
    assert fake.calls["nvmlSystemGetCudaDriverVersion"] == 1
    assert device.temperature_c == 41 and fake.calls["nvmlDeviceGetTemperature"] == 1
    assert device.compute_capability is None
    assert "not in this driver" in device.unavailable["compute_capability"]
    assert device.memory_total is not None and device.name == "NVIDIA L4"


def test_functions_absent_from_an_old_nvidia_ml_py_leave_none(
    fake_nvml: InstallFake,
) -> None:
    fake_nvml(
        [l4()],
        absent={
            "nvmlDeviceGetMigMode",
            "nvmlSystemGetCudaDriverVersion_v2",
            "nvmlSystemGetCudaDriverVersion",
        },
    )
    report = detect()
    (device,) = report.devices
    assert report.status == "ok" and report.cuda_driver_version is None
    assert device.mig_mode is None
    assert "not in this nvidia-ml-py" in device.unavailable["mig_mode"]
    assert report.best_device() is device  # unknown MIG mode: treat as a plain GPU


def test_not_supported_fields_are_none_and_not_retried_with_a_fallback(
    fake_nvml: InstallFake,
) -> None:
    unsupported = {
        "nvmlDeviceGetPowerUsage",
        "nvmlDeviceGetEnforcedPowerLimit",
        "nvmlDeviceGetTemperatureV",
        "nvmlDeviceGetUtilizationRates",
    }
    fake = fake_nvml([l4(unsupported=unsupported)])
    (device,) = detect().devices
    assert device.power_w is None and device.power_limit_w is None
    assert device.temperature_c is None and device.utilization_gpu is None
    assert device.unavailable["power_w"] == "Not Supported"
    assert fake.calls["nvmlDeviceGetTemperature"] == 0
    assert device.valid and device.memory_free is not None


def test_library_mismatch_on_one_call_leaves_that_field_none(
    fake_nvml: InstallFake,
) -> None:
    fake_nvml([l4()], mismatch={"nvmlDeviceGetName"})
    report = detect()
    (device,) = report.devices
    assert report.status == "ok"
    assert device.name == "NVIDIA GPU 0"
    assert "do not match" in device.unavailable["name"]
    assert device.memory_total == 23034 * 1024**2


def test_bytes_from_an_old_nvidia_ml_py_are_decoded(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(name=b"NVIDIA L4")])  # type: ignore[arg-type]
    assert detect().devices[0].name == "NVIDIA L4"


def test_a_lost_gpu_is_marked_invalid_and_the_others_still_count(
    fake_nvml: InstallFake,
) -> None:
    fake_nvml([l4(0, lost=True), l4(1)])
    report = detect()
    lost, good = report.devices
    assert report.status == "ok"
    assert not lost.valid and lost.error == "GPU is lost"
    assert good.valid and report.best_device() is good
    assert "invalid (GPU is lost)" in str(report)


def test_only_lost_gpus_is_an_error_report(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0, lost=True)])
    report = detect()
    assert report.status == "error" and "GPU is lost" in report.message
    assert report.best_device() is None


def test_a_gpu_without_permission_is_invalid(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0, handle_error=pynvml.NVML_ERROR_NO_PERMISSION), l4(1)])
    first, second = detect().devices
    assert not first.valid and "Permission" in (first.error or "")
    assert second.valid


# --- NVML unusable: normal answers, not exceptions ----------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (pynvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver-not-loaded", "not loaded"),
        (pynvml.NVML_ERROR_LIBRARY_NOT_FOUND, "library-not-found", "libnvidia-ml.so.1"),
        (pynvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, "error", "reboot"),
        (pynvml.NVML_ERROR_NO_PERMISSION, "error", "permission"),
        (pynvml.NVMLLibraryMismatchError("pyNVML too old"), "error", "pyNVML too old"),
        (RuntimeError("boom"), "error", "boom"),
    ],
)
def test_init_failures_are_reports(
    fake_nvml: InstallFake, error: object, status: str, words: str
) -> None:
    fake = fake_nvml([l4()], init_error=error)
    report = detect()
    assert report.status == status
    assert words in report.message
    assert report.devices == () and report.best_device() is None
    assert fake.initialised == 0


def test_failing_device_count_is_an_error_report(fake_nvml: InstallFake) -> None:
    fake_nvml([l4()], count_error=pynvml.NVML_ERROR_UNKNOWN)
    report = detect()
    assert report.status == "error" and "count" in report.message


def test_without_nvidia_ml_py_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` fail
    report = detect(refresh=True)
    assert report.status == "library-not-found"
    assert "nvidia-ml-py" in report.message


def _nvml_library_loads() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return False
    return True


def test_real_pynvml_path_on_this_machine() -> None:
    """The real nvidia-ml-py runs here; without a driver it must say library-not-found."""
    report = detect(refresh=True)
    if _nvml_library_loads():
        assert report.status in {"ok", "no-devices", "driver-not-loaded", "error"}
    else:
        assert report.status == "library-not-found"
        assert "libnvidia-ml.so.1" in report.message
        assert report.devices == () and report.best_device() is None
    json.dumps(report.to_dict())


# --- once per process, cached -------------------------------------------------------------


def test_cached_detect_calls_no_nvml_and_takes_under_a_millisecond(
    fake_nvml: InstallFake,
) -> None:
    fake = fake_nvml([l4(), a100_mig(1)])
    first = detect()
    calls = sum(fake.calls.values())
    timings = []
    for _ in range(200):
        start = time.perf_counter()
        again = detect()
        timings.append(time.perf_counter() - start)
        assert again is first
    assert sum(fake.calls.values()) == calls
    assert min(timings) < 1e-3 and sorted(timings)[len(timings) // 2] < 1e-3


def test_cached_failure_takes_under_a_millisecond() -> None:
    first = detect(refresh=True)
    assert first.status != "ok" or _nvml_library_loads()
    start = time.perf_counter()
    for _ in range(100):
        assert detect() is first
    assert (time.perf_counter() - start) / 100 < 1e-3


def test_refresh_asks_again_without_initialising_again(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4()])
    detect()
    fake.gpus[0].memory_used = 5 * GiB
    assert detect().devices[0].memory_used == 300 * 1024**2  # cached
    assert detect(refresh=True).devices[0].memory_used == 5 * GiB
    assert fake.calls["nvmlInit"] == 1 and fake.initialised == 1


def test_a_failed_init_is_retried_on_refresh(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4()], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert detect().status == "driver-not-loaded"
    detect()
    assert fake.calls["nvmlInit"] == 1
    fake.init_error = None  # e.g. the admin ran modprobe
    assert detect(refresh=True).status == "ok"


def test_changing_a_visibility_variable_makes_the_next_call_look_again(
    fake_nvml: InstallFake, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_nvml([l4(0), l4(1)])
    assert len(detect().devices) == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert [d.index for d in detect().devices] == [1]


def test_nvml_is_initialised_once_and_shut_down_at_exit() -> None:
    script = textwrap.dedent(
        """
        from fake_nvml import FakeNvml, l4, use_backend
        from labadvisor import gpu

        class Loud(FakeNvml):
            def nvmlShutdown(self):
                super().nvmlShutdown()
                print("shutdown", self.initialised, flush=True)

        fake = Loud([l4()])
        use_backend(fake)
        gpu.detect(); gpu.detect(); gpu.detect(refresh=True); gpu.sample(interval=0)
        print("inits", fake.calls["nvmlInit"], flush=True)
        """
    )
    tests_dir = str(Path(__file__).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests_dir, os.getcwd()])}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split("\n")[:2] == ["inits 1", "shutdown 0"]


def test_import_stays_light() -> None:
    code = (
        "import sys, labadvisor.gpu, labadvisor.memory\n"
        "print(','.join(m for m in ('pynvml', 'pandas', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- visibility variables --------------------------------------------------------------------

UUID0 = "GPU-5c4d2a1e-0000-1111-2222-333344445550"
UUID1 = "GPU-5c4d2a1e-0000-1111-2222-333344445551"


@pytest.mark.parametrize(
    ("value", "visible"),
    [
        ("1", [1]),
        ("2,0", [2, 0]),
        (" 1 , 0 ", [1, 0]),
        (UUID1, [1]),
        (UUID1.upper(), [1]),  # UUIDs compare case-insensitively
        ("GPU-5c4d2a1e-0000-1111-2222-333344445552", [2]),
        ("0,GPU-5c4d2a1e-0000-1111-2222-33334444555", [0]),  # ambiguous prefix ends the list
        ("1,foo,0", [1]),
        ("0,0,1", [0]),  # a repeat ends the list
        ("0,5,1", [0]),  # out of range ends the list
        ("0,", [0]),
        ("0,1,2", [0, 1, 2]),
    ],
)
def test_cuda_visible_devices_lists(fake_nvml: InstallFake, value: str, visible: list[int]) -> None:
    fake_nvml([l4(0), l4(1), l4(2)], env={"CUDA_VISIBLE_DEVICES": value})
    report = detect()
    assert [d.index for d in report.devices] == visible
    assert [d.cuda_index for d in report.devices] == list(range(len(visible)))
    assert report.hidden_count == 3 - len(visible)


@pytest.mark.parametrize("value", ["", "-1", "none", "void", "NoDevFiles", "GPU-ffff"])
def test_cuda_visible_devices_hiding_everything(fake_nvml: InstallFake, value: str) -> None:
    fake_nvml([l4(0), l4(1)], env={"CUDA_VISIBLE_DEVICES": value})
    report = detect()
    assert report.status == "no-devices"
    assert report.devices == () and report.hidden_count == 2
    assert "2 NVIDIA GPUs present but none is visible" in report.message
    assert report.notes and "CUDA_VISIBLE_DEVICES" in report.notes[0]


def test_an_invalid_entry_is_explained(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0), l4(1)], env={"CUDA_VISIBLE_DEVICES": "1,foo,0"})
    (note,) = detect().notes
    assert "'foo' matches no GPU" in note and "only the devices listed before it" in note


def test_mig_uuid_selects_one_instance(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=3)
    fake_nvml([a100, l4(1)], env={"CUDA_VISIBLE_DEVICES": a100.mig[1].uuid})
    report = detect()
    (device,) = report.devices
    assert [m.index for m in device.mig_devices] == [1]
    assert device.mig_devices[0].cuda_index == 0
    assert report.best_device() is device.mig_devices[0]


def test_legacy_mig_gpu_uuid_form(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=2)
    fake_nvml([a100], env={"CUDA_VISIBLE_DEVICES": f"MIG-{a100.uuid}/2/0"})
    (device,) = detect().devices
    assert [m.gpu_instance_id for m in device.mig_devices] == [2]


def test_interleaved_mig_and_gpu_entries_number_cuda_devices_in_list_order(
    fake_nvml: InstallFake,
) -> None:
    a100 = a100_mig(0, instances=2)
    fake_nvml(
        [a100, l4(1)], env={"CUDA_VISIBLE_DEVICES": f"{a100.mig[1].uuid},1,{a100.mig[0].uuid}"}
    )
    mig_gpu, plain = detect().devices
    assert {m.index: m.cuda_index for m in mig_gpu.mig_devices} == {1: 0, 0: None}
    assert plain.cuda_index == 1


def test_gpu_uuid_of_a_mig_gpu_selects_all_its_instances(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=2)
    fake_nvml([l4(1), a100], env={"CUDA_VISIBLE_DEVICES": a100.uuid})
    (device,) = detect().devices
    assert [m.index for m in device.mig_devices] == [0, 1]


@pytest.mark.parametrize(
    ("value", "visible"),
    [
        ("all", [0, 1]),
        ("ALL", [0, 1]),
        ("0", [0, 1]),  # indices were applied by the container runtime already
        ("1", [0, 1]),
        (UUID1, [1]),
        (f"{UUID1},{UUID0}", [0, 1]),
        ("none", []),
        ("void", []),
        ("", []),
    ],
)
def test_nvidia_visible_devices(fake_nvml: InstallFake, value: str, visible: list[int]) -> None:
    fake_nvml([l4(0), l4(1)], env={"NVIDIA_VISIBLE_DEVICES": value})
    assert [d.index for d in detect().devices] == visible


def test_both_variables_together(fake_nvml: InstallFake) -> None:
    fake_nvml(
        [l4(0), l4(1), l4(2)], env={"CUDA_VISIBLE_DEVICES": "2,1", "NVIDIA_VISIBLE_DEVICES": UUID1}
    )
    report = detect()
    assert [d.index for d in report.devices] == [1]
    assert any("NVIDIA_VISIBLE_DEVICES" in n for n in report.notes)


def test_index_order_warning_only_for_mixed_models() -> None:
    mixed = [GpuSlot(0, UUID0, "NVIDIA L4"), GpuSlot(1, UUID1, "NVIDIA A100")]
    same = [GpuSlot(0, UUID0, "NVIDIA L4"), GpuSlot(1, UUID1, "NVIDIA L4")]
    assert any("PCI_BUS_ID" in n for n in select(mixed, {"CUDA_VISIBLE_DEVICES": "1"}).notes)
    assert not select(same, {"CUDA_VISIBLE_DEVICES": "1"}).notes
    ordered = {"CUDA_VISIBLE_DEVICES": "1", "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert not select(mixed, ordered).notes
    assert not select(mixed, {"CUDA_VISIBLE_DEVICES": UUID1}).notes


def test_select_is_pure_and_keeps_unreadable_uuids_out_of_uuid_matches() -> None:
    inventory = [GpuSlot(0, None), GpuSlot(1, UUID1, mig=(MigSlot(0, "MIG-a"),))]
    assert select(inventory, {}).units == ((0, None), (1, 0))
    assert select(inventory, {"CUDA_VISIBLE_DEVICES": "GPU-"}).units == ((1, 0),)
    assert select(inventory, {"CUDA_VISIBLE_DEVICES": "0,MIG-a"}).units == ((0, None), (1, 0))


# --- views -----------------------------------------------------------------------------------


def test_to_dict_is_json_and_complete(fake_nvml: InstallFake) -> None:
    fake_nvml([a100_mig(0), l4(1, memory_used=20 * GiB)])
    data = json.loads(json.dumps(detect().to_dict()))
    assert data["status"] == "ok" and data["best_device"] == "GPU 0 MIG 0"
    a100 = data["devices"][0]
    assert a100["compute_capability"] == "8.0" and a100["mig_mode"] is True
    assert a100["mig_devices"][0]["kind"] == "mig"
    assert data["devices"][1]["memory_free"] == 23034 * 1024**2 - 20 * GiB
    assert data["visibility"] == {"CUDA_VISIBLE_DEVICES": None, "NVIDIA_VISIBLE_DEVICES": None}


def test_text_and_html_reprs(fake_nvml: InstallFake) -> None:
    fake_nvml([a100_mig(0), l4(1, name="NVIDIA <L4> & co")])
    report = detect()
    text = str(report)
    assert text.startswith("GPU detection: ok")
    assert "driver 550.54.15, CUDA 12.4" in text
    assert "GPU 0 MIG 1: NVIDIA A100-SXM4-40GB MIG 3g.20gb" in text
    assert "GPU 1: NVIDIA <L4> & co  23.8 GB free of 24.2 GB  util 7%  cc 8.9" in text
    page = report._repr_html_()
    assert "NVIDIA &lt;L4&gt; &amp; co" in page and "<L4>" not in page
    assert page.count("<tr>") == 1 + 1 + 2 + 1  # header, A100, two MIG rows, L4


def test_failure_reprs_mention_the_status() -> None:
    report = detect(refresh=True)
    assert str(report).startswith(f"GPU detection: {report.status} — ")
    assert report.status in report._repr_html_()


def test_to_frame_has_a_row_per_gpu_and_mig_instance(fake_nvml: InstallFake) -> None:
    fake_nvml([a100_mig(0, instances=2), l4(1)])
    frame = detect().to_frame()
    assert list(frame["label"]) == ["GPU 0", "GPU 0 MIG 0", "GPU 0 MIG 1", "GPU 1"]
    assert list(frame["kind"]) == ["gpu", "mig", "mig", "gpu"]
    assert frame.loc[3, "memory_total"] == 23034 * 1024**2
    assert str(frame["cuda_index"].dtype) == "Int64"  # None stays missing, not a float NaN
    assert frame["cuda_index"].isna().tolist() == [True, False, True, False]


def test_to_frame_of_an_empty_report_keeps_columns() -> None:
    frame = GpuReport(status="no-devices", message="none").to_frame()
    assert frame.empty and "memory_free" in frame.columns


def test_report_and_device_dataclasses_are_frozen(fake_nvml: InstallFake) -> None:
    fake_nvml([l4()])
    device = detect().devices[0]
    assert isinstance(device, GpuDevice)
    with pytest.raises(AttributeError):
        device.name = "changed"  # type: ignore[misc]


# --- sampling -------------------------------------------------------------------------------


def test_sampler_reads_live_values_reusing_handles(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), a100_mig(1, instances=1)])
    sampler = gpu.Sampler()
    handles_before = fake.calls["nvmlDeviceGetHandleByIndex"]
    first = sampler.read()
    assert first.status == "ok"
    assert [(s.index, s.mig_index) for s in first.devices] == [(0, None), (1, 0)]
    assert first.devices[0].utilization_gpu == 7
    fake.gpus[0].memory_used = 9 * GiB
    fake.gpus[0].utilization = (88, 40)
    second = sampler.read()
    assert second.devices[0].memory_used == 9 * GiB
    assert second.devices[0].utilization_gpu == 88
    assert fake.calls["nvmlDeviceGetHandleByIndex"] == handles_before
    assert fake.calls["nvmlInit"] == 1
    json.dumps(second.to_dict())


def test_sampler_skips_what_a_device_does_not_support(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([a100_mig(0, instances=1)])
    sampler = gpu.Sampler()
    sampler.read()
    asked = fake.calls["nvmlDeviceGetUtilizationRates"]
    for _ in range(5):
        reading = sampler.read()
    assert fake.calls["nvmlDeviceGetUtilizationRates"] == asked  # MIG: asked once, then skipped
    assert reading.devices[0].utilization_gpu is None
    assert reading.devices[0].memory_total == 19968 * 1024**2


def test_sampler_marks_a_gpu_lost_while_sampling(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0), l4(1)])
    sampler = gpu.Sampler()
    fake.gpus[0].lost = True
    reading = sampler.read()
    assert not reading.devices[0].valid and reading.devices[0].error == "GPU is lost"
    assert reading.devices[1].valid
    asked = fake.calls["nvmlDeviceGetMemoryInfo"]
    sampler.read()
    assert fake.calls["nvmlDeviceGetMemoryInfo"] == asked + 1  # only the healthy GPU


def test_sampler_without_nvml_returns_the_status() -> None:
    reading = gpu.Sampler().read()
    assert reading.devices == ()
    assert reading.status == detect().status


def test_sampler_follows_a_new_nvml_backend(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0)])
    sampler = gpu.Sampler()
    assert len(sampler.read().devices) == 1
    fake_nvml([l4(0), l4(1)])
    assert len(sampler.read().devices) == 2


def test_sample_shares_one_reading_per_interval(fake_nvml: InstallFake) -> None:
    fake = fake_nvml([l4(0)])
    first = gpu.sample(interval=60)
    assert gpu.sample(interval=60) is first
    reads = fake.calls["nvmlDeviceGetMemoryInfo"]
    fresh = gpu.sample(interval=0)
    assert fresh is not first and fake.calls["nvmlDeviceGetMemoryInfo"] == reads + 1


@pytest.mark.parametrize("interval", [-1, float("nan"), float("inf"), "1", True])
def test_sample_rejects_bad_intervals(interval: object) -> None:
    with pytest.raises(ValueError, match="interval"):
        gpu.sample(interval=interval)  # type: ignore[arg-type]


def test_watch_yields_count_readings_at_the_interval(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(0)])
    start = time.monotonic()
    readings = list(gpu.Sampler().watch(interval=0.02, count=3))
    elapsed = time.monotonic() - start
    assert len(readings) == 3
    assert 0.04 <= elapsed < 1.0  # two waits between three readings, none after the last
    with pytest.raises(ValueError, match="greater than 0"):
        next(gpu.Sampler().watch(interval=0))


# --- real hardware ---------------------------------------------------------------------------


def _real_gpu_present() -> bool:
    if not _nvml_library_loads():
        return False
    try:
        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetCount() > 0
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:
        return False


needs_gpu = pytest.mark.skipif(not _real_gpu_present(), reason="needs an NVIDIA GPU and driver")


@pytest.mark.gpu
@needs_gpu
def test_real_gpu_detection() -> None:
    report = detect(refresh=True)
    print(report)
    assert report.status == "ok", report.message
    assert report.driver_version and report.cuda_driver_version
    major, minor = (int(x) for x in report.cuda_driver_version.split("."))
    assert major >= 10 and 0 <= minor < 100
    for device in report.devices:
        assert device.valid, device.error
        assert device.uuid and device.uuid.startswith("GPU-")
        assert device.memory_total and device.memory_total > 1e9
        assert device.memory_used is not None and device.memory_free is not None
        assert device.memory_used + device.memory_free <= device.memory_total
        assert device.compute_capability and device.compute_capability >= (3, 0)
    best = report.best_device()
    assert best is not None and best.memory_free is not None and best.name
    json.dumps(report.to_dict())


@pytest.mark.gpu
@needs_gpu
def test_real_gpu_visibility(monkeypatch: pytest.MonkeyPatch) -> None:
    everything = detect(refresh=True)
    first = everything.devices[0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect().status == "no-devices"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", str(first.uuid))
    assert [d.uuid for d in detect().devices] == [first.uuid]


@pytest.mark.gpu
@needs_gpu
def test_real_gpu_cached_detect_and_sampling_cost() -> None:
    detect(refresh=True)
    start = time.perf_counter()
    for _ in range(100):
        detect()
    assert (time.perf_counter() - start) / 100 < 1e-3
    sampler = gpu.Sampler()
    cpu, wall = time.process_time(), time.monotonic()
    readings = list(sampler.watch(interval=0.5, count=7))
    share = (time.process_time() - cpu) / (time.monotonic() - wall)
    print(f"sampling at 2 Hz used {share:.3%} of a core")
    assert all(r.status == "ok" for r in readings)
    for reading in readings:
        for unit in reading.devices:
            assert unit.memory_total and unit.memory_total > 0
            assert unit.utilization_gpu is None or 0 <= unit.utilization_gpu <= 100
    assert share < 0.02  # 2 Hz here, so under 1% per reading-per-second
