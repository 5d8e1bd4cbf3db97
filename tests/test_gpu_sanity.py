"""labadvisor/gpu/sanity.py: memory figures NVML contradicts itself on make free memory
unknown, with a note, in detect(), the sampler and the advice built on them."""

from __future__ import annotations

import json

import pytest
from fake_nvml import GiB, a100_mig, l4
from gpu_fixtures import InstallFake

from labadvisor import advise_runtime
from labadvisor.gpu import detect, sample
from labadvisor.gpu.sanity import check_memory

pytestmark = pytest.mark.usefixtures("real_nvml")

TOTAL = 80 * GiB
WRAPPED = 2**64 - GiB  # what free becomes when NVML says used is 1 GiB above total


@pytest.mark.parametrize(
    ("used", "free"),
    [
        (TOTAL + GiB, WRAPPED),  # used > total (free wrapped round)
        (GiB, TOTAL + 1),  # free > total
        (40 * GiB, 41 * GiB),  # used + free > total by far more than rounding
        (-1, TOTAL),  # negative
        (GiB, -5),
    ],
)
def test_figures_that_cannot_all_be_true_make_free_unknown(used: int, free: int) -> None:
    checked = check_memory(TOTAL, used, free)
    assert checked.free is None
    assert checked.problem is not None and "free memory is treated as unknown" in checked.problem
    assert checked.total == TOTAL


@pytest.mark.parametrize(
    ("used", "free"),
    [
        (GiB, TOTAL - GiB),
        (GiB, TOTAL - GiB + 8 * 1024**2),  # a few MiB over: rounding
        (0, TOTAL),
        (TOTAL, 0),
        (GiB, 60 * GiB),  # less than total: the rest is reserved by the driver
        (None, None),
    ],
)
def test_consistent_figures_pass_unchanged(used: int | None, free: int | None) -> None:
    assert check_memory(TOTAL, used, free) == (TOTAL, used, free, None)


def test_used_above_total_is_dropped_too() -> None:
    checked = check_memory(TOTAL, TOTAL + GiB, WRAPPED)
    assert checked.used is None and checked.free is None
    assert "18,446,744,072.6 GB free" in str(checked.problem)


def test_detect_reports_unknown_free_memory_with_a_note(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(memory_used=30 * GiB)])  # more than the L4's 22.5 GiB
    report = detect()
    (device,) = report.devices
    assert device.memory_free is None and device.memory_total == 23034 * 1024**2
    (note,) = device.notes
    assert "cannot all be true" in note
    assert device.unavailable["memory_free"] == note
    assert note in str(report) and "free memory is treated as unknown" in report._repr_html_()
    assert json.loads(json.dumps(report.to_dict()))["devices"][0]["notes"] == [note]
    assert "free" not in report.message  # no "(18 EB free)"


def test_a_mig_instance_with_impossible_figures_gets_the_note(fake_nvml: InstallFake) -> None:
    a100 = a100_mig(0, instances=1)
    a100.mig[0].memory_used = a100.mig[0].memory_total + GiB
    fake_nvml([a100])
    (mig,) = detect().devices[0].mig_devices
    assert mig.memory_free is None and mig.notes and "memory_free" in mig.unavailable


def test_a_5000_gb_model_does_not_fit_a_gpu_nvml_misreports(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(memory_used=30 * GiB)])
    advice = advise_runtime(5000, gpu="auto")
    assert advice.gpu is not None and advice.gpu.free_gb is None
    assert advice.fit_margin_gb is None
    assert advice.choice != "local-gpu"


def test_the_sampler_checks_the_same_way(fake_nvml: InstallFake) -> None:
    fake_nvml([l4(memory_used=30 * GiB)])
    (reading,) = sample(interval=0).devices
    assert reading.memory_free is None and reading.memory_used is None
    assert reading.notes and json.dumps(reading.to_dict())
