"""labadvisor/gpu/nvml.py: what the probe makes of NVML's answers, driven through the fake
NVML in fake_nvml.py (checked against pynvml first); the real pynvml path runs too, and
ends in a report on this machine whatever it has."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pynvml
import pytest
from fake_nvml import FakeMig, FakeNvml, GiB, a100_mig, l4
from gpu_fixtures import InstallFake, nvml_library_loads

from labadvisor.gpu import MigDevice, detect

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


def test_real_pynvml_path_on_this_machine() -> None:
    """The real nvidia-ml-py runs here; without a driver it must say library-not-found."""
    report = detect(refresh=True)
    if nvml_library_loads():
        assert report.status in {"ok", "no-devices", "driver-not-loaded", "error"}
    else:
        assert report.status == "library-not-found"
        assert "libnvidia-ml.so.1" in report.message
        assert report.devices == () and report.best_device() is None
    json.dumps(report.to_dict())


# --- one NVML session per process ------------------------------------------------------------


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
