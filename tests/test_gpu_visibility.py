"""labadvisor/gpu/visibility.py: which GPUs CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
leave this kernel, through detect() over the fake NVML and through select() alone."""

from __future__ import annotations

import pytest
from fake_nvml import a100_mig, l4
from gpu_fixtures import InstallFake

from labadvisor.gpu import detect
from labadvisor.gpu.visibility import GpuSlot, MigSlot, select

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")


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


# --- real hardware ---------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_gpu_visibility(real_gpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = detect(refresh=True)
    first = everything.devices[0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect().status == "no-devices"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", str(first.uuid))
    assert [d.uuid for d in detect().devices] == [first.uuid]
