"""labadvisor/gpu/report.py: the report's choice of best device and its views (dict, text,
HTML, frame), over reports the fake NVML produces."""

from __future__ import annotations

import json

import pytest
from fake_nvml import GiB, a100_mig, l4
from gpu_fixtures import InstallFake

from labadvisor.gpu import GpuDevice, GpuReport, detect

# Every test starts from the real pynvml, nothing cached and no visibility variable set.
pytestmark = pytest.mark.usefixtures("real_nvml")


# --- best device -----------------------------------------------------------------------------


def test_best_device_has_most_free_memory_and_first_wins_a_tie(
    fake_nvml: InstallFake,
) -> None:
    fake_nvml([l4(0, memory_used=10 * GiB), l4(1, memory_used=1 * GiB), l4(2, memory_used=1 * GiB)])
    best = detect().best_device()
    assert best is not None and best.index == 1
    assert best.memory_free == 23034 * 1024**2 - 1 * GiB


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
    # A sentence first (issue 13), the status still named.
    assert text.startswith("This kernel can use 2 GPU units: ") and "(status: ok)." in text
    assert "driver 550.54.15, CUDA 12.4" in text
    assert "GPU 0 MIG 1: NVIDIA A100-SXM4-40GB MIG 3g.20gb" in text
    assert "GPU 1: NVIDIA <L4> & co  23.8 GB free of 24.2 GB  util 7%  cc 8.9" in text
    page = report._repr_html_()
    assert "NVIDIA &lt;L4&gt; &amp; co" in page and "<L4>" not in page
    assert page.count("<tr>") == 1 + 1 + 2 + 1  # header, A100, two MIG rows, L4


def test_failure_reprs_mention_the_status() -> None:
    report = detect(refresh=True)
    first = str(report).splitlines()[0]
    assert first.startswith("This kernel ") and first.endswith(f"(status: {report.status}).")
    assert report.message.rstrip(".") in first
    assert f"(status: {report.status})" in report._repr_html_()


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
