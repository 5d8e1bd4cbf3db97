"""labadvisor/gpu/visibility.py: which GPUs CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES
leave this kernel, through detect() over the fake NVML and through select() alone."""

from __future__ import annotations

import pytest
from fake_nvml import FakeGpu, a100_mig, l4
from gpu_fixtures import InstallFake
from hypothesis import given
from hypothesis import strategies as st

from labadvisor.gpu import detect
from labadvisor.gpu.visibility import GpuSlot, MigSlot, read_ordinal, select

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


@pytest.mark.parametrize(
    "value", ["", "-1", "none", "void", "NoDevFiles", "GPU-ffff", "0,0,1", "1,0,1"]
)
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


def test_mig_entries_number_cuda_devices_in_list_order(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=2)
    fake_nvml([a100, l4(1)], env={"CUDA_VISIBLE_DEVICES": f"{a100.mig[1].uuid},{a100.mig[0].uuid}"})
    (mig_gpu,) = detect().devices
    assert {m.index: m.cuda_index for m in mig_gpu.mig_devices} == {1: 0, 0: None}


def test_an_index_ends_a_list_of_mig_uuids(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=2)
    fake_nvml(
        [a100, l4(1)], env={"CUDA_VISIBLE_DEVICES": f"{a100.mig[1].uuid},1,{a100.mig[0].uuid}"}
    )
    report = detect()
    (mig_gpu,) = report.devices
    assert {m.index: m.cuda_index for m in mig_gpu.mig_devices} == {1: 0}
    assert any("'1' matches no GPU" in note for note in report.notes)


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
    assert select(inventory, {"CUDA_VISIBLE_DEVICES": "MIG-a"}).units == ((1, 0),)
    # a UUID after an index ends the list of indices
    assert select(inventory, {"CUDA_VISIBLE_DEVICES": "0,MIG-a"}).units == ((0, None),)


# --- CUDA_VISIBLE_DEVICES as the CUDA driver reads it -------------------------------------
# Every value run on a 1-GPU H100 with driver 580.159.04 (docs/gpu-verification.md,
# 2026-11-26): the number of devices cuInit + cuDeviceGetCount gave (torch agreed).

H100_UUID = "GPU-266b8a6f-2221-926f-5e0e-a01bf1096509"
MEASURED_ON_ONE_H100 = [
    ("0", 1),
    ("", 0),
    ("0,0", 0),  # CUDA_ERROR_INVALID_DEVICE
    ("0,0,1", 0),  # CUDA_ERROR_INVALID_DEVICE
    ("1,0", 0),  # GPU 1 does not exist: the list ends at once
    ("1gpu2", 0),  # read as GPU 1, which does not exist
    ("0x1", 1),
    ("0gpu", 1),
    ("00", 1),
    ("+0", 1),
    (" 0", 1),
    ("-1", 0),
    ("0,-1,1", 1),  # the negative entry ends the list
    ("none", 0),
    (H100_UUID, 1),
    ("GPU-266b8a6f", 1),
    (f"{H100_UUID},0", 1),
    (f"{H100_UUID},{H100_UUID}", 0),  # CUDA_ERROR_INVALID_DEVICE
    (f"0,{H100_UUID}", 1),  # the UUID ends the list of indices before it can repeat GPU 0
    (f"{H100_UUID},foo,0", 1),
]


def one_h100() -> FakeGpu:
    return FakeGpu(name="NVIDIA H100 80GB HBM3", uuid=H100_UUID, memory_total=81559 * 1024**2)


@pytest.mark.parametrize(("value", "cuda_count"), MEASURED_ON_ONE_H100)
def test_what_the_cuda_driver_measured_on_one_gpu(
    fake_nvml: InstallFake, value: str, cuda_count: int
) -> None:
    fake_nvml([one_h100()], env={"CUDA_VISIBLE_DEVICES": value})
    report = detect()
    assert len(report.units()) == cuda_count
    assert report.status == ("ok" if cuda_count else "no-devices")
    if cuda_count:
        assert report.devices[0].uuid == H100_UUID and report.devices[0].cuda_index == 0
    else:
        assert report.notes  # the report says why


FOUR = [
    GpuSlot(i, f"GPU-{i}{i}{i}{i}aaaa-0000-1111-2222-33334444555{i}", "NVIDIA L4") for i in range(4)
]


@pytest.mark.parametrize(
    ("value", "visible"),
    [
        ("1gpu2,2ampere", [1, 2]),  # each entry by its leading digits (PyTorch's example)
        ("3,0x1", [3, 0]),
        ("+2,1", [2, 1]),
        ("2,02", []),  # the same ordinal written twice
        ("1,2,1", []),
        ("0,1,-1,1", [0, 1]),  # the negative entry ends the list before the repeat
        ("0,1,none,1", [0, 1]),
        ("1,7,2", [1]),  # beyond the last GPU ends the list
        ("1,7,1", []),  # the repeat is found before the range is checked (PyTorch)
        ("-0", [0]),  # strtoul("-0") is 0 (PyTorch agrees)
        ("2,GPU-0000", [2]),  # a UUID ends a list of ordinals
        ("GPU-1111,GPU-3333", [1, 3]),
        ("GPU-1111,3", [1]),  # an ordinal ends a list of UUIDs
        ("GPU-1111,GPU-1111aaaa", []),  # two prefixes of one GPU's UUID
        ("GPU-1111,GPU-1111", []),
        ("GPU-1111,GPU-9999,GPU-1111", []),  # the repeated text empties the list first
        ("GPU-1111,GPU-9999,GPU-2222", [1]),  # no match ends the list
        ("GPU-,GPU-1111", []),  # an ambiguous prefix ends the list at once
        ("gpu-2222", [2]),  # case-insensitive (not measured)
        ("MIG-abc,GPU-1111", []),  # a MIG list ends at the GPU UUID; no MIG matches
    ],
)
def test_cuda_visible_devices_on_four_gpus(value: str, visible: list[int]) -> None:
    selection = select(FOUR, {"CUDA_VISIBLE_DEVICES": value})
    assert selection.gpu_indices() == visible
    if not visible:
        assert selection.notes  # the report says why nothing is left


def test_a_repeat_is_explained() -> None:
    (note,) = select(FOUR, {"CUDA_VISIBLE_DEVICES": "0,0,1"}).notes
    assert "'0' repeats GPU 0" in note and "no GPU at all" in note


def test_an_entry_read_by_its_leading_digits_is_explained() -> None:
    notes = select(FOUR, {"CUDA_VISIBLE_DEVICES": "1gpu2,2ampere"}).notes
    assert notes == (
        "CUDA_VISIBLE_DEVICES='1gpu2,2ampere': CUDA reads an entry by its leading digits: "
        "'1gpu2' as 1, '2ampere' as 2",
    )


@pytest.mark.parametrize(
    ("text", "ordinal"),
    [
        ("0", 0),
        ("00", 0),
        ("0x1", 0),
        ("+3", 3),
        ("-1", -1),
        ("12ab", 12),
        ("", None),
        ("+", None),
        ("-", None),
        ("x1", None),
        ("\u0661", None),
    ],  # Arabic-Indic one: not ASCII
)
def test_read_ordinal_is_strtoul(text: str, ordinal: int | None) -> None:
    assert read_ordinal(text) == ordinal


MULTI = [
    GpuSlot(0, "GPU-00000000-0000-1111-2222-333344445550", "NVIDIA L4"),
    GpuSlot(
        1,
        "GPU-11111111-0000-1111-2222-333344445551",
        "NVIDIA A100",
        mig=(
            MigSlot(0, "MIG-aaaaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeee0", 1, 0),
            MigSlot(1, "MIG-aaaaaaaa-bbbb-5ccc-8ddd-eeeeeeeeeee1", 2, 0),
        ),
    ),
    GpuSlot(2, None, "NVIDIA L4"),
]
ALL_UNITS = {(0, None), (1, 0), (1, 1), (2, None)}
ENTRY = st.one_of(
    st.text(max_size=8),
    st.integers(-3, 5).map(str),
    st.sampled_from(["GPU-", "MIG-", "GPU-0000", "GPU-1111", "MIG-aaaaaaaa", "none", " 1 ", "0x1"]),
    st.sampled_from(
        [s.uuid for s in MULTI if s.uuid] + [m.uuid for m in MULTI[1].mig or () if m.uuid]
    ),
)


@given(
    st.lists(ENTRY, max_size=6).map(",".join), st.sampled_from([None, "all", "none", MULTI[0].uuid])
)
def test_any_value_gives_a_subset_without_repeats_and_never_raises(
    value: str, nvidia: str | None
) -> None:
    environ = {"CUDA_VISIBLE_DEVICES": value}
    if nvidia is not None:
        environ["NVIDIA_VISIBLE_DEVICES"] = nvidia
    selection = select(MULTI, environ)
    assert set(selection.units) <= ALL_UNITS
    assert len(set(selection.units)) == len(selection.units)
    assert all(isinstance(note, str) for note in selection.notes)


@given(st.lists(st.integers(0, 3), min_size=1, max_size=6), st.text(max_size=6))
def test_a_repeated_ordinal_leaves_no_device_and_a_clean_list_is_kept_in_order(
    ordinals: list[int], tail: str
) -> None:
    value = ",".join(str(o) for o in ordinals)
    units = select(FOUR, {"CUDA_VISIBLE_DEVICES": value}).gpu_indices()
    if len(set(ordinals)) < len(ordinals):
        assert units == []
    else:
        assert units == ordinals
        # anything after a negative entry is never read
        assert (
            select(FOUR, {"CUDA_VISIBLE_DEVICES": f"{value},-1,{tail}"}).gpu_indices() == ordinals
        )


# --- real hardware ---------------------------------------------------------------------------


@pytest.mark.gpu
def test_real_gpu_visibility(real_gpu: None, monkeypatch: pytest.MonkeyPatch) -> None:
    everything = detect(refresh=True)
    first = everything.devices[0]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert detect().status == "no-devices"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", str(first.uuid))
    assert [d.uuid for d in detect().devices] == [first.uuid]
